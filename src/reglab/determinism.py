"""Deterministic algorithms, without filling every new tensor with NaN.

`hardware.deterministic` (on by default on CPU, so that a resumed run matches an uninterrupted
one) makes Lightning call `torch.use_deterministic_algorithms(True)`, which also fills the
memory of every new tensor with NaN (`torch.utils.deterministic.fill_uninitialized_memory`):
a debugging aid against kernels that read memory they never wrote, not part of what makes a
result reproducible. Every kernel reglab calls writes all it allocates, and the fill is not
free: on the d2l dropout table's 9-job pack it filled two tensors the size of a batch of
inputs at every step (the images converted to float, the first layer's weight gradient),
~6% of an epoch. Results are the same bits with and without it (the equivalence and resume
tests compare them exactly)."""

import torch.utils.deterministic


def keep_new_memory_unfilled() -> None:
    """New tensors are not filled with NaN under deterministic algorithms (set once per
    process, before the Trainer turns them on)."""
    torch.utils.deterministic.fill_uninitialized_memory = False
