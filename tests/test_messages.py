"""Messages a newcomer meets: missing data, a batch larger than the training set, evaluate's usage."""

from __future__ import annotations

import pytest
import requests

from fmnist.data import datasets as data
from fmnist.data.datasets import DataError, batch_size_warning, load_dataset
from fmnist.tools.evaluate import main as evaluate_main


@pytest.fixture
def nothing_found(monkeypatch, tmp_path):
    """No system copy, an empty keras cache, and every download fails as it does offline."""
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def offline(**kwargs):
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(data.pooch, "retrieve", offline)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_a_failed_download_does_not_advise_turning_on_what_is_on(name, nothing_found):
    with pytest.raises(DataError) as error:
        load_dataset(name)
    message = str(error.value)
    assert "the download failed" in message and "run again once online" in message
    assert "dataset.download=true" not in message


def test_with_downloading_off_the_message_says_how_to_turn_it_on(nothing_found):
    with pytest.raises(DataError) as error:
        load_dataset("mnist", download=False)
    assert "downloading is off (dataset.download=false)" in str(error.value)
    assert "run again with dataset.download=true" in str(error.value)


@pytest.mark.parametrize("batch_size, train_images", [(100_000, 3000), (256, 5)])
def test_a_batch_larger_than_the_training_set_is_named_with_the_largest_useful_size(batch_size, train_images):
    warning = batch_size_warning(batch_size, train_images)
    assert f"trainer.batch_size={batch_size} is larger than the training set ({train_images} images)" in warning
    assert f"at most {train_images}" in warning and "dataset.subset" in warning


@pytest.mark.parametrize("batch_size", [1, 2999, 3000])
def test_a_batch_that_fits_the_training_set_gives_no_warning(batch_size):
    assert batch_size_warning(batch_size, 3000) is None


def test_evaluate_without_arguments_asks_only_for_the_run_folder(capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main([])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "required: run_dir" in message and "overrides" not in message.partition("required")[2]
