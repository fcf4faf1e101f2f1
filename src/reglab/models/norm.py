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


# The layer of each norm kind: for feature maps (N, C, H, W) and for features (N, F).
# "layer" on maps is GroupNorm with one group (over C, H, W); instance norm needs maps.
CONV_NORMS = {
    "batch": nn.BatchNorm2d,
    "layer": lambda channels, groups: nn.GroupNorm(1, channels),
    "group": lambda channels, groups: nn.GroupNorm(groups, channels),
    "instance": lambda channels, groups: nn.InstanceNorm2d(channels, affine=True),
}
DENSE_NORMS = {
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
    "group": lambda features, groups: nn.GroupNorm(groups, features),
}


def _norm(kinds: dict, kind: NormKind, size: int, groups: int) -> list[nn.Module]:
    if kind == "none":
        return []
    if kind not in kinds:
        raise ValueError("instance norm needs feature maps (conv layers)")
    make = kinds[kind]
    return [make(size) if isinstance(make, type) else make(size, groups)]


def conv_norm(kind: NormKind, channels: int, groups: int) -> list[nn.Module]:
    return _norm(CONV_NORMS, kind, channels, groups)


def dense_norm(kind: NormKind, features: int, groups: int) -> list[nn.Module]:
    return _norm(DENSE_NORMS, kind, features, groups)
