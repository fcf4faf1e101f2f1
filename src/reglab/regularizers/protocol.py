"""The regularizer protocol: what one regularizer may add to a run, declared in one module.

A regularizer is a subclass of `Regularizer` in a module of `reglab.regularizers.kinds`
(found there by `kinds.REGULARIZERS`; nothing else lists it). It declares its keys of the
`regularizer` node (`Settings`, each off by default) and overrides only what it adds:

    at the hidden-layer hooks   linear / before_activation / after_activation / after_conv
    to the optimizer            weight_group (options of the weights' parameter group),
                                scheduler (an lr schedule)
    to the loss                 penalty (a term added to the loss), training_loss (a transform
                                of the training batch's data loss)
    after each optimizer step   constrain (e.g. rescale weights)
    to the run                  callbacks, augmentation (of training batches), check (refuse
                                a data set or model it cannot act on, before training)

`Regularization` (regularization.py) composes the ones that are on; the LightningModule and
the seeds=N replica loop call only it, so a regularizer written once serves both. Tensors
reach the methods with `replica_dims` leading replica dimensions (0 in a single run, 1 for
stacked replicas): write them with tensor methods over the trailing dimensions and the same
code serves both.

Torch-free at import: validating a config reads `Settings` only (a typo costs milliseconds),
so a module imports torch where it acts (inside the method), if it needs torch at all.
"""

from typing import Any, ClassVar

from pydantic import create_model

from reglab.config.base import Schema
from reglab.config.errors import ConfigError


def is_on(value: Any) -> bool:
    """A setting that switches its regularizer on: a positive rate (or any positive rate of a
    per-layer list), or a node that is set (early_stopping: {...})."""
    if value is None or value is False:
        return False
    if isinstance(value, list | tuple):
        return any(v > 0 for v in value)
    if isinstance(value, int | float):
        return value > 0
    return True


