"""How the report shows values and runs."""

from __future__ import annotations

import math

from fmnist.runs.run_folders import Run
from fmnist.runs.tracking import RUN_NAME_KEYS


def format_value(value) -> str:
    """Short display form: 0.0001 -> 1e-4, 0.00011 -> 1.1e-4, 0.5 -> 0.5, [1024, 512] -> 1024-512."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "-".join(format_value(item) for item in value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value != 0 and abs(value) < 1e-2:
            mantissa, exponent = f"{value:.1e}".split("e")  # two significant digits
            return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
        return f"{value:.4g}"
    return str(value)


def run_label(run: Run, keys: list[str]) -> str:
    """``#7 o=nadam lr=1e-4``: the job and its values of ``keys``, short names in the order of run names."""
    order = list(RUN_NAME_KEYS)
    shown = sorted(
        (key for key in keys if key in run.config),
        key=lambda key: (order.index(key) if key in order else len(order), key),
    )
    parts = [f"{RUN_NAME_KEYS.get(key, key.rpartition('.')[2])}={format_value(run.config[key])}" for key in shown]
    return " ".join([f"#{run.name}", *parts])
