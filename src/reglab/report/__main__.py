"""`python -m reglab.report <sweep dir>`: (re)build a sweep's summary, figures and report."""

import argparse
import sys

from reglab.report.build import build_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reglab.report", description=__doc__)
    parser.add_argument("sweep_dir", help="a multirun folder (one subfolder per job)")
    args = parser.parse_args(argv)
    written = build_report(args.sweep_dir)
    if not written:
        print(f"no jobs found in {args.sweep_dir} (looked for */.hydra/overrides.yaml)")
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
