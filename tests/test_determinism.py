"""Deterministic algorithms (hardware=cpu's default) without NaN-filled new tensors
(reglab.determinism)."""

import torch
import torch.utils.deterministic

from .conftest import run_main


def test_a_deterministic_run_leaves_new_tensors_unfilled(tmp_path):
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
    )
    torch.use_deterministic_algorithms(False)
    torch.utils.deterministic.fill_uninitialized_memory = True  # torch's default
    try:
        done = run_main(
            [
                "dataset=toy1d",
                "model=mlp",
                "model.hidden=[8]",
                "trainer.max_epochs=1",
                "logger=csv",
                f"hydra.run.dir={tmp_path / 'run'}",
            ]
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert torch.are_deterministic_algorithms_enabled()  # hardware=cpu: deterministic
        assert torch.utils.deterministic.fill_uninitialized_memory is False
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.utils.deterministic.fill_uninitialized_memory = saved[1]
