"""Weights & Biases tracking as a trainer callback, and the rules for how a run is opened.

Mode: ``WANDB_MODE`` in the environment wins; then ``logger.mode``; then online if credentials exist
(``WANDB_API_KEY`` or an ``api.wandb.ai`` entry in ~/.netrc), else offline with a one-line hint on
``wandb sync``. Never a login prompt, never a wait: if an online start fails, the run goes offline.
wandb itself is imported only when a run is opened, so ``logger=none`` imports nothing of it.

In a wandb sweep (a run started by ``wandb agent``), a run stopped by a signal other than SIGTERM
(Ctrl-C, SLURM's SIGUSR1/SIGUSR2 warnings) is marked preempting before it finishes: the sweep puts it
back in its queue, and the agent that takes it up again starts it with the same run id, in the same
folder (the sweep files set ``hydra.run.dir`` from the sweep and run ids), where it continues from its
checkpoint. SIGTERM is what a stop from the run's wandb page sends: that stop is final.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path

from fmnist.config.dotted import flatten
from fmnist.runs.outputs import CONFUSION_MATRIX_PNG, LEARNING_CURVES_PNG, MISCLASSIFIED_PNG
from fmnist.training.callbacks import Callback, RunInfo, TrainResult

log = logging.getLogger(__name__)

WANDB_HOST = "api.wandb.ai"
MODES = ("online", "offline", "disabled")
#: In a wandb sweep, a run stopped by this signal is not put back in the sweep's queue (the module docstring).
FINAL_STOP_SIGNAL = "SIGTERM"

#: Override key -> short name in run names, in the order they appear there.
RUN_NAME_KEYS = {
    "dataset": "d",
    "model": "m",
    "model.num_layers": "hl",
    "model.hidden_size": "sz",
    "model.hidden_sizes": "hs",
    "model.dropout": "do",
    "trainer.epochs": "ep",
    "trainer.batch_size": "bs",
    "activation": "ac",
    "init": "wi",
    "loss": "l",
    "optimizer": "o",
    "optimizer.lr": "lr",
    "optimizer.momentum": "mom",
    "optimizer.beta": "beta",
    "optimizer.beta1": "b1",
    "optimizer.beta2": "b2",
    "optimizer.epsilon": "eps",
    "optimizer.weight_decay": "wd",
    "seed": "seed",
}
#: Overrides that say nothing about the model or its training.
RUN_NAME_SKIPPED = (
    "logger",
    "hydra",
    "trainer.progress",
    "plots",
    "dataset.path",
    "dataset.download",
    "blas_threads",
    "sweep",
)


def has_credentials(environ=os.environ, netrc_path: str | Path | None = None) -> bool:
    if environ.get("WANDB_API_KEY"):
        return True
    path = Path(netrc_path or environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return path.is_file() and netrc.netrc(str(path)).authenticators(WANDB_HOST) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def resolve_mode(
    requested: str | None, run_dir: str | Path, environ=os.environ, netrc_path: str | Path | None = None
) -> tuple[str, str | None]:
    """(mode, hint): the environment's WANDB_MODE, else ``requested``, else online iff credentials exist."""
    chosen = environ.get("WANDB_MODE") or requested
    if chosen:
        mode = "offline" if chosen == "dryrun" else chosen  # dryrun: wandb's old name for offline
        if mode not in MODES:
            raise ValueError(f"wandb mode {chosen!r} is not allowed: use one of {', '.join(MODES)}")
        return mode, None
    if has_credentials(environ, netrc_path):
        return "online", None
    directory = Path(run_dir) / "wandb"
    return "offline", (
        f"wandb: no credentials found, logging offline to {directory}; "
        f"upload later with: wandb sync {directory}/offline-run-*"
    )


def _format_value(value: str) -> str:
    """Compact numbers for names: 0.0001 -> 1e-4, 0.0005 -> 5e-4, 0.5 -> 0.5."""
    try:
        number = float(value)
    except ValueError:
        return value.replace(" ", "").replace("[", "").replace("]", "").replace(",", "-")
    if number != 0 and abs(number) < 1e-2:
        mantissa, exponent = f"{number:.1e}".split("e")  # two significant digits: 1.1e-4
        return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
    return f"{number:.3g}"


