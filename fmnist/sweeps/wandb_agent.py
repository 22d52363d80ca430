"""A run started by ``wandb agent``: who sends it SIGTERM, so that the run can say it was stopped by its sweep.

The agent starts each run of a sweep with ``WANDB_SWEEP_ID`` and ``WANDB_RUN_ID`` in its environment. When
the sweep stops a run (its ``early_terminate`` rule, or a stop from the sweep's page), the agent sends
SIGTERM, and SIGKILL 30 s later (``WANDB_AGENT_KILL_DELAY``; wandb/wandb_agent.py, ``_command_stop``). The
run ends at the next batch boundary (:mod:`fmnist.runs.signals`), well inside those 30 s: status
``interrupted``, ``stopped_by`` naming the agent, the checkpoint of its last complete epoch kept, so that
rerunning its command in its folder continues it (docs/sweep-efficiency.md).
"""

from __future__ import annotations

import os
import signal

SWEEP_ID, RUN_ID = "WANDB_SWEEP_ID", "WANDB_RUN_ID"


def signal_senders(environ=os.environ) -> dict[signal.Signals, str]:
    """Who sends which stop signal: SIGTERM comes from the wandb sweep agent in a run it started, else {}."""
    if not environ.get(SWEEP_ID):
        return {}
    return {signal.SIGTERM: f"the wandb sweep agent (sweep {environ[SWEEP_ID]}, run {environ.get(RUN_ID, '?')})"}
