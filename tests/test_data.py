"""Specification of fmnist.data.datasets: IDX parsing and its checks, where files come from, the splits."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from fmnist.data import datasets as data
from fmnist.data.datasets import DataError, find_dataset_files, load_dataset, read_idx, stratified_sample
from tests.conftest import FASHION_MNIST_DIR as REAL_FASHION_MNIST
from tests.idx_files import (
    balanced_labels,
    idx_bytes,
    make_blob_images,
    write_gz,
    write_idx_dataset,
    write_idx_images,
    write_idx_labels,
)


@pytest.fixture(autouse=True)
def isolated_sources(monkeypatch, tmp_path):
    """No system folder, an empty keras cache in tmp_path, and any download attempt fails the test."""
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def refuse_download(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(data.pooch, "retrieve", refuse_download)


@pytest.fixture
def dataset_folder(tmp_path) -> Path:
    return write_idx_dataset(tmp_path / "user", n_train=200, n_test=100)


def write_indexed_dataset(folder: Path, train_labels: np.ndarray, n_test: int = 50) -> Path:
    """A dataset whose image i stores i in its first two pixels, so splits can be traced back."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for prefix, labels in (("train", train_labels), ("t10k", balanced_labels(n_test, rng))):
        images = make_blob_images(labels, rng)
        index = np.arange(len(labels))
        images[:, 0, 0], images[:, 0, 1] = index % 256, index // 256
        write_idx_images(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_labels(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def image_index(features: np.ndarray) -> np.ndarray:
    """Invert ``write_indexed_dataset``: the index stored in each row's first two pixels."""
    pixels = np.rint(features[:, :2] * 255).astype(np.int64)
    return pixels[:, 0] + 256 * pixels[:, 1]


class FakeMirror:
    """Stands in for ``pooch.retrieve``: serves generated files and records each call."""

    def __init__(self, staging: Path):
        self.served = write_idx_dataset(staging)
        self.calls = []

    def __call__(self, url, known_hash, fname, path, progressbar):
        self.calls.append({"url": url, "known_hash": known_hash, "fname": fname, "path": Path(path)})
        Path(path).mkdir(parents=True, exist_ok=True)
        return shutil.copy(self.served / fname, Path(path) / fname)


# --- parsing -----------------------------------------------------------------------------------------


def test_read_idx_round_trips_gzipped_and_raw_files(tmp_path):
    rng = np.random.default_rng(0)
    labels = balanced_labels(30, rng)
    images = make_blob_images(labels, rng)
    write_idx_images(tmp_path / "images.gz", images)
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(tmp_path / "images.gz"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)
    assert read_idx(tmp_path / "images.gz").dtype == np.uint8
    assert not read_idx(tmp_path / "images.gz").flags.writeable  # safe to share from the cache


def test_load_dataset_flattens_and_scales_pixels_by_255(dataset_folder):
    images = read_idx(dataset_folder / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(dataset_folder / "t10k-labels-idx1-ubyte.gz")
    for dtype in ("float32", "float64"):
        splits = load_dataset("fashion_mnist", path=str(dataset_folder), dtype=dtype)
        assert splits.x_test.dtype == dtype and splits.x_test.shape == (100, 784)
        np.testing.assert_allclose(splits.x_test, images.reshape(100, 784) / 255.0, rtol=1e-6)
        assert splits.y_test.dtype == np.int64
        np.testing.assert_array_equal(splits.y_test, labels)
        assert 0.0 <= splits.x_train.min() and splits.x_train.max() <= 1.0


def test_returned_arrays_are_writable_copies_that_leave_the_cache_intact(dataset_folder):
    first = load_dataset("fashion_mnist", path=str(dataset_folder))
    first.x_test[:] = 0
    first.y_test[:] = 0
    second = load_dataset("fashion_mnist", path=str(dataset_folder))
    assert second.x_test.max() > 0 and second.y_test.max() == 9


def test_parsed_files_are_cached_until_the_file_changes(dataset_folder, monkeypatch):
    parsed = []
    monkeypatch.setattr(data, "read_idx", lambda path: parsed.append(Path(path).name) or read_idx(path))
    load_dataset("fashion_mnist", path=str(dataset_folder))
    load_dataset("fashion_mnist", path=str(dataset_folder))
    assert len(parsed) == 4
    write_idx_labels(dataset_folder / "t10k-labels-idx1-ubyte.gz", np.zeros(100, np.uint8))
    assert set(load_dataset("fashion_mnist", path=str(dataset_folder)).y_test) == {0}
    assert parsed[4:] == ["t10k-labels-idx1-ubyte.gz"]


def corrupt(folder: Path, file_name: str, payload: bytes) -> None:
    write_gz(folder / file_name, payload)


def images_of(folder: Path, prefix: str = "t10k") -> np.ndarray:
    return read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")


def labels_of(folder: Path, prefix: str = "t10k") -> np.ndarray:
    return read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")


CORRUPTIONS = {
    "bad magic (float data)": (
        "t10k-images-idx3-ubyte.gz",
        "magic number is 0x00000d03",
        lambda folder: corrupt(
            folder, "t10k-images-idx3-ubyte.gz", b"\x00\x00\x0d\x03" + idx_bytes(images_of(folder))[4:]
        ),
    ),
    "32x32 images": (
        "train-images-idx3-ubyte.gz",
        "32x32",
        lambda folder: write_idx_images(folder / "train-images-idx3-ubyte.gz", np.zeros((200, 32, 32), np.uint8)),
    ),
    "truncated payload": (
        "t10k-labels-idx1-ubyte.gz",
        "truncated: header says 100 labels (100 bytes of data) but the file holds 90 bytes",
        lambda folder: corrupt(folder, "t10k-labels-idx1-ubyte.gz", idx_bytes(labels_of(folder))[:-10]),
    ),
    "trailing bytes": (
        "t10k-labels-idx1-ubyte.gz",
        "too long",
        lambda folder: corrupt(folder, "t10k-labels-idx1-ubyte.gz", idx_bytes(labels_of(folder)) + b"\x00"),
    ),
    "gzip stream cut short": (
        "train-images-idx3-ubyte.gz",
        "corrupt gzip data",
        lambda folder: (folder / "train-images-idx3-ubyte.gz").write_bytes(
            (folder / "train-images-idx3-ubyte.gz").read_bytes()[:5000]
        ),
    ),
    "gzip header then garbage": (
        "t10k-images-idx3-ubyte.gz",
        "corrupt gzip data",
        lambda folder: (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(b"x")[:10] + b"this is not deflate data"
        ),
    ),
    "fewer labels than images": (
        "t10k-labels-idx1-ubyte.gz",
        "holds 100 images but",
        lambda folder: write_idx_labels(folder / "t10k-labels-idx1-ubyte.gz", labels_of(folder)[:90]),
    ),
    "label 10": (
        "train-labels-idx1-ubyte.gz",
        "label 10 at position 7 is outside 0..9",
        lambda folder: write_idx_labels(
            folder / "train-labels-idx1-ubyte.gz", np.where(np.arange(200) == 7, 10, labels_of(folder, "train"))
        ),
    ),
    "labels where images belong": (
        "t10k-images-idx3-ubyte.gz",
        "holds labels, expected images",
        lambda folder: shutil.copy(folder / "t10k-labels-idx1-ubyte.gz", folder / "t10k-images-idx3-ubyte.gz"),
    ),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_corrupt_file_raises_data_error_naming_the_file(dataset_folder, corruption):
    file_name, problem, damage = CORRUPTIONS[corruption]
    damage(dataset_folder)
    with pytest.raises(DataError) as error:
        load_dataset("fashion_mnist", path=str(dataset_folder))
    assert file_name in str(error.value)
    assert problem in str(error.value)


# --- where the files come from ------------------------------------------------------------------------


def test_user_folder_wins_over_system_folder_and_cache(dataset_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {"fashion_mnist": write_idx_dataset(tmp_path / "system")})
    write_idx_dataset(tmp_path / "keras" / "datasets" / "fashion-mnist")
    files = find_dataset_files("fashion_mnist", path=str(dataset_folder))
    assert {role: path.name for role, path in files.items()} == data.FILE_NAMES
    assert {path.parent for path in files.values()} == {dataset_folder}


def test_missing_user_folder_is_an_error_even_when_another_copy_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {"fashion_mnist": write_idx_dataset(tmp_path / "system")})
    with pytest.raises(DataError, match="dataset.path=.*nowhere: no such folder"):
        find_dataset_files("fashion_mnist", path=str(tmp_path / "nowhere"))


def test_user_folder_lacking_files_names_the_folder_and_the_missing_files(dataset_folder):
    (dataset_folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (dataset_folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as error:
        find_dataset_files("fashion_mnist", path=str(dataset_folder))
    message = str(error.value)
    assert str(dataset_folder) in message
    assert "lacks train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz." in message


def test_empty_user_folder_names_each_needed_file_once(tmp_path):
    with pytest.raises(DataError) as error:
        find_dataset_files("fashion_mnist", path=str(tmp_path))
    message = str(error.value)
    assert f"dataset.path={tmp_path} holds none of the four files it needs" in message
    assert all(message.count(name) == 1 for name in data.FILE_NAMES.values())


def test_uncompressed_files_are_accepted(dataset_folder):
    for gzipped in list(dataset_folder.iterdir()):
        gzipped.with_suffix("").write_bytes(gzip.decompress(gzipped.read_bytes()))
        gzipped.unlink()
    splits = load_dataset("fashion_mnist", path=str(dataset_folder))
    assert splits.x_test.shape == (100, 784)


def test_system_folder_is_used_when_no_path_is_given(tmp_path, monkeypatch):
    system = write_idx_dataset(tmp_path / "system")
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {"fashion_mnist": system})
    write_idx_dataset(tmp_path / "keras" / "datasets" / "fashion-mnist")
    files = find_dataset_files("fashion_mnist")
    assert {path.parent for path in files.values()} == {system}


def test_keras_cache_under_keras_home_is_used_when_there_is_no_system_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {"fashion_mnist": tmp_path / "not-installed"})
    cache = write_idx_dataset(tmp_path / "keras" / "datasets" / "fashion-mnist")
    files = find_dataset_files("fashion_mnist", download=False)
    assert {path.parent for path in files.values()} == {cache}


def test_download_fetches_each_file_into_the_cache_with_its_sha256(tmp_path, monkeypatch):
    mirror = FakeMirror(tmp_path / "mirror")
    monkeypatch.setattr(data.pooch, "retrieve", mirror)
    splits = load_dataset("fashion_mnist")
    cache = tmp_path / "keras" / "datasets" / "fashion-mnist"
    assert [call["fname"] for call in mirror.calls] == list(data.FILE_NAMES.values())
    assert {call["path"] for call in mirror.calls} == {cache}
    assert mirror.calls[0]["url"] == (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/train-images-idx3-ubyte.gz"
    )
    assert mirror.calls[0]["known_hash"] == "sha256:08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"
    assert splits.x_test.shape == (100, 784)


def test_mnist_downloads_from_its_mirror_into_mnist_idx_with_published_sha256(tmp_path, monkeypatch):
    mirror = FakeMirror(tmp_path / "mirror")
    monkeypatch.setattr(data.pooch, "retrieve", mirror)
    splits = load_dataset("mnist")
    labels_call = mirror.calls[3]
    assert labels_call["url"] == ("https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz")
    assert labels_call["known_hash"] == "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    assert labels_call["path"] == tmp_path / "keras" / "datasets" / "mnist-idx"
    assert splits.name == "mnist" and splits.class_names == [str(digit) for digit in range(10)]


def test_offline_fashion_mnist_says_how_to_fix_it(tmp_path, monkeypatch):
    def offline(**kwargs):
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(data.pooch, "retrieve", offline)
    with pytest.raises(DataError) as error:
        load_dataset("fashion_mnist")
    message = str(error.value)
    assert "download failed (ConnectionError: Name or service not known)" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "dataset.path=DIR" in message
    assert str(tmp_path / "keras" / "datasets" / "fashion-mnist") in message


def test_offline_mnist_says_there_is_no_debian_package_and_names_the_cache(tmp_path, monkeypatch):
    def offline(**kwargs):
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(data.pooch, "retrieve", offline)
    with pytest.raises(DataError) as error:
        load_dataset("mnist")
    message = str(error.value)
    assert "no Debian package of MNIST" in message
    assert "dataset.path=DIR" in message
    assert str(tmp_path / "keras" / "datasets" / "mnist-idx") in message


def test_download_off_and_nothing_found_raises_without_downloading():
    with pytest.raises(DataError, match=r"downloading is off \(dataset.download=false\)"):
        load_dataset("fashion_mnist", download=False)


def test_checksum_mismatch_on_download_raises_data_error(monkeypatch):
    def wrong_bytes(**kwargs):
        raise ValueError("SHA256 hash of downloaded file (abc) does not match the known hash (def).")

    monkeypatch.setattr(data.pooch, "retrieve", wrong_bytes)
    with pytest.raises(DataError, match="failed its checksum.*does not match the known hash"):
        load_dataset("fashion_mnist")


def test_mnist_loads_from_its_own_cache_folder(tmp_path):
    write_idx_dataset(tmp_path / "keras" / "datasets" / "mnist-idx", n_train=100, n_test=40)
    splits = load_dataset("mnist", download=False)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (90, 10, 40)
    assert splits.class_names == [str(digit) for digit in range(10)]


def test_unknown_dataset_name_lists_the_allowed_names():
    with pytest.raises(DataError, match="Unknown dataset 'cifar10': allowed are fashion_mnist, mnist"):
        load_dataset("cifar10")


# --- splits -------------------------------------------------------------------------------------------


def test_validation_split_is_seeded_disjoint_stratified_and_ten_percent(tmp_path):
    train_labels = balanced_labels(300, np.random.default_rng(2))
    folder = write_indexed_dataset(tmp_path / "indexed", train_labels)
    splits = load_dataset("fashion_mnist", path=str(folder), val_fraction=0.1, seed=5)
    train_index, val_index = image_index(splits.x_train), image_index(splits.x_val)
    assert len(val_index) == 30
    assert np.intersect1d(train_index, val_index).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train_index, val_index])), np.arange(300))
    np.testing.assert_array_equal(splits.y_val, train_labels[val_index])
    np.testing.assert_array_equal(np.bincount(splits.y_val), np.full(10, 3))
    np.testing.assert_array_equal(image_index(splits.x_test), np.arange(50))

    again = load_dataset("fashion_mnist", path=str(folder), val_fraction=0.1, seed=5)
    np.testing.assert_array_equal(image_index(again.x_val), val_index)
    other_seed = load_dataset("fashion_mnist", path=str(folder), val_fraction=0.1, seed=6)
    assert not np.array_equal(image_index(other_seed.x_val), val_index)


