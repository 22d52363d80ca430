"""The project's declarations agree: pyproject.toml's dependencies are requirements.txt's, and CI runs the
README's test command verbatim."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def requirement_lines(path) -> list[str]:
    return [
        line.split("#")[0].strip()
        for line in path.read_text().splitlines()
        if line.split("#")[0].strip() and not line.startswith("-r")
    ]


def test_pyproject_declares_the_runtime_dependencies_of_requirements_txt():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert declared == requirement_lines(ROOT / "requirements.txt")


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    command = readme.partition("pip install -q -r requirements-dev.txt")[2].partition("\n")[0]
    ci_last_line = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert command and ci_last_line == f"pip install -q -r requirements-dev.txt{command}"
    assert all(step in command for step in ("ruff check .", "ruff format --check .", "lint-imports"))
