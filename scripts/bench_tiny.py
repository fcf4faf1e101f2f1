"""Tiny full-batch problems: reglab's training path vs a plain PyTorch loop, in one process.

  toy1d  the course's 1-200-200-200-1 MLP on 10 points, SGD lr 0.01 momentum 0.9, weight
         decay 1e-2, 2,000 full-batch steps, test loss every 20 steps
         (`experiment=toy1d_weight_decay regularizer.weight_decay=0.01`)
  poly   d2l 4.4's right fit: 4 features, bias-free linear model, SGD lr 0.01, batch 10,
         400 epochs of 10 steps, test loss every 20 epochs as d2l
         (`experiment=poly_fit +case/poly_fit=right`)

(a) is the sum of reglab's per-epoch times (`epoch_s` in metrics.csv: training and
validation, what Lightning runs per epoch); the whole run with start-up, test and plots is
printed beside it. (b) does the same steps and evaluations by hand. A bare LightningModule
doing the same shows how much of the gap is Lightning's loop itself. Last line:
`ratio_vs_plain=<worst a/b> toy1d=<a/b> poly=<a/b>`.

    python scripts/bench_tiny.py [--workload toy1d|poly|both] [--rounds 2]
"""

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from reglab.app.job import run  # noqa: E402
from reglab.config.compose import compose_config, option  # noqa: E402
from reglab.data.synthetic import PolyConfig, Toy1DConfig, poly_data, toy1d_data  # noqa: E402

WORKLOADS = {
    "toy1d": ["experiment=toy1d_weight_decay", "regularizer.weight_decay=0.01"],
    "poly": ["experiment=poly_fit", "+case/poly_fit=right"],
}


def reglab_time(workload: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose_config([*WORKLOADS[workload], "logger=csv"], Path(tmp) / "run")
        start = time.perf_counter()
        run(cfg)
        whole = time.perf_counter() - start
        with open(Path(tmp) / "run" / "metrics.csv") as f:
            fit = sum(float(row["epoch_s"]) for row in csv.DictReader(f))
    return fit, whole


def bare_lightning(net, optimizer, x, y, x_test, y_test, epochs, batch, eval_every) -> float:
    """The same steps through a minimal LightningModule: Lightning's own share of the time."""
    import lightning as L

    from reglab.data.loader import TensorBatchLoader

    class Bare(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = net

        def training_step(self, batch, batch_idx):
            return nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def validation_step(self, batch, batch_idx):
            nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return optimizer

    trainer = L.Trainer(
        max_epochs=epochs,
        check_val_every_n_epoch=eval_every,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(Bare(), TensorBatchLoader(x, y, batch), TensorBatchLoader(x_test, y_test, 1024))
    return time.perf_counter() - start


def plain_loop(net, optimizer, x, y, x_test, y_test, epochs, batch, eval_every) -> float:
    loss_fn = nn.MSELoss()
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        for i in range(0, len(x), batch):
            loss = loss_fn(net(x[i : i + batch]), y[i : i + batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if (epoch + 1) % eval_every == 0:
            net.eval()
            with torch.no_grad():
                loss_fn(net(x_test), y_test).item()
    return time.perf_counter() - start


def plain_time(workload: str, loop=plain_loop) -> float:
    torch.manual_seed(0)
    if workload == "toy1d":
        s = toy1d_data(Toy1DConfig(**option("dataset", "toy1d")))
        layers, width = [], 1
        for _ in range(3):
            layers += [nn.Linear(width, 200), nn.ReLU()]
            width = 200
        net = nn.Sequential(*layers, nn.Linear(200, 1))
        decay = [m.weight for m in net if isinstance(m, nn.Linear)]
        others = [m.bias for m in net if isinstance(m, nn.Linear)]
        groups = [{"params": decay, "weight_decay": 0.01}, {"params": others}]
        optimizer = torch.optim.SGD(groups, lr=0.01, momentum=0.9)
        return loop(net, optimizer, s.x_train, s.y_train, s.x_test, s.y_test, 2000, 10, 20)
    features, labels, _ = poly_data(PolyConfig(**option("dataset", "poly")))
    x, y = features[:100, :4], labels[:100]
    x_test, y_test = features[100:, :4], labels[100:]
    net = nn.Sequential(nn.Linear(4, 1, bias=False))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    return loop(net, optimizer, x, y, x_test, y_test, 400, 10, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=["toy1d", "poly", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=2, help="alternating repeats (noise)")
    args = parser.parse_args()
    names = ["toy1d", "poly"] if args.workload == "both" else [args.workload]
    ratios = {}
    for name in names:
        plain, bare, fit, whole = [], [], [], []
        for _ in range(args.rounds):
            plain.append(plain_time(name))
            bare.append(plain_time(name, loop=bare_lightning))
            a, w = reglab_time(name)
            fit.append(a)
            whole.append(w)
        a, b, c = statistics.median(fit), statistics.median(plain), statistics.median(bare)
        ratios[name] = a / b
        print(
            f"{name}: (a) reglab {a:.3f} s of epochs (whole run {statistics.median(whole):.2f} s "
            f"incl. start-up, test, plots)  (b) plain loop {b:.3f} s  a/b {a / b:.2f}\n"
            f"    where the time goes: bare Lightning (no callbacks, loggers or metrics) "
            f"{c:.3f} s = {c / b:.2f} x plain; reglab adds {a - c:.3f} s = {a / c:.2f} x bare"
        )
    detail = " ".join(f"{name}={ratio:.3f}" for name, ratio in ratios.items())
    print(f"ratio_vs_plain={max(ratios.values()):.3f} {detail}")


if __name__ == "__main__":
    main()
