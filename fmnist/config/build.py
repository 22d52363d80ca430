"""Objects built from the config's ``_target_`` entries, with a constructor's complaint named by its key."""

from __future__ import annotations

import inspect
import logging

from hydra.errors import InstantiationException
from hydra.utils import get_class
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf

from fmnist.config.settings import ConfigError

log = logging.getLogger(__name__)


def instantiate(node: DictConfig, key: str, **kwargs):
    """``hydra.utils.instantiate`` with the constructor's own complaint surfaced as a ConfigError that names
    the key: a plain ``lr must be > 0, got -1`` about an argument becomes ``optimizer.lr must be > 0, got -1``."""
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = str(error.__cause__ or error)
        argument = cause.split(" ", 1)[0]
        raise ConfigError(f"{key}.{cause}" if argument in node else f"{key}: {cause}") from None


def without_unused_keys(node: DictConfig, key: str) -> DictConfig:
    """``node`` minus the keys its ``_target_`` does not accept, each dropped with a warning.

    The CLI adds a flag such as ``-beta`` to every optimiser of a multirun (``++optimizer.beta``);
    the optimisers that have no such hyperparameter ignore it here instead of failing.
    """
    try:
        accepted = set(inspect.signature(get_class(node._target_)).parameters)
    except Exception as error:
        raise ConfigError(f"{key}._target_ {node._target_!r} cannot be imported: {error}") from None
    unused = [name for name in node if name != "_target_" and name not in accepted]
    for name in unused:
        log.warning("%s.%s=%s is not used by %s; ignored", key, name, node[name], node._target_)
    return OmegaConf.masked_copy(node, [name for name in node if name not in unused])
