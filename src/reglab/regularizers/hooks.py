"""The hidden-layer hook: how a model lets reglab's regularizers into its hidden layers.

A model whose constructor takes a keyword `hooks` receives a `HiddenHooks` and asks it, for
its hidden fully connected layer i (0, 1, ... in forward order):

    hooks.linear(i, in_features, out_features)  -> the layer's nn.Linear (DropConnect's when on)
    hooks.before_activation(i)                  -> a module for the pre-activation
    hooks.after_activation(i)                   -> a module for the activation (noise, dropout)

and for its convolution j: `hooks.after_conv(j)` (conv dropout, before the activation). Each
returns `nn.Identity()` when nothing is on. That is all dropout, noise, DropConnect and conv
dropout need; penalties, weight decay, early stopping, lr decay and augmentation work on any
`nn.Module`. After the model is built, `check_used` makes sure every regularizer that is on
was placed somewhere: a model that ignores its hooks is an error, not a silent no-op.
"""

from torch import nn

from reglab.config.errors import ConfigError
from reglab.regularizers.config import CONV, HIDDEN, RegularizerConfig, is_on
from reglab.regularizers.conv_dropout import ConvDropout
from reglab.regularizers.dropconnect import DropConnectLinear
from reglab.regularizers.dropout import Dropout
from reglab.regularizers.noise import GaussianNoise


class HiddenHooks:
    def __init__(self, cfg: RegularizerConfig, model: str = "the model"):
        self.cfg = cfg
        self.model = model
        self.hidden_used: set[int] = set()
        self.convs_used: set[int] = set()

    def _rate(self, key: str, index: int) -> float:
        value = getattr(self.cfg, key)
        if not isinstance(value, list):
            return float(value)
        if index >= len(value):
            layer = "conv layer" if key in CONV else "hidden layer"
            raise ConfigError(
                f"regularizer.{key} has {len(value)} values but {self.model} has a {layer} "
                f"{index + 1}: give one value per layer, or a single number for all"
            )
        return float(value[index])

    def linear(self, index: int, in_features: int, out_features: int, bias: bool = True):
        self.hidden_used.add(index)
        rate = self._rate("dropconnect", index)
        if rate > 0:
            return DropConnectLinear(in_features, out_features, rate, bias=bias)
        return nn.Linear(in_features, out_features, bias=bias)

    def before_activation(self, index: int) -> nn.Module:
        self.hidden_used.add(index)
        if self.cfg.dropout_placement != "before_activation":
            return nn.Identity()
        return self._dropout(index)

    def after_activation(self, index: int) -> nn.Module:
        self.hidden_used.add(index)
        std = self._rate("noise", index)
        modules = [GaussianNoise(std)] if std > 0 else []
        if self.cfg.dropout_placement == "after_activation":
            modules += unpack(self._dropout(index))
        return pack(modules)

    def after_conv(self, index: int) -> nn.Module:
        self.convs_used.add(index)
        rate = self._rate("conv_dropout", index)
        return ConvDropout(rate, self.cfg.conv_dropout_mode) if rate > 0 else nn.Identity()

    def _dropout(self, index: int) -> nn.Module:
        rate = self._rate("dropout", index)
        return Dropout(rate, self.cfg.dropout_impl) if rate > 0 else nn.Identity()

    def check_used(self, takes_hooks: bool) -> None:
        """Every regularizer that is on found its layers, one value per layer."""
        for keys, used, what in (
            (HIDDEN, self.hidden_used, "hidden"),
            (CONV, self.convs_used, "conv"),
        ):
            for key in keys:
                value = getattr(self.cfg, key)
                if not is_on(value):
                    continue
                if not takes_hooks:
                    raise ConfigError(
                        f"regularizer.{key} needs the hidden-layer hook, and {self.model} does "
                        "not take `hooks`: add a `hooks` keyword to its constructor and ask it "
                        f"for its {what} layers (README: 'Your own model'), or set "
                        f"regularizer.{key}=0"
                    )
                if not used:
                    raise ConfigError(
                        f"regularizer.{key} is on but {self.model} asked its hooks for no "
                        f"{what} layer: nothing would be regularized. Set regularizer.{key}=0, "
                        "or call the hooks in the model (README: 'Your own model')"
                    )
                if isinstance(value, list) and len(value) != len(used):
                    raise ConfigError(
                        f"regularizer.{key} has {len(value)} values but {self.model} has "
                        f"{len(used)} {what} layers: give one per layer, or a single number"
                    )


def unpack(module: nn.Module) -> list[nn.Module]:
    """A hook's module as a list for nn.Sequential: nothing for Identity (no extra entry, so
    state-dict keys do not depend on which regularizers are on)."""
    if isinstance(module, nn.Identity):
        return []
    if type(module) is nn.Sequential:
        return list(module)
    return [module]


def pack(modules: list[nn.Module]) -> nn.Module:
    if not modules:
        return nn.Identity()
    return modules[0] if len(modules) == 1 else nn.Sequential(*modules)
