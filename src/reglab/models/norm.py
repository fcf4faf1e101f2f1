"""Normalization layers (`model.norm`), the course's normalization-layers lesson.

batch:    BatchNorm over the batch (per channel / feature)
layer:    LayerNorm over each sample's features; for conv maps GroupNorm with one group, i.e.
          normalised over (C, H, W) with a per-channel scale and shift
group:    GroupNorm with `model.norm_groups` groups
instance: InstanceNorm2d (per sample and channel); conv layers only
"""

from torch import nn

from reglab.models.config import NormKind

NORMS: tuple[str, ...] = ("none", "batch", "layer", "group", "instance")


def conv_norm(kind: NormKind, channels: int, groups: int) -> list[nn.Module]:
    if kind == "none":
        return []
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "layer":
        return [nn.GroupNorm(1, channels)]
    if kind == "group":
        return [nn.GroupNorm(groups, channels)]
    return [nn.InstanceNorm2d(channels, affine=True)]


def dense_norm(kind: NormKind, features: int, groups: int) -> list[nn.Module]:
    if kind == "none":
        return []
    if kind == "batch":
        return [nn.BatchNorm1d(features)]
    if kind == "layer":
        return [nn.LayerNorm(features)]
    if kind == "group":
        return [nn.GroupNorm(groups, features)]
    raise ValueError("instance norm needs feature maps (conv layers)")
