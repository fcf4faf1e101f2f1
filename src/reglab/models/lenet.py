"""LeNet-5 (`model=lenet`) and the course's LeNet-BN (`model=lenet_bn`).

conv 5x5 (6) -> [norm] -> [conv dropout] -> act -> pool -> conv 5x5 (16) -> [norm]
-> [conv dropout] -> act -> pool
-> fc 120 -> [norm] -> act -> [dropout] -> fc 84 -> act -> [dropout] -> fc classes

The first conv is padded by 2 on 28x28 inputs (d2l 6.6), so both 1x28x28 and 3x32x32 inputs
reach the classifier as 16x5x5. Regularizers act around the two hidden fc activations, as the
MLP's; the course's LeNet-BN normalises after both convs and after fc1 only.
"""

from collections.abc import Sequence

from torch import nn

from reglab.models.config import Activation, NormKind
from reglab.models.mlp import ACTIVATIONS
from reglab.models.norm import conv_norm, dense_norm
from reglab.regularizers.hooks import HiddenHooks, unpack

POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def _first_padding(in_shape: Sequence[int]) -> int:
    _, height, width = in_shape
    if (height, width) == (28, 28):
        return 2
    if (height, width) == (32, 32):
        return 0
    raise ValueError(f"LeNet takes 28x28 or 32x32 images, not {height}x{width}")


class LeNet(nn.Module):
    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        channels: Sequence[int] = (6, 16),
        hidden: Sequence[int] = (120, 84),
        activation: Activation = "relu",
        pool: str = "max",
        norm: NormKind = "none",
        norm_groups: int = 2,
        hooks: HiddenHooks | None = None,
    ):
        super().__init__()
        if len(in_shape) != 3:
            raise ValueError(f"LeNet takes images (C, H, W), not inputs of shape {in_shape}")
        act = ACTIVATIONS[activation]
        c1, c2 = channels

        def after_conv(j: int) -> list[nn.Module]:  # conv dropout: before activation and pooling
            return unpack(hooks.after_conv(j)) if hooks else []

        self.features = nn.Sequential(
            nn.Conv2d(in_shape[0], c1, 5, padding=_first_padding(in_shape)),
            *conv_norm(norm, c1, norm_groups),
            *after_conv(0),
            act(),
            POOLS[pool](2),
            nn.Conv2d(c1, c2, 5),
            *conv_norm(norm, c2, norm_groups),
            *after_conv(1),
            act(),
            POOLS[pool](2),
            nn.Flatten(),
        )
        # instance norm has no meaning for a feature vector: fc layers go without it
        fc_norm = "none" if norm == "instance" else norm
        layers: list[nn.Module] = []
        width = c2 * 5 * 5
        for i, size in enumerate(hidden):
            linear = hooks.linear(i, width, size) if hooks else nn.Linear(width, size)
            layers += [linear, *(dense_norm(fc_norm, size, norm_groups) if i == 0 else [])]
            layers += unpack(hooks.before_activation(i)) if hooks else []
            layers.append(act())
            layers += unpack(hooks.after_activation(i)) if hooks else []
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x):
        return self.classifier(self.features(x))
