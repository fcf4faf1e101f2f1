"""The hidden-layer hook: how a model lets reglab's regularizers into its hidden layers.

A model whose constructor takes a keyword `hooks` receives a `HiddenHooks` and asks it, for
its hidden fully connected layer i (0, 1, ... in forward order):

    hooks.linear(i, in_features, out_features)  -> the layer's nn.Linear (DropConnect's when on)
    hooks.before_activation(i)                  -> a module for the pre-activation
    hooks.after_activation(i)                   -> a module for the activation (noise, dropout)

and for its convolution j: `hooks.after_conv(j)` (conv dropout, before the activation). Each
returns `nn.Identity()` when nothing is on. The hooks ask every regularizer that is on and
acts on layers (reglab.regularizers.protocol: `layers`), in their declared order; penalties,
constraints, weight decay, early stopping, lr decay and augmentation work on any `nn.Module`.
After the model is built, `check_used` makes sure every regularizer that is on was placed
somewhere: a model that ignores its hooks is an error, not a silent no-op.
"""

from torch import nn

from reglab.config.errors import ConfigError
from reglab.regularizers.kinds import REGULARIZERS
from reglab.regularizers.protocol import hooks_refusal


class HiddenHooks:
    def __init__(self, cfg, model: str = "the model"):
        """cfg: the validated `regularizer` node; model: how messages name the model."""
        self.cfg = cfg
        self.model = model
        acting = [r for r in REGULARIZERS if r.layers and r.is_on(cfg)]
        self.regularizers = [r(cfg, model) for r in sorted(acting, key=lambda r: r.stacking())]
        self.hidden_used: set[int] = set()
        self.convs_used: set[int] = set()

    def linear(self, index: int, in_features: int, out_features: int, bias: bool = True):
        self.hidden_used.add(index)
        for regularizer in self.regularizers:
            layer = regularizer.linear(index, in_features, out_features, bias)
            if layer is not None:
                return layer
        return nn.Linear(in_features, out_features, bias=bias)

    def before_activation(self, index: int) -> nn.Module:
        self.hidden_used.add(index)
        return pack([m for r in self.regularizers for m in r.before_activation(index)])

    def after_activation(self, index: int) -> nn.Module:
        self.hidden_used.add(index)
        return pack([m for r in self.regularizers for m in r.after_activation(index)])

    def after_conv(self, index: int) -> nn.Module:
        self.convs_used.add(index)
        return pack([m for r in self.regularizers for m in r.after_conv(index)])

    def check_used(self, takes_hooks: bool) -> None:
        """Every regularizer that is on found its layers, one value per layer."""
        for regularizer in self.regularizers:
            key, what = regularizer.switch, regularizer.layers
            used = self.hidden_used if what == "hidden" else self.convs_used
            if not takes_hooks:
                raise ConfigError(hooks_refusal(key, self.model, what))
            if not used:
                raise ConfigError(
                    f"regularizer.{key} is on but {self.model} asked its hooks for no "
                    f"{what} layer: nothing would be regularized. Set regularizer.{key}=0, "
                    "or call the hooks in the model (README: 'Your own model')"
                )
            value = regularizer.value
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
