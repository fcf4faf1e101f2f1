"""`python -m reglab train|eval|report ...`: the console scripts reglab-train, reglab-eval
and reglab-report as subcommands of one module."""

import sys

USAGE = (
    "usage: python -m reglab {train,eval,report} [arguments]\n"
    "  train   train and test one configuration (-m: a sweep), as reglab-train\n"
    "  eval    evaluate a checkpoint (ckpt_path=...), as reglab-eval\n"
    "  report  (re)build a sweep folder's report, as reglab-report"
)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        sys.exit(2 if not args else 0)
    command, rest = args[0], args[1:]
    from reglab.app import cli

    entries = {"train": cli.train, "eval": cli.evaluate, "report": cli.report}
    if command not in entries:
        print(f"python -m reglab: unknown command {command!r}\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    # Hydra and argparse read sys.argv: the subcommand's arguments, as its console script sees
    sys.argv = [sys.argv[0], *rest]
    entries[command]()


if __name__ == "__main__":
    main()
