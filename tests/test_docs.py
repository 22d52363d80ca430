"""The manual: the mkdocs site builds strictly (a broken link or heading fails), and every command that
README.md and docs/*.md show in a fenced block runs as written: train.py commands compose through the flag
shim and Hydra, tools and benchmarks have the options the command names; nothing trains."""

from __future__ import annotations

import functools
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from fmnist.front.cli import rewrite_argv
from tests.conftest import CONF_DIR, ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def fenced_commands(path: Path) -> list[str]:
    """The command lines of a Markdown file's fenced shell blocks (continuations joined, comments and a
    leading ``$ `` prompt dropped)."""
    commands, fenced, language, pending = [], False, "", ""
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced, language = not fenced, line[3:].strip()
            continue
        if not fenced or language not in ("", "bash", "sh", "console"):
            continue
        line = pending + line.removeprefix("$ ")
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        command = line.partition("  #")[0].partition(" # ")[0].strip()
        if command.startswith(("python ", "wandb sweep ")):
            commands.append(command)
    return commands


COMMANDS = [(path, command) for path in DOCUMENTS for command in fenced_commands(path)]


def test_the_readme_and_the_docs_show_commands():
    readme_commands = [command for path, command in COMMANDS if path.name == "README.md"]
    assert len(readme_commands) >= 10
    assert any(command.startswith("python -m fmnist.tools.") for command in readme_commands)
    assert {path.name for path, _ in COMMANDS} >= {"README.md", "flags-and-configs.md", "sweeps-and-clusters.md"}


def one_job(overrides: list[str]) -> list[str]:
    """A multirun's overrides with each swept key at its first value (an interval at its low end)."""
    job = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            try:
                value = next(iter(override.sweep_string_iterator()))
            except ValueError:  # interval(lo, hi): not enumerable
                value = str(override.value().start)
            job.append(f"{override.get_key_element()}={value}")
        else:
            job.append(override.input_line)
    return job


def check_train_command(words: list[str]) -> None:
    argv = rewrite_argv(["train.py", *words])[1:]  # the flag shim: exits 2 on a bad flag or value
    if "--help" in argv:
        return
    overrides = [word for word in argv if word not in ("--multirun", "-m", "--cfg", "job")]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        compose(config_name="config", overrides=one_job(overrides), return_hydra_config=True)


@functools.cache
def help_of(*program: str) -> str:
    process = subprocess.run(
        [sys.executable, *program, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert process.returncode == 0, process.stderr
    return process.stdout


@pytest.mark.parametrize("path, command", COMMANDS, ids=[f"{path.name}: {command}" for path, command in COMMANDS])
def test_every_documented_command_runs_as_written(path, command):
    words = shlex.split(command)
    if words[:2] == ["wandb", "sweep"]:
        assert (ROOT / words[2]).is_file()
    elif words[:2] == ["python", "train.py"]:
        check_train_command(words[2:])
    else:
        program = words[1:3] if words[1] == "-m" else words[1:2]
        assert words[1] == "-m" or (ROOT / words[1]).is_file(), f"{words[1]} does not exist"
        options = [word.partition("=")[0] for word in words[len(program) + 1 :] if word.startswith("--")]
        text = help_of(*program)
        assert all(option in text for option in options), f"{command}: an option {program} does not have"


def test_the_docs_site_builds_strictly(tmp_path):
    """mkdocs.yml sets strict and checks anchors: a broken link, a link to a missing heading or a page left out
    of the nav fails."""
    process = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert process.returncode == 0, process.stderr
    assert (tmp_path / "index.html").is_file()