def test_validation_size_is_round_of_fraction_times_n_even_for_unbalanced_classes(tmp_path):
    train_labels = np.repeat(np.arange(10), [40, 33, 27, 21, 17, 13, 11, 7, 5, 3]).astype(np.uint8)  # 177
    folder = write_indexed_dataset(tmp_path / "indexed", train_labels)
    splits = load_dataset("fashion_mnist", path=str(folder), val_fraction=0.23)
    assert len(splits.y_val) == round(0.23 * 177) == 41
    assert len(splits.y_train) == 177 - 41


def test_zero_validation_fraction_keeps_the_whole_training_set(dataset_folder):
    splits = load_dataset("fashion_mnist", path=str(dataset_folder), val_fraction=0.0)
    assert splits.x_train.shape == (200, 784) and splits.x_val.shape == (0, 784)


@pytest.mark.parametrize("val_fraction", [-0.1, 1.0, 1.5])
def test_validation_fraction_outside_zero_to_one_is_rejected(dataset_folder, val_fraction):
    with pytest.raises(DataError, match=r"val_fraction=.* use a fraction in \[0, 1\)"):
        load_dataset("fashion_mnist", path=str(dataset_folder), val_fraction=val_fraction)


def test_stratified_sample_gives_each_class_its_share_rounded_down_or_up():
    labels = np.repeat(np.arange(10), [40, 33, 27, 21, 17, 13, 11, 7, 5, 3])
    class_sizes = np.bincount(labels)
    for count in (0, 1, 9, 41, 100, 176, 177):
        chosen = stratified_sample(labels, count, np.random.default_rng(count))
        assert len(chosen) == len(np.unique(chosen)) == count
        share = count * class_sizes / len(labels)
        taken = np.bincount(labels[chosen], minlength=10)
        assert np.all((taken == np.floor(share)) | (taken == np.ceil(share)))