class Regularizer:
    """One regularizer. A subclass declares itself in its class statement and overrides what
    it adds:

        class L2Regularizer(Regularizer, keys={"l2": (NonNegativeFloat, 0.0)}, order=60):

    keys: its keys in the `regularizer` node, {name: (type, default)}, the default off; the
        first is the switch (the key that turns it on, its name in run names);
    order: where it sits among the others (its keys in the schema, its name in run names);
    stack_order: where its modules sit among the others' at the same hook (default: order);
    layers: "hidden" / "conv" where it acts through a model's hooks on those layers (the model
        not asking for them is then an error); None: it works on any nn.Module;
    replica_refusal: why seeds>1 cannot train it yet (a ConfigError names the key and this);
    per_replica: its keys whose value may differ between stacked replicas (a sweep's jobs
        trained as one pack: reglab.replicas.packing) without changing a shape or a code path.
        A rate or a weight is; a mode or a schedule is not. Where it acts through modules, the
        module lists the attribute in `replica_attributes` (reglab.replicas.stack); where it
        acts on tensors (penalty, training_loss, constrain), the value reaching the method is
        then a tensor with the replica dimensions (vmapped: one replica's 0-d tensor); write
        the method with tensor arithmetic and `broadcast`;
    packs_zero: a replica with the regularizer off (its value 0) packs with replicas where it
        is on, because at 0 its penalty, loss transform or decay does exactly nothing (not so
        for a rate that adds a module, or max-norm's c, where 0 means "no constraint").
        A per-replica key whose value is a node of settings (early stopping's) acts through
        callbacks: each job's are built and combined by the callback's `for_replicas`
        (reglab.app.replicas), and `pack_structure` names the fields that must agree.
    """

    Settings: ClassVar[type[Schema]]  # its keys, built from `keys`
    switch: ClassVar[str]
    order: ClassVar[int] = 100
    stack_order: ClassVar[int | None] = None
    layers: ClassVar[str | None] = None
    replica_refusal: ClassVar[str | None] = None
    per_replica: ClassVar[tuple[str, ...]] = ()
    packs_zero: ClassVar[bool] = False

    def __init_subclass__(
        cls,
        *,
        keys: dict[str, tuple[Any, Any]],
        order: int = 100,
        stack_order: int | None = None,
        layers: str | None = None,
        replica_refusal: str | None = None,
        per_replica: tuple[str, ...] = (),
        packs_zero: bool = False,
        **kwargs,
    ):
        super().__init_subclass__(**kwargs)
        cls.Settings = create_model(f"{cls.__name__}Settings", __base__=Schema, **keys)
        cls.switch = next(iter(keys))
        cls.order, cls.stack_order, cls.layers = order, stack_order, layers
        cls.replica_refusal = replica_refusal
        unknown = set(per_replica) - set(keys)
        if unknown:  # a programming error: only its own keys
            raise TypeError(f"{cls.__name__}: per_replica names keys it lacks: {sorted(unknown)}")
        cls.per_replica, cls.packs_zero = tuple(per_replica), packs_zero

    def __init__(self, cfg: Schema, model: str = "the model"):
        self.cfg = cfg  # the whole validated `regularizer` node
        self.model = model  # how messages name the model ("model=mlp")

    @classmethod
    def pack_structure(cls, key: str, value):
        """What of `value` (its `per_replica` key's, as plain JSON values) must be the same in
        every job of a pack (reglab.replicas.packing): which rates are on, and for a per-layer
        list its length too; nothing where 0 packs with the rest (`packs_zero`). A regularizer
        whose per-replica value is a node of settings says which of its fields must agree."""
        if cls.packs_zero:
            return "per replica"
        if isinstance(value, list | tuple):
            return ["per layer", [v > 0 for v in value]]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value > 0
        return value

    @classmethod
    def stacking(cls) -> int:
        return cls.order if cls.stack_order is None else cls.stack_order

    @classmethod
    def is_on(cls, cfg: Schema) -> bool:
        return is_on(getattr(cfg, cls.switch))

    @property
    def value(self) -> Any:
        """The switch's value (a rate, a list of rates, a node)."""
        return getattr(self.cfg, self.switch)

    def rate(self, index: int, key: str | None = None) -> float:
        """The value of `key` (default: the switch) for hidden or conv layer `index`: the one
        number, or the layer's entry of a per-layer list."""
        key = key or self.switch
        value = getattr(self.cfg, key)
        if _is_tensor(value):  # a per-layer list is stored as (..., layers)
            return value[..., index] if value.dim() else value
        if not isinstance(value, list):
            return float(value)
        if index >= len(value):
            layer = "conv layer" if self.layers == "conv" else "hidden layer"
            raise ConfigError(
                f"regularizer.{key} has {len(value)} values but {self.model} has a {layer} "
                f"{index + 1}: give one value per layer, or a single number for all"
            )
        return float(value[index])

    # -- hidden-layer hooks (reglab.regularizers.hooks) ---------------------------------------
    def linear(self, index: int, in_features: int, out_features: int, bias: bool):
        """The nn.Linear of hidden layer `index`, or None (a plain one)."""
        return None

    def before_activation(self, index: int) -> list:
        """Modules for hidden layer `index`'s pre-activation."""
        return []

    def after_activation(self, index: int) -> list:
        """Modules for hidden layer `index`'s activation."""
        return []

    def after_conv(self, index: int) -> list:
        """Modules after convolution `index`, before its activation."""
        return []

    # -- optimizer ----------------------------------------------------------------------------
    def weight_group(self) -> dict:
        """Options of the optimizer's parameter group of weights (not biases or norm scales)."""
        return {}

    def scheduler(self, optimizer, max_epochs: int):
        """An lr schedule stepped once per epoch, or None."""
        return None

    # -- loss ---------------------------------------------------------------------------------
    def penalty(self, weights: list, replica_dims: int):
        """A term added to the loss, from the weights (each with `replica_dims` leading
        replica dimensions); shape: those dimensions. None: adds nothing."""
        return None

    def training_loss(self, loss, outputs, targets):
        """The training batch's data loss, transformed (one replica's: vmapped for replicas).
        Validation and test keep the task's own loss."""
        return loss

    # -- after each optimizer step ------------------------------------------------------------
    def constrain(self, hidden_weights: list) -> None:
        """Acts on the hidden layers' weight matrices (out, in), with leading replica
        dimensions, in place and without autograd, after every optimizer step."""

    # -- the run ------------------------------------------------------------------------------
    def callbacks(self) -> list:
        """Lightning callbacks the run adds."""
        return []

    def augmentation(self, seed: int):
        """The training-batch augmentation the data module applies, or None."""
        return None

    def check(self, task: str, hidden_layers: int) -> None:
        """Raises ConfigError, before training, for a data set's task ("classification",
        "regression") or a model (its number of hidden layers) it cannot act on."""


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "dim")


def broadcast(value: Any, like: Any) -> Any:
    """A per-replica value (a tensor over the replica dimensions, reglab.replicas.packing)
    shaped to broadcast against `like`, a tensor with those leading dimensions; a number as
    it is. E.g. max-norm's c (N,) against hidden weights (N, out, in): (N, 1, 1)."""
    if not _is_tensor(value) or value.dim() == 0:
        return value
    return value.reshape(*value.shape, *([1] * (like.dim() - value.dim())))


def hooks_refusal(key: str, model: str, layers: str) -> str:
    """Why a regularizer acting at the hooks cannot act on a model that does not take them:
    one message for validation (from the signature) and for the built model."""
    return (
        f"regularizer.{key} needs the hidden-layer hook, and {model} does not take `hooks`: "
        f"add a `hooks` keyword to its constructor and ask it for its {layers} layers "
        f"(README: 'Your own model'), or set regularizer.{key}=0"
    )


def overrides(regularizer: Regularizer, method: str) -> bool:
    """Whether the regularizer adds something through `method`."""
    return getattr(type(regularizer), method) is not getattr(Regularizer, method)
