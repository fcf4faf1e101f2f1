"""`python -m reglab train|eval|report ...`: the console scripts reglab-train, reglab-eval
and reglab-report as subcommands of one module (a thin entry point, as train.py)."""

if __name__ == "__main__":
    from reglab.app.cli import module_main
    from reglab.app.process_entry import run_command

    run_command(module_main)
