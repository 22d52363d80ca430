"""A config as dotted keys, and a value as a command line writes it."""

from __future__ import annotations


def flatten(config: dict, prefix: str = "") -> dict:
    """{'optimizer': {'lr': 0.1}} -> {'optimizer.lr': 0.1}."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def override_value(value) -> str:
    """A value in Hydra's override syntax: full precision, lists as [a,b], None as null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(item) for item in value) + "]"
    return str(value)