def test_subset_keeps_n_stratified_training_images_outside_the_validation_set(tmp_path):
    train_labels = balanced_labels(300, np.random.default_rng(2))
    folder = write_indexed_dataset(tmp_path / "indexed", train_labels)
    full = load_dataset("fashion_mnist", path=str(folder), seed=3)
    small = load_dataset("fashion_mnist", path=str(folder), seed=3, subset=50)
    assert len(small.y_train) == 50
    np.testing.assert_array_equal(np.bincount(small.y_train), np.full(10, 5))
    assert np.isin(image_index(small.x_train), image_index(full.x_train)).all()
    np.testing.assert_array_equal(image_index(small.x_val), image_index(full.x_val))


@pytest.mark.parametrize("subset", [0, -5, 181, 2.5])
def test_subset_outside_one_to_training_size_is_rejected_with_the_range(dataset_folder, subset):
    with pytest.raises(DataError, match=f"subset={subset} is not allowed: use a whole number from 1 to 180"):
        load_dataset("fashion_mnist", path=str(dataset_folder), subset=subset)


def test_unknown_dtype_is_rejected(dataset_folder):
    with pytest.raises(DataError, match="dtype='float16' is not allowed"):
        load_dataset("fashion_mnist", path=str(dataset_folder), dtype="float16")


