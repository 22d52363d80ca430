"""python -m fmnist.samples: one image per class, and a clear error without data."""
from __future__ import annotations

import matplotlib.image

from fmnist.samples import main


def test_sample_grid_is_written_for_the_dataset(tiny_idx_dir, tmp_path, capsys):
    assert main([f"dataset.path={tiny_idx_dir}", "dataset.download=false", "logger=none", "--out", str(tmp_path)]) == 0
    path = tmp_path / "samples_fashion_mnist.png"
    assert capsys.readouterr().out.strip() == str(path)
    assert matplotlib.image.imread(path).shape[0] > 200


def test_missing_data_folder_exits_2_with_the_folder_named(tmp_path, capsys):
    missing = tmp_path / "no_data"
    assert main([f"dataset.path={missing}", "logger=none", "--out", str(tmp_path)]) == 2
    assert str(missing) in capsys.readouterr().err
