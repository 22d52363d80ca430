"""python -m fmnist.tools.samples: one image per class, and a clear error without data."""

from __future__ import annotations

import matplotlib.image
import pytest

from fmnist.tools.samples import main


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist"])
def test_sample_grid_is_written_for_the_dataset(dataset, tiny_idx_dir, tmp_path, capsys):
    arguments = [f"dataset={dataset}", f"dataset.path={tiny_idx_dir}", "dataset.download=false", "logger=none"]
    assert main([*arguments, "--out", str(tmp_path)]) == 0
    path = tmp_path / f"samples_{dataset}.png"
    assert capsys.readouterr().out.strip() == str(path)
    assert matplotlib.image.imread(path).shape[0] > 200


def test_missing_data_folder_exits_2_with_the_folder_named(tmp_path, capsys):
    missing = tmp_path / "no_data"
    assert main([f"dataset.path={missing}", "logger=none", "--out", str(tmp_path)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_sample_grid_is_logged_to_an_offline_wandb_run(tiny_idx_dir, tmp_path, monkeypatch, capsys):
    from tests.test_tracking import read_offline_run

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert main([f"dataset.path={tiny_idx_dir}", "dataset.download=false", "--out", str(tmp_path)]) == 0
    records = read_offline_run(tmp_path)
    logged = [record["history"]["item"] for record in records if record["type"] == "history"]
    assert any("samples" in key for item in logged for key in item)
    (run,) = [record["run"] for record in records if record["type"] == "run"]
    assert run["display_name"] == "samples-fashion_mnist"


def test_an_out_folder_that_cannot_be_written_exits_2_naming_it(tiny_idx_dir, tmp_path, capsys):
    in_the_way = tmp_path / "a_file"
    in_the_way.write_text("not a folder\n")
    arguments = [f"dataset.path={tiny_idx_dir}", "dataset.download=false", "logger=none"]
    assert main([*arguments, "--out", str(in_the_way)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out {in_the_way}: cannot write there (")
    assert "pass a folder you can write to" in error