# --- the real data ------------------------------------------------------------------------------------

needs_real_fashion_mnist = pytest.mark.skipif(
    not REAL_FASHION_MNIST.is_dir(), reason="Debian package dataset-fashion-mnist not installed"
)


@needs_real_fashion_mnist
def test_debian_copies_hold_the_published_fashion_mnist_bytes():
    """Debian re-gzipped the files (so the .gz SHA-256s differ from the mirror's); the data inside
    matches the published SHA-256s of the uncompressed files."""
    published = {
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }
    for file_name, sha256 in published.items():
        content = gzip.decompress((REAL_FASHION_MNIST / file_name).read_bytes())
        assert hashlib.sha256(content).hexdigest() == sha256, file_name


@needs_real_fashion_mnist
def test_real_fashion_mnist_has_the_expected_shapes_range_and_balanced_classes():
    splits = load_dataset("fashion_mnist", path=str(REAL_FASHION_MNIST))
    assert splits.x_train.shape == (54000, 784) and splits.x_val.shape == (6000, 784)
    assert splits.x_test.shape == (10000, 784)
    assert splits.x_train.dtype == np.float32
    assert splits.x_train.min() == 0.0 and splits.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(splits.y_train), np.full(10, 5400))
    np.testing.assert_array_equal(np.bincount(splits.y_val), np.full(10, 600))
    np.testing.assert_array_equal(np.bincount(splits.y_test), np.full(10, 1000))
    assert splits.class_names[0] == "T-shirt/top" and splits.class_names[9] == "Ankle boot"


