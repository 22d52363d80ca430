"""Puts ``studies/conf`` on Hydra's config search path, so the study presets kept apart from ``conf/`` (what
users pick) are still reached as ``+study=NAME`` from any working directory."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from fmnist import STUDIES_CONF_DIR


class StudiesSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="fmnist-studies", path=f"file://{STUDIES_CONF_DIR}")
