"""Schemas of the `callbacks` and `logger` groups. Torch-free, as every schema.

Each built-in entry of configs/callbacks/ and configs/logger/ has a typed schema: the keys
reglab reads are its fields; the entry's other keys are keyword arguments of its `_target_`,
checked against the class's signature (a key it does not take is an error naming the entry,
the key and the allowed ones). An entry added with `+callbacks.<name>=...` or
`+logger.<name>=...` (a user's class) is checked the same way; `null` switches an entry off.
"""

from typing import ClassVar

from pydantic import ConfigDict, Field, PositiveFloat, PositiveInt, PrivateAttr, model_validator

from reglab.config.base import Schema
from reglab.config.targets import TargetConfig, check_keywords


class EntryConfig(TargetConfig):
    """An entry: `_target_` and the keyword arguments of its class."""

    def arguments(self) -> dict:
        """The constructor's keyword arguments: the typed fields and the rest."""
        return self.model_dump(by_alias=True, exclude={"target"})


def _check_entries(section: str, entries: dict[str, EntryConfig | None]) -> None:
    for name, entry in entries.items():
        given = entry.arguments() if entry is not None else {}
        # without arguments there is nothing to check (and a class whose constructor is
        # inherited would be imported to find it: validation stays torch-free)
        if given:
            check_keywords(f"{section}.{name}", entry.target, given)


class EntriesConfig(Schema):
    """A node of named entries (`callbacks`, `logger`): the built-in ones are the subclass's
    fields, any other is a user's (typed by the subclass's `__pydantic_extra__`)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    SECTION: ClassVar[str]
    _order: list[str] = PrivateAttr(default_factory=list)  # the entries' names as written

    @model_validator(mode="wrap")
    @classmethod
    def _in_order(cls, data, handler):
        node = handler(data)
        if isinstance(data, dict):  # callbacks are built in the order the config lists them
            node._order = list(data)
        return node

    @model_validator(mode="after")
    def _known_arguments(self):
        _check_entries(self.SECTION, self.entries())
        return self

    def entries(self) -> dict[str, EntryConfig | None]:
        """Every entry by name, in the config's order (the built-in ones it does not list
        after them, as None)."""
        extra = self.model_extra or {}
        every = [*self._order, *type(self).model_fields, *extra]
        return {name: extra[name] if name in extra else getattr(self, name) for name in every}


# ---- callbacks ----------------------------------------------------------------------------


class CallbackConfig(EntryConfig):
    """A callback; one that takes `monitor` and `mode` gets the task's when they are not set."""

    def monitored(self) -> str | None:
        """The metric it monitors, if it takes one and it is set."""
        return self.arguments().get("monitor")

    @model_validator(mode="after")
    def _mode(self):
        # a monitoring callback's (a checkpoint's, one given a monitor: ModelCheckpoint,
        # EarlyStopping); checked with the schema, so a sweep's planning finds it too
        arguments = self.arguments()
        mode = arguments.get("mode")
        monitoring = isinstance(self, CheckpointConfig) or "monitor" in arguments
        if monitoring and mode is not None and mode not in ("min", "max"):
            raise ValueError(f"mode={mode}: use min or max")
        return self


class CheckpointConfig(CallbackConfig):
    """A ModelCheckpoint: best.ckpt (monitored) or last.ckpt (filename `last`, unmonitored)."""

    dirpath: str
    filename: str
    monitor: str | None = None  # None: the task's monitor (val/acc for classification)


class FolderCallbackConfig(CallbackConfig):
    """A callback that writes into the run's folder."""

    output_dir: str


class DivergenceGuardConfig(CallbackConfig):
    max_grad_norm: PositiveFloat | None  # None: no bound on the gradient norm
    check_every_n_steps: PositiveInt


class CallbacksConfig(EntriesConfig):
    """The `callbacks` node. The built-in entries with keys reglab reads or requires have their
    schema here; the others (on_exception_checkpoint, progress_bar, and the instruments
    weight_norms, grad_norm, histograms) are typed as any callback, as a user's are."""

    SECTION: ClassVar[str] = "callbacks"
    # callbacks/default.yaml
    model_checkpoint: CheckpointConfig | None = None
    last_checkpoint: CheckpointConfig | None = None
    epoch_metrics: FolderCallbackConfig | None = None
    artifacts: FolderCallbackConfig | None = None
    divergence_guard: DivergenceGuardConfig | None = None
    # callbacks/instruments.yaml
    activation_stats: FolderCallbackConfig | None = None
    per_class_accuracy: FolderCallbackConfig | None = None

    # entries added with `+callbacks.<name>=...`: a user's callbacks
    __pydantic_extra__: dict[str, CallbackConfig | None] = Field(init=False)


# ---- loggers ------------------------------------------------------------------------------


class LoggerConfig(EntryConfig):
    """A Lightning logger (a user's, or TensorBoard's): built with its keyword arguments."""


class WandbConfig(LoggerConfig):
    """Weights & Biases (reglab.loggers.wandb): online with credentials, else offline."""

    project: str
    entity: str | None
    save_dir: str
    name: str | None  # None: the chosen options, e.g. mlp-dropout-fashion_mnist
    group: str | None  # None: the sweep's name
    job_type: str
    tags: list[str]  # the run's top-level `tags` are added
    mode: str  # auto | online | offline | ... (checked with the tags: reglab.app.logger_limits)
    log_model: bool | str  # true: best/last at the end; all: every checkpoint when written


class MLflowConfig(LoggerConfig):
    """MLflow tracking (reglab.loggers.mlflow): a local store, or a server."""

    experiment_name: str
    tracking_uri: str | None
    run_name: str | None  # None: the chosen options
    tags: dict[str, str] | None  # the run's `tags` are added as tag keys
    log_model: bool | str


class LoggersConfig(EntriesConfig):
    """The `logger` node: the built-in entries typed, any other a user's logger."""

    SECTION: ClassVar[str] = "logger"
    wandb: WandbConfig | None = None
    mlflow: MLflowConfig | None = None
    tensorboard: LoggerConfig | None = None
    # entries added with `+logger.<name>=...`: a user's loggers
    __pydantic_extra__: dict[str, LoggerConfig | None] = Field(init=False)