def test_split_seed_lets_runs_of_other_seeds_share_their_validation_set(tiny_idx_dir):
    def load(**seeds):
        return load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, **seeds)

    shared = [load(seed=seed, split_seed=7) for seed in (0, 1)]
    assert np.array_equal(shared[0].x_val, shared[1].x_val) and np.array_equal(shared[0].y_train, shared[1].y_train)
    assert np.array_equal(load(seed=7).x_val, shared[0].x_val)  # null split_seed: the run's seed decides
    assert not np.array_equal(load(seed=0).x_val, load(seed=1).x_val)
    with pytest.raises(DataError, match="dataset.split_seed='a' is not allowed: use a whole number, or null"):
        load(split_seed="a")


def test_load_data_returns_what_keras_datasets_returns_from_the_keras_cache(tmp_path):
    """((x_train, y_train), (x_test, y_test)): uint8 images (n, 28, 28) and labels (n,), the files' own
    order, unscaled and unsplit."""
    cache = write_idx_dataset(tmp_path / "keras" / "datasets" / "fashion-mnist", n_train=120, n_test=40)
    (x_train, y_train), (x_test, y_test) = data.load_data()
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == ((120, 28, 28), (120,), (40, 28, 28), (40,))
    assert {x_train.dtype, y_train.dtype, x_test.dtype, y_test.dtype} == {np.dtype(np.uint8)}
    for array, file_name in (
        (x_train, "train-images-idx3-ubyte.gz"),
        (y_train, "train-labels-idx1-ubyte.gz"),
        (x_test, "t10k-images-idx3-ubyte.gz"),
        (y_test, "t10k-labels-idx1-ubyte.gz"),
    ):
        np.testing.assert_array_equal(array, read_idx(cache / file_name))


