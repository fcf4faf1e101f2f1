"""`python -m reglab.report <sweep dir>`: (re)build a sweep's comparison figures."""

import argparse
import sys

from reglab.report.compare import compare_jobs
from reglab.report.jobs import load_jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reglab.report", description=__doc__)
    parser.add_argument("sweep_dir", help="a multirun folder (one subfolder per job)")
    args = parser.parse_args(argv)
    jobs = load_jobs(args.sweep_dir)
    if not jobs:
        print(f"no jobs found in {args.sweep_dir} (looked for */.hydra/overrides.yaml)")
        return 1
    for path in compare_jobs(jobs, args.sweep_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
