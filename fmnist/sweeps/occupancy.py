"""How busy a sweep kept its slots: the share of its wall time during which all of them ran a job.

The Optuna sweeper records when each job started and ended and writes ``SWEEP_DIR/occupancy.json``;
benchmarks/sweep_efficiency.py prints its ``busy_share``.
"""

from __future__ import annotations

import json
from pathlib import Path

from fmnist.runs.outputs import write_json_atomically

OCCUPANCY_FILE = "occupancy.json"


def busy_share(spans: list[tuple[float, float]], slots: int, began: float, ended: float) -> float:
    """The fraction of [began, ended] during which at least ``slots`` jobs ran:

        busy = |{t in [began, ended] : n(t) >= slots}| / (ended - began),   n(t) = #{i : start_i <= t < end_i}

    1.0 when every slot was always busy; a batch that waits for its slowest job lowers it.
    """
    if ended <= began:
        return 0.0
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running, busy, previous = 0, 0.0, began
    for moment, change in events:
        moment = min(max(moment, began), ended)
        if running >= slots:
            busy += moment - previous
        running, previous = running + change, moment
    if running >= slots:
        busy += ended - previous
    return busy / (ended - began)


def write_occupancy(
    sweep_dir: str | Path, spans: list[tuple[float, float]], slots: int, began: float, ended: float
) -> float:
    """Write ``occupancy.json`` (the jobs' start and end times, the slots, the busy share) in ``sweep_dir``;
    returns the busy share. Each sweeper process of a shared sweep folder rewrites it with its own jobs."""
    share = busy_share(spans, slots, began, ended)
    write_json_atomically(
        Path(sweep_dir) / OCCUPANCY_FILE,
        {
            "slots": slots,
            "began": began,
            "ended": ended,
            "busy_share": share,
            "jobs": [{"started": start, "ended": end} for start, end in spans],
        },
    )
    return share


def read_busy_share(sweep_dir: str | Path) -> float:
    """The busy share the sweeper recorded in ``sweep_dir``."""
    return json.loads((Path(sweep_dir) / OCCUPANCY_FILE).read_text())["busy_share"]
