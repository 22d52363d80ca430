"""Run train.py in this process and send it a signal at a chosen moment, as a crash, ``kill``,
SLURM or Ctrl-C would:

    python tests/killer.py MOMENT N SIGNAL [train.py arguments ...]

MOMENT  step        after the N-th optimiser step (counted over the whole process, so over the jobs
                    of a multirun too)
        checkpoint  while writing the N-th checkpoint: its temporary file is complete, not yet renamed
        final       as the N-th final evaluation (validation + test after the last epoch) begins
SIGNAL  KILL, TERM, INT, USR1, USR2: sent by this process to itself at that moment
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fire_on_call(owner, name: str, count: int, signum: int, when=lambda *args: True, before: bool = False) -> None:
    """Wrap ``owner.name`` so that its ``count``-th call for which ``when(*args)`` holds sends ``signum``."""
    original = getattr(owner, name)
    calls = 0

    def wrapper(*args, **kwargs):
        nonlocal calls
        hit = when(*args) and (calls := calls + 1) == count
        if hit and before:
            os.kill(os.getpid(), signum)
        value = original(*args, **kwargs)
        if hit and not before:
            os.kill(os.getpid(), signum)
        return value

    setattr(owner, name, wrapper)


def main() -> None:
    moment, count, signal_name, *arguments = sys.argv[1:]
    signum, count = getattr(signal, f"SIG{signal_name}"), int(count)
    sys.path.insert(0, str(ROOT))
    if moment == "step":
        from fmnist.core.optim import Optimizer

        fire_on_call(Optimizer, "step", count, signum)
    elif moment == "checkpoint":
        fire_on_call(
            os, "replace", count, signum, when=lambda source, target: Path(target).name == "last.npz", before=True
        )
    elif moment == "final":
        from fmnist.training.trainer import Trainer

        fire_on_call(Trainer, "_final_evaluation", count, signum, before=True)
    else:
        raise SystemExit(f"unknown moment {moment!r}: use step, checkpoint or final")
    sys.argv = [str(ROOT / "train.py"), *arguments]
    runpy.run_path(str(ROOT / "train.py"), run_name="__main__")


if __name__ == "__main__":
    main()
