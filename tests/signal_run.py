"""`python tests/signal_run.py WHEN SIGNAL MARKER <train.py overrides>`: train.py, sending
itself SIGNAL once (the MARKER file keeps a second run alive) at a point no Lightning callback
reaches:

- `startup`: while the data are loaded (a run folder exists, nothing is trained);
- `epoch:E`: in the `seeds=N` loop, after the first step of epoch E (0-based), i.e. mid-epoch
  with E epochs completed.
"""

import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def _send(name: str, marker: Path) -> None:
    if marker.exists():
        return
    marker.touch()
    if name == "SIGINT":  # Ctrl-C as from a terminal, even if the parent ignored SIGINT
        signal.signal(signal.SIGINT, signal.default_int_handler)
    os.kill(os.getpid(), getattr(signal, name))


def main() -> None:
    when, name, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    del sys.argv[1:4]
    if when == "startup":
        import reglab.app.train as train_module

        build_data = train_module.build_data

        def interrupted_build_data(settings):
            _send(name, marker)
            return build_data(settings)

        train_module.build_data = interrupted_build_data
    else:
        from reglab.replicas.batches import ReplicaBatches

        at = int(when.split(":")[1])
        batches = ReplicaBatches.epoch

        def interrupted_epoch(self, epoch):
            for i, batch in enumerate(batches(self, epoch)):
                yield batch
                if epoch == at and i == 0:  # the epoch's first step is done
                    _send(name, marker)

        ReplicaBatches.epoch = interrupted_epoch

    from reglab.app.cli import train

    train()


if __name__ == "__main__":
    main()
