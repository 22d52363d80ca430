"""Composition: turns a config into data, network, loss, optimiser, trainer and callbacks, runs
them, and leaves the run's files behind. The one place where objects are built from ``_target_``.

A run folder is used by one process at a time (:mod:`fmnist.runs.run_lock`) and resumed by the rules of
:mod:`fmnist.runs.resume`: rerunning the same command in the same folder continues where it stopped.
"""

from __future__ import annotations

import logging
import math
import secrets
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from fmnist.config.build import ConfigError, instantiate, without_unused_keys
from fmnist.config.settings import check_settings
from fmnist.core.averaging import ExponentialAverage
from fmnist.core.network import MLP
from fmnist.data.datasets import batch_size_warning
from fmnist.runs.atomic import write_atomically
from fmnist.runs.model_file import load_model
from fmnist.runs.outputs import CONFIG_FILE, LEARNING_CURVES_PNG, MODEL_FILE, MetricsFile, ModelWriter, PlotWriter
from fmnist.runs.resume import (
    FINAL_STATUSES,
    Checkpoint,
    mark_finished,
    prepare_run_folder,
    training_config,
    write_checkpoint,
)
from fmnist.runs.run_lock import RunFolderLock
from fmnist.training.callbacks import Callback, TrainResult
from fmnist.training.checkpointing import Checkpointing, TrainingState
from fmnist.training.early_stopping import EarlyStopping
from fmnist.training.progress import ConsoleProgress
from fmnist.training.schedule import LearningRateScheduler
from fmnist.training.trainer import Trainer

log = logging.getLogger(__name__)


