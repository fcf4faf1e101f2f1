"""`python train.py --help` lists the groups and options from the config folders (fast),
a user's --config-dir included."""

import sys

from reglab.app.help import help_text


def test_help_lists_every_group_and_the_users_own(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "my_net.yaml").write_text("_target_: my_pkg.MyNet\n")
    text = help_text("train", ["--config-dir", str(tmp_path), "--help"])
    lines = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    assert lines["model"] == "lenet, lenet_bn, linear, mlp, my_net"
    assert "dropout" in lines["regularizer"].split(", ")
    assert "ddp_cpu" in lines["hardware"].split(", ")
    assert "--cfg job" in text


def test_the_command_line_prints_it(monkeypatch, capsys):
    from reglab.app import cli

    monkeypatch.setattr(sys, "argv", ["train.py", "--help"])
    cli.train()
    assert "regularizer: augment, batch_norm" in capsys.readouterr().out