def run_name(overrides: list[str]) -> str:
    """A run name from the job's overrides, e.g. ``hl_3_bs_16_ac_tanh_o_adam_lr_1e-4``; ``defaults`` if none."""
    parts = {}
    for override in overrides:
        key, _, value = override.lstrip("+").partition("=")
        if key.startswith(RUN_NAME_SKIPPED) or key.startswith("~"):
            continue
        parts[key] = value
    order = list(RUN_NAME_KEYS)
    ordered = sorted(parts, key=lambda key: (order.index(key) if key in order else len(order), key))
    tokens = [f"{RUN_NAME_KEYS.get(key, key.rpartition('.')[2])}_{_format_value(parts[key])}" for key in ordered]
    return "_".join(tokens) or "defaults"


def open_run(
    project: str,
    entity: str | None,
    mode: str | None,
    job_type: str,
    config: dict,
    run_dir: str | Path,
    name: str | None = None,
    group: str | None = None,
    run_id: str | None = None,
):
    """Start a wandb run that never prompts or waits; falls back to offline if an online start fails.
    With ``run_id``, a run of that id continues (a resumed training run logs into the same wandb run)."""
    import wandb  # on first use: wandb takes seconds to import, and runs with logger=none never need it

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    mode, hint = resolve_mode(mode, run_dir)
    if hint:
        log.warning("%s", hint)
    settings = wandb.Settings(init_timeout=30, silent=True, console="off")
    arguments = dict(
        project=project,
        entity=entity,
        job_type=job_type,
        config=config,
        dir=str(run_dir),
        name=name,
        group=group,
        settings=settings,
        reinit="finish_previous",
        **({"id": run_id, "resume": "allow"} if run_id else {}),
    )
    try:
        return wandb.init(mode=mode, **arguments)
    except Exception as error:  # a bad key or an unreachable server must not cost the run
        if mode != "online":
            raise
        log.warning("wandb: could not start online (%s: %s); logging offline instead", type(error).__name__, error)
        return wandb.init(mode="offline", **arguments)


class WandbLogger(Callback):
    """Logs config, per-epoch metrics (step = epoch), summary, confusion matrix and plots to wandb.

    ``run_id`` names the wandb run; a resumed training run passes the id it had, so its epochs after
    the restart continue the same wandb run (the epochs before it were logged the first time).
    """

    def __init__(
        self,
        project: str = "fmnist",
        entity: str | None = None,
        group: str | None = None,
        mode: str | None = None,
        *,
        run_config: dict,
        run_dir: str,
        overrides: list[str] = (),
        sweep_name: str | None = None,
        run_id: str | None = None,
    ):
        if mode is not None and mode not in (*MODES, "dryrun"):  # refused now, not after the data is loaded
            raise ValueError(
                f"logger.mode={mode!r} is not allowed: use one of {', '.join(MODES)}, or null to log "
                "online when wandb credentials exist and offline otherwise"
            )
        self.settings = dict(project=project, entity=entity, mode=mode, group=group or sweep_name)
        self.config = flatten(run_config)
        self.run_dir = Path(run_dir)
        self.name = run_name(list(overrides))
        self.run_id = run_id
        self.run = None
        self.class_names: list[str] = []

    def on_train_start(self, run: RunInfo) -> None:
        self.class_names = run.class_names
        self.run = open_run(
            job_type="train",
            config=self.config,
            run_dir=self.run_dir,
            name=self.name,
            run_id=self.run_id,
            **self.settings,
        )
        self.run.define_metric("epoch")
        self.run.define_metric("*", step_metric="epoch")

    def on_epoch_end(self, metrics: dict) -> None:
        self.run.log(dict(metrics))

    def on_train_end(self, result: TrainResult) -> None:
        if self.run is None:
            return
        import wandb  # as in open_run

        try:
            self.run.summary.update({**result.summary, "status": result.status, "message": result.message})
            images = {
                path.stem: wandb.Image(str(path))
                for path in (
                    self.run_dir / name for name in (LEARNING_CURVES_PNG, CONFUSION_MATRIX_PNG, MISCLASSIFIED_PNG)
                )
                if path.is_file()
            }
            if result.test_predictions is not None:
                images["confusion_matrix_interactive"] = wandb.plot.confusion_matrix(
                    y_true=result.test_labels.tolist(),
                    preds=result.test_predictions.tolist(),
                    class_names=self.class_names,
                    title="Test set confusion matrix",
                )
            if images:
                self.run.log(images)
        finally:
            if self.requeued_by_sweep(result):
                self.run.mark_preempting()
            self.run.finish(exit_code=0 if result.status in ("completed", "pruned") else 1)

    def requeued_by_sweep(self, result: TrainResult) -> bool:
        """Whether the run's sweep should run it again: stopped in a sweep by a signal that is not final."""
        return (
            result.status == "interrupted"
            and bool(self.run.sweep_id)
            and FINAL_STOP_SIGNAL not in (result.stopped_by or "")
        )
