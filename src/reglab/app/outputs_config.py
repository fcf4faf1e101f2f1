"""Schemas of the `callbacks` and `logger` groups. Torch-free, as every schema.

Each built-in entry of configs/callbacks/ and configs/logger/ has a typed schema: the keys
reglab reads are its fields; the entry's other keys are keyword arguments of its `_target_`,
checked against the class's signature (a key it does not take is an error naming the entry,
the key and the allowed ones). An entry added with `+callbacks.<name>=...` or
`+logger.<name>=...` (a user's class) is checked the same way; `null` switches an entry off.
"""

from pydantic import ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

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


# ---- callbacks ----------------------------------------------------------------------------


class CallbackConfig(EntryConfig):
    """A callback; one that takes `monitor` and `mode` gets the task's when they are not set."""

    def monitored(self) -> str | None:
        """The metric it monitors, if it takes one and it is set."""
        return self.arguments().get("monitor")


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


class CallbacksConfig(Schema):
    """The `callbacks` node: the built-in entries typed, any other a user's callback."""

    model_config = ConfigDict(extra="allow", frozen=True)
    # callbacks/default.yaml
    model_checkpoint: CheckpointConfig | None = None
    last_checkpoint: CheckpointConfig | None = None
    on_exception_checkpoint: CallbackConfig | None = None
    epoch_metrics: FolderCallbackConfig | None = None
    progress_bar: CallbackConfig | None = None
    artifacts: FolderCallbackConfig | None = None
    divergence_guard: DivergenceGuardConfig | None = None
    # callbacks/instruments.yaml
    weight_norms: CallbackConfig | None = None
    grad_norm: CallbackConfig | None = None
    activation_stats: FolderCallbackConfig | None = None
    per_class_accuracy: FolderCallbackConfig | None = None
    histograms: CallbackConfig | None = None

    # entries added with `+callbacks.<name>=...`: a user's callbacks
    __pydantic_extra__: dict[str, CallbackConfig | None] = Field(init=False)

    @model_validator(mode="after")
    def _known_arguments(self):
        _check_entries("callbacks", self.entries())
        return self

    def entries(self) -> dict[str, CallbackConfig | None]:
        """Every entry by name, in the config's order: the built-in ones, then the user's."""
        built_in = {name: getattr(self, name) for name in type(self).model_fields}
        return built_in | dict(self.model_extra or {})


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


class LoggersConfig(Schema):
    """The `logger` node: the built-in entries typed, any other a user's logger."""

    model_config = ConfigDict(extra="allow", frozen=True)
    wandb: WandbConfig | None = None
    mlflow: MLflowConfig | None = None
    tensorboard: LoggerConfig | None = None
    # entries added with `+logger.<name>=...`: a user's loggers
    __pydantic_extra__: dict[str, LoggerConfig | None] = Field(init=False)

    @model_validator(mode="after")
    def _known_arguments(self):
        _check_entries("logger", self.entries())
        return self

    def entries(self) -> dict[str, LoggerConfig | None]:
        """Every entry by name: the built-in ones, then the user's."""
        built_in = {name: getattr(self, name) for name in type(self).model_fields}
        return built_in | dict(self.model_extra or {})
