"""RegLabModule: one LightningModule for every model, task and regularizer."""

import pickle

import lightning as L
import torch
from pydantic import ValidationError
from torch import nn
from torchmetrics import MaxMetric, MinMetric

from reglab.config.errors import CheckpointRefused, ConfigError
from reglab.contract import STAGES
from reglab.data.base import DataInfo
from reglab.lit.optimizer import optimizer_factory
from reglab.lit.publish import publish
from reglab.lit.tasks import task_for
from reglab.lit.weighted_mean import WeightedMean
from reglab.models.build import build_model, model_label
from reglab.models.roles import hidden_weight_names
from reglab.module_config import ModuleSettings
from reglab.outputs.checkpoint_io import refusal
from reglab.regularizers.regularization import Regularization
from reglab.regularizers.weight_decay import weight_parameters


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
    return str(exc).splitlines()[0]


class RegLabModule(L.LightningModule):
    """Trains `net` on `task`, with the regularization's penalty and parameter groups.

    Logged per epoch: train/loss (data loss), train/penalty (the explicit term), train/w_norm
    (L2 norm of all weights), train/lr, the task's metrics for train/val/test (e.g.
    train/acc), val/loss, and the best value of the task's monitor (val/acc_best or
    val/loss_best). Where the test set is evaluated every epoch (protocol=d2l) the per-epoch
    evaluation is logged as test/* (test/acc_best), and nothing as val/*.
    """

    def __init__(self, config: "ModuleSettings | dict", info: dict, fused: bool = False):
        """Built from the run's validated config, which every checkpoint stores once (with the
        data set's `info`), so `RegLabModule.load_from_checkpoint(path)` rebuilds it without
        Hydra.

        config: the run's RunConfig (from a checkpoint: its stored dict, of which the sections
        the module builds from are validated here, see ModuleSettings); info: the data set's
        DataInfo as a dict; fused: each training batch is a list of minibatches, stepped here
        one by one.

        Checkpoints written before the config was stored once also hold `model`,
        `regularizer`, `optimizer` and `compile` beside it: copies of the config's sections,
        which Lightning leaves out (it passes only the arguments __init__ names).
        """
        super().__init__()
        if isinstance(config, dict):  # a checkpoint's: data, validated before anything is built
            plain, settings = config, ModuleSettings.model_validate(config)
        else:
            plain, settings = config.model_dump(by_alias=True), config
        # logger=False: loggers get the run's config from reglab, not these again
        self.save_hyperparameters({"config": plain, "info": info, "fused": fused}, logger=False)
        self.settings = settings
        self.info = DataInfo.from_dict(info)
        self.task = task_for(self.info)
        self.regularization = Regularization(settings.regularizer, model_label(settings.model))
        net = build_model(
            settings.model,
            self.info.in_shape,
            self.info.num_outputs,
            self.regularization,
            self.info.task,
        )
        # what the regularizers act on: the weights (penalties) and the hidden layers' weight
        # matrices (constraints), found once on the uncompiled network
        self._weights = list(weight_parameters(net))
        hidden = hidden_weight_names(net)
        self.regularization.check(self.info.task, len(hidden))
        self._hidden_weights = [net.get_parameter(name) for name in hidden]
        # the inner nn.Module only; Lightning's loop stays eager
        self.net = torch.compile(net) if settings.hardware.compile else net
        self.optimizer_factory = optimizer_factory(settings.optimizer.factory_config())
        self.automatic_optimization = not fused
        # ModuleDict keys cannot be "train" (nn.Module.train exists): hence the suffix.
        self._metrics = nn.ModuleDict(
            {f"{stage}_": nn.ModuleDict(self.task.metrics()) for stage in STAGES}
        )
        # Losses are averaged over samples (batches weighted by size); a NaN loss shows in the
        # epoch mean (see WeightedMean for why not MeanMetric).
        self._losses = nn.ModuleDict({f"{stage}_": WeightedMean() for stage in STAGES})
        self.train_penalty = WeightedMean()
        self.best_metric = MaxMetric() if self.task.mode == "max" else MinMetric()
        self.last_loss: torch.Tensor | None = None
        # train/loss_max: the largest training-batch loss so far (the course's LeNet with its
        # init spikes early; epoch means hide it). A running max per step is one kernel; the
        # MaxMetric reduces it across ranks once per epoch.
        self._step_loss_max: torch.Tensor | None = None
        self.train_loss_max = MaxMetric(nan_strategy="disable")
        # running over the whole run: saved in checkpoints, so a resumed run goes on from them
        self.best_metric.persistent(True)
        self.train_loss_max.persistent(True)
        # train/lr: read when the epoch starts; by its end Lightning has stepped an
        # epoch-interval scheduler (the next epoch's lr)
        self._epoch_lr: float | None = None
        self._lr: float | None = None  # a learning rate set after construction (lr finder)

    @property
    def lr(self) -> float | None:
        """The optimizer's learning rate: what Lightning's learning-rate finder reads and sets
        (`Tuner(trainer).lr_find(module, datamodule=...)`, `update_attr=True`)."""
        return self._lr if self._lr is not None else self.optimizer_factory.keywords.get("lr")

    @lr.setter
    def lr(self, value: float) -> None:
        # configure_optimizers builds the optimizer with it; the saved hyperparameters (and
        # the config checkpoints carry) say what it was built with.
        self._lr = float(value)
        config = self.hparams.get("config")
        if isinstance(config, dict) and isinstance(config.get("optimizer"), dict):
            optimizer = {**config["optimizer"], "lr": self._lr}
            self.hparams["config"] = {**config, "optimizer": optimizer}

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, strict=None, **kwargs):
        """Lightning's `load_from_checkpoint`, reading the file as data only: tensors and plain
        values (weights_only=True), and the stored model and optimizer `_target_`s checked to
        be an nn.Module and a torch optimizer before they are called. A file that fails either
        raises CheckpointRefused, one line naming the file and why."""
        for key in ("weights_only", "hparams_file"):
            if kwargs.pop(key, None) not in (None, True):
                raise ValueError(f"{key}: reglab reads checkpoints as data only")
        try:
            return super().load_from_checkpoint(
                checkpoint_path,
                map_location=map_location,
                strict=strict,
                weights_only=True,
                **kwargs,
            )
        except CheckpointRefused:
            raise
        except (ConfigError, ValidationError) as exc:  # a stored config that is not valid here
            raise CheckpointRefused(
                checkpoint_path, f"its stored config: {_one_line(exc)}"
            ) from None
        except (pickle.UnpicklingError, EOFError, KeyError, RuntimeError, OSError) as exc:
            raise refusal(checkpoint_path, exc) from None
        except ValueError as exc:  # Lightning's own refusals (e.g. a stored `_instantiator`)
            raise CheckpointRefused(checkpoint_path, _one_line(exc)) from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The network's outputs (logits, or regression values) for inputs as the data set
        stores them. Evaluation mode (no dropout), on the module's device.

        A model trained on uint8 images (the built-in image sets) takes them (N, C, H, W) as
        uint8 (0-255), or as floats in [0, 1] (what torchvision's ToTensor gives): both are
        scaled and standardised as in training, with the mean and std the checkpoint keeps.
        Any other float input to such a model raises ValueError, since it cannot tell
        standardised inputs from 0-255 ones: give inputs already prepared to `module.net`
        instead. Other models (the regression sets' features, a user's float data) get their
        inputs as they are (uint8 ones scaled to [0, 1]).
        """
        x = x.to(self.device)
        if self.info.takes_uint8_images or x.dtype == torch.uint8:
            x = self._images_as_in_training(x)
        was_training = self.training
        self.eval()
        try:
            return self.net(x)
        finally:
            self.train(was_training)

    def _images_as_in_training(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images, or floats in [0, 1], scaled and standardised as training did."""
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        elif not x.is_floating_point() or (x.numel() and (x.min() < 0 or x.max() > 1)):
            low, high = (float(x.min()), float(x.max())) if x.numel() else (0.0, 0.0)
            raise ValueError(
                f"predict: this model was trained on uint8 images; it takes them as uint8 "
                f"(0-255) or as floats in [0, 1], and got {x.dtype} values in [{low:g}, "
                f"{high:g}]. Fix: pass the images as stored (uint8), x / 255 for 0-255 floats, "
                "or call module.net(x) on inputs already standardised"
            )
        if self.info.mean is not None:
            mean = torch.tensor(self.info.mean, device=x.device).view(1, -1, 1, 1)
            std = torch.tensor(self.info.std, device=x.device).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x

    def _evaluate(self, stage: str, batch) -> torch.Tensor:
        loss, _ = self._evaluate_with_outputs(stage, batch)
        return loss

    def _evaluate_with_outputs(self, stage: str, batch) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        outputs = self.net(x)
        loss = self.task.loss(outputs, y)
        if stage == "train" and self.regularization.has_loss_transform:
            loss = self.regularization.training_loss(loss, outputs, y)
        self._losses[f"{stage}_"].update(loss.detach(), weight=len(y))
        for metric in self._metrics[f"{stage}_"].values():
            metric.update(outputs.detach(), y)
        return loss, outputs

    def _training_loss(self, batch) -> torch.Tensor:
        loss = self._evaluate("train", batch)
        if self.regularization.has_penalty:
            penalty = self.regularization.penalty(self._weights)
            loss = loss + penalty
            self.train_penalty.update(penalty.detach())
        self.last_loss = loss.detach()  # read by callbacks (divergence guard)
        previous = self._step_loss_max
        self._step_loss_max = (
            self.last_loss if previous is None else previous.maximum(loss.detach())
        )
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor | None:
        if self.automatic_optimization:
            return self._training_loss(batch)
        # Fused: the same updates as one step per minibatch, through Lightning's optimizer
        # wrapper, so precision, DDP and the optimizer-step hooks still apply.
        optimizer = self.optimizers()
        for minibatch in batch if isinstance(batch, list) else [batch]:
            loss = self._training_loss(minibatch)
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            self._after_optimizer_step()
        return None

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        self._after_optimizer_step()

    def _after_optimizer_step(self) -> None:
        """The regularizers' post-step constraints (max-norm) on the hidden weights."""
        if self.regularization.has_constraint:
            self.regularization.constrain(self._hidden_weights)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch, batch_idx: int) -> dict | None:
        _, outputs = self._evaluate_with_outputs("test", batch)
        # Predictions for per-class instruments (on_test_batch_end receives this).
        return {"preds": outputs.argmax(1)} if self.task.name == "classification" else None

    def _epoch_values(self, stage: str, prefix: str | None = None) -> dict[str, torch.Tensor]:
        """The stage's epoch metrics (torchmetrics syncs them across ranks), then resets them;
        keyed `<prefix>/<name>` (prefix: the stage's name)."""
        metrics = {"loss": self._losses[f"{stage}_"], **self._metrics[f"{stage}_"]}
        prefix = prefix or stage
        values = {f"{prefix}/{name}": metric.compute() for name, metric in metrics.items()}
        for metric in metrics.values():
            metric.reset()
        return values

    def _publish(self, values: dict[str, torch.Tensor], prog_bar: tuple[str, ...] = ()) -> None:
        publish(self.trainer, values, prog_bar)  # not self.log: see reglab.lit.publish

    def on_train_epoch_start(self) -> None:
        self._epoch_lr = self.trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_epoch_end(self) -> None:
        values = self._epoch_values("train")
        penalty = self.train_penalty.compute() if self.regularization.has_penalty else None
        self.train_penalty.reset()
        values["train/penalty"] = penalty if penalty is not None else torch.tensor(0.0)
        # ||w||_2 over all weights (d2l 4.5 reports it): weight decay's visible effect.
        values["train/w_norm"] = self.regularization.weight_norm(self.net)
        values["train/lr"] = torch.tensor(self._epoch_lr)  # the lr this epoch trained with
        # epochs run, for metrics.json: with ddp_spawn only callback_metrics reach the main
        # process (not the loop's counters); a key without "/" is not logged anywhere
        self.trainer.callback_metrics["epochs"] = torch.tensor(float(self.current_epoch + 1))
        if self._step_loss_max is not None:
            self.train_loss_max.update(self._step_loss_max)
            values["train/loss_max"] = self.train_loss_max.compute()
        self._publish(values)
        if not self.automatic_optimization:  # Lightning steps schedulers only when automatic
            schedulers = self.lr_schedulers()
            for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
                if scheduler is not None:
                    scheduler.step()

    def on_validation_epoch_end(self) -> None:
        values = self._epoch_values("val", self.task.epoch_stage)
        if not self.trainer.sanity_checking:
            self.best_metric.update(values[self.task.monitor])
            values[f"{self.task.monitor}_best"] = self.best_metric.compute()
        self._publish(values, prog_bar=(f"{self.task.monitor}_best",))

    def on_test_epoch_end(self) -> None:
        self._publish(self._epoch_values("test"))

    def configure_optimizers(self):
        lr = {} if self._lr is None else {"lr": self._lr}
        optimizer = self.optimizer_factory(self.regularization.parameter_groups(self.net), **lr)
        scheduler = self.regularization.scheduler(optimizer, self.trainer.max_epochs)
        if scheduler is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
