"""`python -m reglab.report <sweep dir>`: (re)build a sweep's summary, figures and report."""

import argparse
import sys
from pathlib import Path

from reglab.extras.command import program
from reglab.report.build import build_report
from reglab.run_folder import RunFolder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=program("report"), description=__doc__)
    parser.add_argument("sweep_dir", help="a multirun folder (one subfolder per job)")
    parser.add_argument(
        "--wandb-report",
        metavar="ENTITY/PROJECT",
        help="also build a W&B Report of the sweep's runs (wandb-workspaces)",
    )
    parser.add_argument(
        "--save", action="store_true", help="publish the W&B Report (needs W&B credentials)"
    )
    args = parser.parse_args(argv)
    run = RunFolder(Path(args.sweep_dir))
    if run.holds_run() or run.enclosing_run() is not None:
        print(
            f"{args.sweep_dir} is a run's folder, not a sweep's: a run folder is written only by "
            "its run. Give a multirun folder (python train.py -m ...: logs/train/multiruns/...)",
            file=sys.stderr,
        )
        return 1
    written = build_report(args.sweep_dir)
    if not written:
        print(f"no jobs found in {args.sweep_dir} (looked for */.hydra/overrides.yaml)")
        return 1
    for path in written:
        print(path)
    if args.wandb_report:
        from reglab.report.wandb_report import build_wandb_report, describe

        report = build_wandb_report(args.sweep_dir, args.wandb_report)
        print("\n".join(describe(report)))
        if not args.save:
            print("Not saved: add --save to publish it.")
        else:
            try:
                report.save()
            except Exception as exc:  # no credentials or no network: say so, briefly
                print(f"Could not save the W&B Report: {exc}", file=sys.stderr)
                return 1
            print(f"Saved: {report.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