def hidden_sizes(model: DictConfig) -> list[int]:
    """``model.hidden_sizes`` if given, else ``model.num_layers`` x ``model.hidden_size``."""
    if model.get("hidden_sizes") is not None:
        return list(model.hidden_sizes)
    return [model.hidden_size] * model.num_layers


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, folder not writable)."""


class Experiment:
    """One training run described by ``cfg`` (see conf/config.yaml), writing into ``run_dir``.

    ``overrides`` (the job's command-line overrides) and ``sweep_name`` name the run for trackers;
    ``job`` (its number in a multirun) prefixes its console lines; ``should_stop`` (e.g.
    :meth:`fmnist.runs.signals.GracefulStop.reason`) is asked after every batch; ``blas_threads`` limits the
    threads of matrix multiplies (None: the library's default).
    """

    def __init__(
        self,
        cfg: DictConfig,
        run_dir: str | Path,
        extra_callbacks: list[Callback] = (),
        overrides: list[str] = (),
        sweep_name: str | None = None,
        should_stop: Callable[[], str | None] | None = None,
        job: int | None = None,
        blas_threads: int | None = None,
    ):
        self.cfg = cfg
        self.job = job
        self.run_dir = Path(run_dir)
        self.overrides = list(overrides)
        self.sweep_name = sweep_name
        self.should_stop = should_stop
        self.blas_threads = blas_threads
        self.config = OmegaConf.to_container(cfg, resolve=True)
        self.training_config = training_config(self.config)
        self.extra_callbacks = list(extra_callbacks)
        self.metrics_file = MetricsFile(self.run_dir)
        self.wandb_run_id: str | None = None  # kept in the checkpoints, so a resumed run logs to the same wandb run

    def build_data(self):
        return instantiate(self.cfg.dataset, "dataset", seed=self.cfg.seed, dtype=self.cfg.model.dtype)

    def build_network(self, input_size: int, num_classes: int, rng: np.random.Generator) -> MLP:
        model = self.cfg.model
        layer_sizes = [input_size, *hidden_sizes(model), num_classes]
        activation = instantiate(self.cfg.activation, "activation")
        network = MLP(layer_sizes, activation, dropout=model.dropout, dtype=model.dtype)
        return network.initialize(instantiate(self.cfg.init, "init"), rng)

    def build_callbacks(self, data, network: MLP) -> list[Callback]:
        callbacks: list[Callback] = [
            ConsoleProgress(self.cfg.trainer.get("progress", "auto"), job=self.job),
            ModelWriter(self.run_dir, network, self.config),
            self.metrics_file,
        ]
        if self.cfg.get("plots", True):
            callbacks.append(PlotWriter(self.run_dir, data.pixels(data.x_test), data.class_names, seed=self.cfg.seed))
        if self.cfg.get("logger") and self.cfg.logger.get("_target_"):
            # partial: the run's config holds _target_ keys that Hydra must not try to build
            make_logger = instantiate(self.cfg.logger, "logger", _partial_=True)
            callbacks.append(
                make_logger(
                    run_config=self.config,
                    run_dir=str(self.run_dir),
                    overrides=self.overrides,
                    sweep_name=self.sweep_name,
                    run_id=self.wandb_run_id,
                )
            )
        return callbacks + self.extra_callbacks

    def build_trainer(self, data, rng: np.random.Generator) -> Trainer:
        init_rng, train_rng = rng.spawn(2)
        network = self.build_network(data.x_train.shape[1], len(data.class_names), init_rng)
        trainer_cfg = self.cfg.trainer
        warning = batch_size_warning(trainer_cfg.batch_size, len(data.x_train))
        if warning:
            log.warning("%s", warning)
        every = self.cfg.get("checkpoint", {}).get("every_n_epochs", 1)
        optimizer = instantiate(without_unused_keys(self.cfg.optimizer, "optimizer"), "optimizer")
        ema_decay = trainer_cfg.get("ema_decay", 0)
        average = ExponentialAverage(ema_decay) if ema_decay else None
        early_stopping = self.build_early_stopping(len(data.x_val))
        return Trainer(
            network,
            instantiate(self.cfg.loss, "loss"),
            optimizer,
            epochs=trainer_cfg.epochs,
            batch_size=trainer_cfg.batch_size,
            rng=train_rng,
            callbacks=[self.build_schedule(optimizer), *self.build_callbacks(data, network)],
            augment=self.build_augmentation(),
            checkpointing=Checkpointing(self.save_state, every),
            should_stop=self.should_stop,
            average=average,
            early_stopping=early_stopping,
        )

    def build_schedule(self, optimizer) -> LearningRateScheduler:
        """``trainer.lr_schedule`` after ``trainer.warmup_epochs``, as the callback that sets each epoch's rate
        (first among the callbacks, so that the others see it)."""
        trainer_cfg = self.cfg.trainer
        schedule, warmup = trainer_cfg.get("lr_schedule", "constant"), trainer_cfg.get("warmup_epochs", 0)
        return LearningRateScheduler(optimizer, trainer_cfg.epochs, schedule, warmup)

    def build_early_stopping(self, validation_images: int) -> EarlyStopping | None:
        """``trainer.early_stopping`` (null: none), which needs a validation split to watch."""
        settings = self.cfg.trainer.get("early_stopping")
        if settings is None:
            return None
        if not validation_images:
            raise ConfigError(
                "trainer.early_stopping needs a validation split to watch, but this run has none "
                f"(dataset.val_fraction={self.cfg.dataset.get('val_fraction')}): nothing may choose on "
                "validation then. Drop early stopping (early_stopping=null) or hold "
                "images out (dataset.val_fraction=0.1)"
            )
        return EarlyStopping(**settings)

    def write_config(self) -> None:
        config_text = OmegaConf.to_yaml(self.config)
        write_atomically(self.run_dir / CONFIG_FILE, lambda file: file.write(config_text.encode()))

    def check_settings(self) -> None:
        """Refuse a bad setting (:func:`fmnist.config.settings.check_settings`) before anything is built. A run
        folder that holds no run yet keeps the config and a metrics.json that says failed, with the message (what
        a sweep counts its jobs from); one that holds a run is left as it is."""
        try:
            check_settings(self.cfg)
        except ConfigError as error:
            if not self.metrics_file.path.exists():
                self.write_config()
                self.metrics_file.mark_failed(f"{type(error).__name__}: {error}")
            raise

    def save_state(self, state: TrainingState) -> None:
        """Write the checkpoint of ``state``; a failure names the file and what to do."""
        try:
            write_checkpoint(self.run_dir, Checkpoint(state, self.training_config, wandb_run_id=self.wandb_run_id))
        except OSError as error:
            raise CheckpointWriteError(
                f"could not write the checkpoint of epoch {state.epoch} into {self.run_dir}: "
                f"{error.strerror or error}. "
                "The checkpoint before it is intact: free some space or fix the folder, then rerun the same "
                "command to continue"
            ) from error

    def build_augmentation(self):
        """The ``augment`` block as an :class:`fmnist.core.augment.Augmentation`, or None when it changes nothing."""
        if self.cfg.get("augment") is None:
            return None
        augmentation = instantiate(self.cfg.augment, "augment")
        return augmentation if augmentation.active else None

    def plot_finished_run(self, result: TrainResult) -> None:
        """The plots of a run that ended with ``plots=false``, asked for by a rerun: its learning curves from
        its history and, if it was tested, the test plots of its saved model (the weights it was tested with)."""
        try:
            data = self.build_data()
        except ConfigError as error:  # e.g. its data is not on this machine: the run itself is fine
            log.warning("its plots were not drawn: %s", error)
            return
        if result.status in ("completed", "pruned"):
            network, _ = load_model(self.run_dir / MODEL_FILE)
            result.test_labels, result.test_predictions = data.y_test, network.predict(data.x_test)
        PlotWriter(self.run_dir, data.pixels(data.x_test), data.class_names, seed=self.cfg.seed).on_train_end(result)
        log.info("its plots, which it was run without, are now in %s", self.run_dir)

    def run(self) -> TrainResult:
        """Build, train (or continue training), evaluate, save. A failure while building still leaves
        metrics.json (status failed); a run that already ended for good returns its result untouched (drawing
        the plots it was run without, if they are asked for now)."""
        with RunFolderLock(self.run_dir):
            self.check_settings()
            checkpoint = prepare_run_folder(self.run_dir, self.cfg.get("resume", "auto"), self.training_config)
            if checkpoint is not None and checkpoint.finished:
                log.info(
                    "%s already %s: nothing trained. To train it again, add resume=never (its files are moved "
                    "aside) or choose another hydra.run.dir",
                    self.run_dir,
                    checkpoint.status,
                )
                result = TrainResult(
                    status=checkpoint.status,
                    message=f"already {checkpoint.status}; nothing to do",
                    history=checkpoint.state.history,
                    summary=checkpoint.summary,
                )
                if self.cfg.get("plots", True) and not (self.run_dir / LEARNING_CURVES_PNG).is_file():
                    self.plot_finished_run(result)
                return result
            if checkpoint is not None:
                log.info(
                    "resuming %s after epoch %d of %d", self.run_dir, checkpoint.state.epoch, self.cfg.trainer.epochs
                )
            self.wandb_run_id = checkpoint.wandb_run_id if checkpoint else secrets.token_hex(4)
            self.write_config()
            try:
                data = self.build_data()
                trainer = self.build_trainer(data, np.random.default_rng(self.cfg.seed))
            except Exception as error:
                self.metrics_file.mark_failed(f"{type(error).__name__}: {error}")
                raise
            with threadpool_limits(limits=self.blas_threads, user_api="blas"):
                result = trainer.fit(data, resume=checkpoint.state if checkpoint else None)
            if result.status in FINAL_STATUSES:
                mark_finished(self.run_dir, result.status, result.summary)
            return result


def summary_line(result: TrainResult, run_dir: Path) -> str:
    """The last line a run prints: status, validation and test accuracy, where the files are."""

    def percent(value: float) -> str:
        return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"

    return (
        f"{result.status}: val_accuracy {percent(result.summary.get('val_accuracy'))}  "
        f"test_accuracy {percent(result.summary.get('test_accuracy'))}  run_dir {run_dir}"
    )