KERAS_LOADER = """
import socket, sys
import numpy as np
def no_network(*args, **kwargs):
    raise AssertionError("keras tried to download")
socket.socket.connect = socket.create_connection = no_network
from keras.datasets import fashion_mnist
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
np.savez(sys.argv[1], x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
"""


@pytest.mark.slow  # keras (and torch) imported in a second process
@needs_real_fashion_mnist
def test_load_data_equals_keras_own_loader_on_the_files_in_keras_cache(tmp_path):
    """keras.datasets.fashion_mnist.load_data() reads $KERAS_HOME/datasets/fashion-mnist/ (here the
    Debian files, with the network cut so it cannot download); fmnist's load_data returns the same arrays."""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (pip install -r requirements-dev.txt)")

    shutil.copytree(REAL_FASHION_MNIST, tmp_path / "keras" / "datasets" / "fashion-mnist")
    theirs = tmp_path / "keras_arrays.npz"
    environment = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch")}
    subprocess.run([sys.executable, "-c", KERAS_LOADER, str(theirs)], env=environment, check=True, timeout=300)
    (x_train, y_train), (x_test, y_test) = data.load_data("fashion_mnist", download=False)
    with np.load(theirs) as keras_arrays:
        for name, ours in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test)):
            assert ours.dtype == keras_arrays[name].dtype and ours.shape == keras_arrays[name].shape, name
            np.testing.assert_array_equal(ours, keras_arrays[name], err_msg=name)
    assert x_train.shape == (60000, 28, 28) and y_test.shape == (10000,)


def test_standardize_uses_training_statistics_only_and_applies_them_to_every_split(tiny_idx_dir):
    plain = load_dataset("fashion_mnist", path=str(tiny_idx_dir), download=False, seed=0, dtype="float64")
    scaled = load_dataset(
        "fashion_mnist", path=str(tiny_idx_dir), download=False, seed=0, dtype="float64", standardize=True
    )
    mean, std = plain.x_train.mean(axis=0), plain.x_train.std(axis=0)
    std[std == 0] = 1.0
    for name in ("x_train", "x_val", "x_test"):
        np.testing.assert_allclose(getattr(scaled, name), (getattr(plain, name) - mean) / std, atol=1e-12)
    np.testing.assert_allclose(scaled.x_train.mean(axis=0), 0, atol=1e-12)
    varying = plain.x_train.std(axis=0) > 0
    np.testing.assert_allclose(scaled.x_train.std(axis=0)[varying], 1, rtol=1e-9)
    assert abs(scaled.x_test.mean()) > 1e-6  # the test set is scaled with the training statistics, not its own
    for name in ("x_val", "x_test"):  # what the plots draw: the pixels again, not standardised values
        np.testing.assert_allclose(scaled.pixels(getattr(scaled, name)), getattr(plain, name), atol=1e-12)
    assert plain.pixels(plain.x_test) is plain.x_test
