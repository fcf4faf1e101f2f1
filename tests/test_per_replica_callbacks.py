"""The callbacks written once for a single run and stacked replicas (reglab.callbacks.per_replica):
early stopping is Lightning's rule, per replica; the divergence guard's rule finds each
replica's first bad step; each replica's metrics.csv is written while the stack trains."""

import csv
import json
import math
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping
from lightning.pytorch.trainer.states import TrainerFn

from reglab.app.job import run
from reglab.callbacks.divergence import first_bad_step
from reglab.callbacks.early_stopping import EarlyStopping
from reglab.config.compose import compose_config
from reglab.config.errors import ConfigError

NAN = math.nan
SEQUENCES = [  # a monitored value per validation
    [1.0, 0.9, 0.95, 0.97, 0.96, 0.5, 0.4],
    [1.0, 0.995, 0.992, 0.991, 0.9, 0.89, 0.88],  # improvements below min_delta
    [1.0, 0.8, NAN, 0.7, 0.6, 0.5, 0.4],  # not finite: stops at once
    [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01],  # never stops
]


class Scripted(L.LightningModule):
    """Logs `values[epoch]` as val/x after each epoch's (tiny) training."""

    def __init__(self, values):
        super().__init__()
        self.values, self.w = values, torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        return (self.w - 1).pow(2).sum()

    def validation_step(self, batch, batch_idx):
        self.log("val/x", torch.tensor(self.values[self.current_epoch]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return [torch.zeros(1)]

    def val_dataloader(self):
        return [torch.zeros(1)]


def _fit(values, callback) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=len(values),
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(Scripted(values))
    return trainer


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("values", SEQUENCES)
def test_one_replica_stops_where_lightnings_early_stopping_stops(values, mode):
    if mode == "max":
        values = [-v for v in values]
    options = {"monitor": "val/x", "patience": 2, "min_delta": 0.01, "mode": mode}
    theirs = LightningEarlyStopping(**options, check_on_train_epoch_end=False)
    ours = EarlyStopping(**options)
    a, b = _fit(values, theirs), _fit(values, ours)
    assert b.current_epoch == a.current_epoch
    record = ours.record()
    stopped = theirs.stopped_epoch > 0
    assert record["stopped"] == stopped
    if stopped:
        assert record["stopped_epoch"] == theirs.stopped_epoch + 1
        assert record["reason"] == theirs.stopping_reason_message
    assert record["best"] == pytest.approx(float(theirs.best_score))


class Stack:
    """What a stack of replicas shows the callbacks (reglab.callbacks.per_replica)."""

    def __init__(self, n):
        self.num_replicas, self.values = n, {}
        self.active = torch.ones(n, dtype=torch.bool)

    def replica_values(self):
        return self.values

    def replicas_recording(self):
        return self.active.clone()

    def stop_replicas(self, stop):
        self.active &= ~stop


def test_each_replica_stops_at_the_epoch_its_single_run_stops():
    stack, ours = Stack(len(SEQUENCES)), EarlyStopping("val/x", patience=2, min_delta=0.01)
    trainer = SimpleNamespace(
        state=SimpleNamespace(fn=TrainerFn.FITTING), sanity_checking=False, fast_dev_run=False
    )
    for epoch in range(len(SEQUENCES[0])):
        trainer.current_epoch = epoch
        stack.values = {"val/x": torch.tensor([s[epoch] for s in SEQUENCES])}
        ours.on_validation_end(trainer, stack)
    for k, values in enumerate(SEQUENCES):
        alone = EarlyStopping("val/x", patience=2, min_delta=0.01)
        _fit(values, alone)
        assert ours.record(k) == alone.record()
    assert stack.active.tolist() == [not ours.record(k)["stopped"] for k in range(len(SEQUENCES))]
    assert stack.active.tolist() == [False, False, False, True]


def test_early_stopping_names_a_monitor_the_run_does_not_log():
    with pytest.raises(ConfigError, match=r"monitor=val/nope .*val/x"):
        _fit([1.0, 2.0], EarlyStopping("val/nope"))


def test_the_guard_finds_each_replicas_first_bad_step():
    losses = torch.tensor(
        [
            [1.0, 1.0, 1.0, math.inf],
            [1.0, 1.0, 1.0, 1.0],
            [NAN, 1.0, 1.0, 1.0],
        ]
    )  # (steps, replicas)
    norms = torch.tensor([[1.0, 1.0, 1.0, 9.0], [1.0, 5.0, 1.0, 1.0], [9.0, 9.0, 1.0, 1.0]])
    index, value, kind = first_bad_step(losses, norms, bound=4.0)
    assert index.tolist() == [2, 1, 3, 0]  # 3: no bad step
    assert kind.tolist()[:2] == [0, 1] and kind[3] == 0  # the loss counts first
    assert math.isnan(value[0]) and value[1] == 5.0 and value[3] == math.inf
    index, _, _ = first_bad_step(losses, norms, bound=None)  # no bound: losses only
    assert index.tolist() == [2, 3, 3, 0]


def _csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_each_replicas_metrics_csv_is_written_while_the_stack_trains(tmp_path, monkeypatch):
    """The replicas' rows reach their folders as a single run's do (not after training), so a
    killed run keeps them and a person can watch them."""
    from reglab.replicas.batches import ReplicaBatches

    seen = {}
    epoch_batches = ReplicaBatches.epoch

    def watching(self, epoch):
        if epoch == 3:  # the 4th epoch: three rows are on disk
            seen.update({s: _csv_rows(tmp_path / f"seed_{s}" / "metrics.csv") for s in (0, 1)})
        yield from epoch_batches(self, epoch)

    monkeypatch.setattr(ReplicaBatches, "epoch", watching)
    overrides = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=csv", "seeds=2"]
    overrides += ["seed=0", "trainer.max_epochs=5", "+callbacks.epoch_metrics.write_every_s=0"]
    run(compose_config(overrides, tmp_path))
    assert [len(seen[s]) for s in (0, 1)] == [3, 3]
    assert [r["epoch"] for r in seen[0]] == ["1", "2", "3"]
    assert seen[0][0]["train/loss"] != seen[1][0]["train/loss"]  # each replica its own
    final = _csv_rows(tmp_path / "seed_0" / "metrics.csv")
    assert final[:3] == seen[0] and len(final) == 5


def test_a_train_metric_stops_a_replica_where_its_single_run_stops(tmp_path):
    """A train/ monitor is read after each training epoch (validation every 3rd epoch here),
    the epoch's own value in both: a single run's module publishes it in its epoch-end hook,
    before Lightning calls early stopping."""
    overrides = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=csv"]
    overrides += ["regularizer=early_stopping", "regularizer.early_stopping.monitor=train/loss"]
    overrides += [
        "regularizer.early_stopping.patience=2",
        "regularizer.early_stopping.min_delta=0.01",
    ]
    overrides += ["trainer.max_epochs=60", "trainer.check_val_every_n_epoch=3"]
    stack = run(compose_config([*overrides, "seeds=2", "seed=42"], tmp_path / "stack"))
    assert stack["status"] == "completed"
    for seed in (42, 43):
        single = run(compose_config([*overrides, f"seed={seed}"], tmp_path / f"single{seed}"))
        replica = tmp_path / "stack" / f"seed_{seed}" / "metrics.json"
        mine = json.loads(replica.read_text())
        assert single["early_stopping"]["stopped"]
        assert mine["early_stopping"]["stopped_epoch"] == single["early_stopping"]["stopped_epoch"]
        assert mine["epochs"] == single["epochs"]


class Taking:
    """A logger that records what it is given; Ctrl-C once, as it takes step `interrupt_at`."""

    def __init__(self, interrupt_at: int | None = None):
        self.steps: list[int] = []
        self.interrupt_at = interrupt_at

    def log_metrics(self, metrics: dict, step: int) -> None:
        self.steps.append(step)
        if step == self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt


def test_replica_loggers_send_each_row_once_even_when_interrupted(tmp_path):
    """Each replica's rows reach its own loggers, in order, once each: a Ctrl-C while a
    logger takes a row does not make the rows sent after it (the interrupted run's last
    rows) repeat it; rewinding the rows to a checkpoint sends nothing."""
    from reglab.callbacks.epoch_metrics import EpochMetricsWriter
    from reglab.callbacks.replica_loggers import ReplicaLoggers

    writer = EpochMetricsWriter(tmp_path, replica_dirs=[tmp_path / "a", tmp_path / "b"])
    rows = [{"epoch": e, "step": 10 * e, "train/loss": 1.0 / e} for e in (1, 2, 3)]
    writer.rows_by_replica = [list(rows), list(rows)]
    loggers = [Taking(), Taking(interrupt_at=20)]
    sending = ReplicaLoggers(writer, [[loggers[0]], [loggers[1]]])
    with pytest.raises(KeyboardInterrupt):
        sending.send()
    sending.send()  # what on_exception sends
    assert loggers[0].steps == loggers[1].steps == [10, 20, 30]
    writer.rows_by_replica = [rows[:2], rows[:2]]  # rewound to the checkpoint after epoch 2
    sending.send()
    assert loggers[0].steps == loggers[1].steps == [10, 20, 30]


def test_the_writer_s_checkpoints_hold_every_row_each_encoded_once(tmp_path, monkeypatch):
    """Each checkpoint holds every replica's rows so far, exact (floats, NaN); a replica that
    stopped recording has fewer; rows are JSON-encoded per checkpoint, not per row; a writer
    loaded from a checkpoint goes on from its rows."""
    import json
    import math

    from reglab.callbacks import epoch_metrics
    from reglab.callbacks.epoch_metrics import EpochMetricsWriter, _tensor_text

    calls = []
    dumps = json.dumps
    monkeypatch.setattr(epoch_metrics.json, "dumps", lambda v: calls.append(1) or dumps(v))

    def rows_of(state: dict) -> list[list[dict]]:
        return [json.loads(_tensor_text(text)) for text in state["rows_json"]]

    def row(epoch: int) -> dict:
        return {"epoch": epoch, "train/loss": 1.0 / 3.0**epoch, "val/loss": math.nan}

    writer = EpochMetricsWriter(tmp_path, replica_dirs=[tmp_path / "a", tmp_path / "b"])
    states = []
    for epoch in range(1, 6):
        writer.rows_by_replica[0].append(row(epoch))
        if epoch <= 3:  # replica b stops after epoch 3
            writer.rows_by_replica[1].append(row(epoch))
        if epoch in (2, 5):
            states.append(writer.state_dict())
    assert len(calls) == 4  # two replicas x two checkpoints
    for state, epochs in zip(states, (2, 5), strict=True):
        a, b = rows_of(state)
        assert [r["epoch"] for r in a] == list(range(1, epochs + 1))
        assert [r["epoch"] for r in b] == list(range(1, min(epochs, 3) + 1))
        assert [r["train/loss"] for r in a] == [1.0 / 3.0**e for e in range(1, epochs + 1)]
        assert all(math.isnan(r["val/loss"]) for r in a + b)
    resumed = EpochMetricsWriter(tmp_path, replica_dirs=[tmp_path / "a", tmp_path / "b"])
    resumed.load_state_dict(states[0])  # back to epoch 2, then on
    resumed.rows_by_replica[0].append(row(3))
    a, b = rows_of(resumed.state_dict())
    assert [r["epoch"] for r in a] == [1, 2, 3] and [r["epoch"] for r in b] == [1, 2]
    resumed.rows_by_replica[0] = [row(1)]  # rows replaced by fewer
    assert [r["epoch"] for r in rows_of(resumed.state_dict())[0]] == [1]
