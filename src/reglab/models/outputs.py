"""What a built model must give back, checked once after it is built, before anything trains.

A batch of two zero inputs of the data set's `in_shape` goes through the model: its output
must be one floating-point tensor of shape (2, num_outputs) that gradients reach, and the
model must have parameters to train. A model with 11 outputs for 10 classes trains without
a word otherwise (the 11th class is never a target), and a regression model with outputs of
shape (N,) against targets of shape (N, 1) broadcasts to an (N, N) loss: quietly wrong
numbers, so each is a one-line error here.
"""

import math
import os
import traceback
from collections.abc import Sequence

import torch
from torch import nn

from reglab.config.errors import ConfigError

PROBE_BATCH = 2  # two samples: batch norm in eval mode and any reshape by batch size work


def _expected(num_outputs: int, task: str | None) -> str:
    if task == "classification":
        return f"{num_outputs} outputs for {num_outputs} classes"
    if task == "regression":
        return f"{num_outputs} output(s), one per regression target"
    return f"{num_outputs} outputs"


def _where(exc: BaseException) -> str:
    """` at <file>:<line>`: the last frame of the failure outside torch (the model's own
    code, where the fix goes), or nothing."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f"{os.sep}torch{os.sep}" not in f.filename and f.filename != __file__
    ]
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def check_outputs(
    net: nn.Module, in_shape: Sequence[int], num_outputs: int, task: str | None, label: str
) -> None:
    """Raises ConfigError naming `label` (e.g. `model._target_=my_pkg.Net`) and the fix when
    the model cannot train on this data set. The random state is left untouched, so a run
    draws the same numbers with and without the check."""
    shape = (PROBE_BATCH, *in_shape)
    want = (PROBE_BATCH, num_outputs)
    fix = (
        f"Fix: its forward must return one tensor of shape (N, {num_outputs}) (take "
        f"`num_outputs` in the constructor: reglab passes {num_outputs})"
    )
    was_training = net.training
    net.eval()  # no dropout draws, no running statistics updated
    try:
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            outputs = net(torch.zeros(shape))
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ConfigError(
            f"{label}: its forward fails on a batch of inputs of shape {shape} (the data "
            f"set's in_shape {tuple(in_shape)}){_where(exc)}: {type(exc).__name__}: {reason}"
        ) from None
    finally:
        net.train(was_training)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    if trainable == 0:
        raise ConfigError(
            f"{label} has no trainable parameters: nothing to train. Fix: give it layers with "
            "parameters (nn.Linear, nn.Conv2d, ...), not frozen ones"
        )
    if not isinstance(outputs, torch.Tensor):
        raise ConfigError(
            f"{label}: its forward returns a {type(outputs).__name__}, not a tensor; reglab "
            f"needs {_expected(num_outputs, task)}. {fix}, e.g. the logits only"
        )
    if tuple(outputs.shape) != want:
        per_sample = math.prod(outputs.shape[1:]) if outputs.dim() > 0 else 0
        got = f"shape {tuple(outputs.shape)}"
        if outputs.dim() == 2 and len(outputs) == PROBE_BATCH:
            got = f"{per_sample} outputs"
        raise ConfigError(
            f"{label} gives {got} for a batch of {PROBE_BATCH}; this data set needs "
            f"{_expected(num_outputs, task)} (shape {want}). {fix}"
        )
    if not outputs.is_floating_point():
        raise ConfigError(
            f"{label}: its forward returns {outputs.dtype} outputs; a loss needs floating-point "
            "outputs. Fix: return the layer's outputs, not class indices (no argmax)"
        )
    if not outputs.requires_grad:
        raise ConfigError(
            f"{label}: its outputs do not depend on its trainable parameters (no gradient "
            "reaches them): nothing would train. Fix: no torch.no_grad() or .detach() in forward"
        )
