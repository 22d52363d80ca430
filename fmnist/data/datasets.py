"""Fashion-MNIST and MNIST: find the IDX files, check them, split them, scale them.

Where the four files (``FILE_NAMES``) come from, first match wins:

1. ``path``, the folder the user gives (``dataset.path=DIR``). If given, it is the only place looked
   at: a missing folder or file is an error, never a silent fall-back to another copy.
2. The system folder of the dataset's Debian package (``SYSTEM_FOLDERS``; only Fashion-MNIST has one:
   ``sudo apt-get install dataset-fashion-mnist``).
3. The download cache, which is keras's own: ``$KERAS_HOME/datasets/fashion-mnist/`` (``KERAS_HOME``
   defaults to ``~/.keras``), so a copy keras already fetched is reused. Keras keeps MNIST as one
   ``mnist.npz`` instead of IDX files, so MNIST's four files live beside it in
   ``$KERAS_HOME/datasets/mnist-idx/``.
4. A download into that cache from the canonical mirror (the one keras uses for Fashion-MNIST), each
   file checked against its SHA-256 (``DATASETS``) by pooch, which writes atomically.

Every file is parsed and checked wherever it came from (``read_idx``); local copies are not hashed,
so users may bring their own. Parsed files are cached in memory per process, keyed by path, size and
modification time. Each file may also sit uncompressed in a folder (the name without ``.gz``).
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pooch

from fmnist import IMAGE_SHAPE

#: The four files of an IDX dataset, by role.
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

IMAGES_MAGIC = 0x00000803  # 0x08: unsigned bytes; 0x03: three dimensions (n, rows, columns)
LABELS_MAGIC = 0x00000801  # 0x08: unsigned bytes; 0x01: one dimension (n,)
NUM_CLASSES = 10
GZIP_MAGIC = b"\x1f\x8b"

#: Folders where a system package installs a dataset (tests monkeypatch this).
SYSTEM_FOLDERS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}

_REPLACE_HINT = "Delete it (a file in the download cache is then downloaded again) or replace it with an intact copy."


@dataclass(frozen=True)
class DatasetSource:
    """Where one dataset comes from and what its classes are called."""

    title: str
    class_names: tuple[str, ...]
    mirror: str  # URL prefix; each file is mirror + file name
    sha256: dict[str, str]  # file name -> SHA-256 of the gzipped file on the mirror
    cache_subfolder: str  # under $KERAS_HOME/datasets/
    debian_package: str | None


DATASETS = {
    "fashion_mnist": DatasetSource(
        title="Fashion-MNIST",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        mirror="https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        # The files Zalando published (same bytes on keras's mirror). The Debian package's copies
        # differ: they were re-gzipped without the file name in the header, same data inside.
        sha256={
            "train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
            "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
            "t10k-images-idx3-ubyte.gz": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
            "t10k-labels-idx1-ubyte.gz": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
        },
        cache_subfolder="fashion-mnist",
        debian_package="dataset-fashion-mnist",
    ),
    "mnist": DatasetSource(
        title="MNIST",
        class_names=tuple(str(digit) for digit in range(10)),
        mirror="https://storage.googleapis.com/cvdf-datasets/mnist/",
        sha256={
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        cache_subfolder="mnist-idx",  # keras's own "mnist.npz" sits one level up, untouched
        debian_package=None,
    ),
}


class DataError(Exception):
    """Raised with a message written for the user (what, which file, how to fix)."""


@dataclass
class DataSplits:
    """A dataset split three ways: features (n, 784) in [0, 1], labels (n,) int64 class indices."""

    name: str
    class_names: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    pixel_mean: np.ndarray | None = None  # μ, σ of ``standardize_pixels``; None: features are the pixels
    pixel_std: np.ndarray | None = None

    def pixels(self, features: np.ndarray) -> np.ndarray:
        """The images behind ``features`` as pixels in [0, 1], for drawing: x·σ + μ after
        ``dataset.standardize``, else the features themselves."""
        if self.pixel_mean is None:
            return features
        return features * self.pixel_std.astype(features.dtype) + self.pixel_mean.astype(features.dtype)


def load_data(
    name: str = "fashion_mnist", *, path: str | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((x_train, y_train), (x_test, y_test))`` as ``keras.datasets.<name>.load_data()`` returns them.

    uint8 arrays, read-only: images (60000, 28, 28) and (10000, 28, 28), labels (60000,) and (10000,)
    in 0..9, in the files' order, neither split nor scaled. The files are found as for training (module
    docstring: ``path``, the system folder, keras's cache, a download), so a notebook written for
    ``keras.datasets.fashion_mnist`` runs offline without keras.
    """
    files = find_dataset_files(name, path, download)
    train = _read_image_label_pair(files["train_images"], files["train_labels"])
    test = _read_image_label_pair(files["test_images"], files["test_labels"])
    return train, test


def load_dataset(
    name: str,
    path: str | None = None,
    val_fraction: float = 0.1,
    subset: int | None = None,
    download: bool = True,
    seed: int = 0,
    dtype: str = "float32",
    split_seed: int | None = None,
    standardize: bool = False,
) -> DataSplits:
    """Load a dataset, hold out a validation set and scale pixels to [0, 1].

    - ``val_fraction`` of the official training set becomes the validation set
      (``stratified_sample`` with ``np.random.default_rng(split_seed)``, ``seed`` when ``split_seed`` is
      None: exactly round(val_fraction * n) images, each class contributing its share rounded down or
      up). The test set is untouched. Runs of different seeds that must share their validation set
      (members of an ensemble) give the same ``split_seed``.
    - ``subset=N`` then keeps N of the remaining training images, drawn the same way.
    - Features are x = pixel / 255 as ``dtype`` (float32 or float64), shape (n, 784); with
      ``standardize``, then standardised per pixel (:func:`standardize_pixels`).
    """
    source = dataset_source(name)
    if not 0 <= val_fraction < 1:
        raise DataError(f"dataset.val_fraction={val_fraction} is not allowed: use a fraction in [0, 1), e.g. 0.1.")
    if dtype not in ("float32", "float64"):
        raise DataError(f"dtype={dtype!r} is not allowed: use 'float32' or 'float64'.")
    if not isinstance(standardize, bool):
        raise DataError(f"dataset.standardize={standardize!r} is not allowed: use true or false.")
    (train_images, train_labels), (test_images, test_labels) = load_data(name, path=path, download=download)

    if split_seed is not None and (isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer))):
        raise DataError(
            f"dataset.split_seed={split_seed!r} is not allowed: use a whole number, or null to split "
            "with the run's seed."
        )
    rng = np.random.default_rng(seed if split_seed is None else split_seed)
    val_index = stratified_sample(train_labels, round(val_fraction * len(train_labels)), rng)
    train_index = np.setdiff1d(np.arange(len(train_labels)), val_index)
    if len(train_index) == 0:
        raise DataError(
            f"dataset.val_fraction={val_fraction} leaves no training images out of "
            f"{len(train_labels)}: use a smaller fraction."
        )
    if subset is not None:
        is_whole_number = isinstance(subset, (int, np.integer)) and not isinstance(subset, bool)
        if not is_whole_number or not 1 <= subset <= len(train_index):
            raise DataError(
                f"dataset.subset={subset} is not allowed: use a whole number from 1 to "
                f"{len(train_index)} (the training images left after the validation split), "
                "or null for all of them."
            )
        train_index = train_index[stratified_sample(train_labels[train_index], subset, rng)]

    splits = DataSplits(
        name=name,
        class_names=list(source.class_names),
        x_train=_to_features(train_images[train_index], dtype),
        y_train=train_labels[train_index].astype(np.int64),
        x_val=_to_features(train_images[val_index], dtype),
        y_val=train_labels[val_index].astype(np.int64),
        x_test=_to_features(test_images, dtype),
        y_test=test_labels.astype(np.int64),
    )
    if standardize:
        standardize_pixels(splits)
    return splits


def standardize_pixels(splits: DataSplits) -> None:
    """Per-pixel standardisation, in place, with statistics of the training split only:

        μ_j = mean_i x_ij,   σ_j = std_i x_ij   over the training images i, for each pixel j
        x_ij <- (x_ij - μ_j) / σ_j   (σ_j = 1 where a pixel never varies) for training, validation and test

    Zero then means "the average training image", which is also what shifts move in and cutout blanks with.
    """
    mean = splits.x_train.mean(axis=0, dtype=np.float64)
    std = splits.x_train.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    for features in (splits.x_train, splits.x_val, splits.x_test):
        features -= mean.astype(features.dtype)
        features /= std.astype(features.dtype)
    splits.pixel_mean, splits.pixel_std = mean, std


def batch_size_warning(batch_size: int, train_images: int) -> str | None:
    """The warning for a batch larger than the training set, or None: each epoch is then a single step on
    the whole set, never what the batch size asked for."""
    if batch_size <= train_images:
        return None
    return (
        f"trainer.batch_size={batch_size} is larger than the training set ({train_images} images), so each "
        f"epoch is one step on all {train_images}; use -b/trainer.batch_size of at most {train_images}, or "
        "train on more images (dataset.subset)"
    )


def dataset_source(name: str) -> DatasetSource:
    """The ``DatasetSource`` of ``name``; a ``DataError`` listing the allowed names otherwise."""
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}: allowed are {', '.join(DATASETS)} (e.g. dataset=mnist).")
    return DATASETS[name]


def stratified_sample(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``count`` items drawn without replacement, each class getting its share.

    Class c with n_c of the n items gets q_c = floor(count n_c / n) items, and the
    count - sum_c q_c items still owed go one each to the classes with the largest remainders
    (count n_c mod n; ties to the lower class): largest-remainder apportionment. So the total is
    exactly ``count`` and each class's share is its proportional share rounded down or up.
    Which items of a class are drawn is a uniform random choice made with ``rng``.
    """
    classes, class_sizes = np.unique(labels, return_counts=True)
    quotas, remainders = np.divmod(count * class_sizes, len(labels))
    owed = count - quotas.sum()
    quotas[np.argsort(-remainders, kind="stable")[:owed]] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == label))[:quota] for label, quota in zip(classes, quotas)]
    return np.sort(np.concatenate(chosen))


def _to_features(images: np.ndarray, dtype: str) -> np.ndarray:
    """(n, 28, 28) uint8 -> (n, 784) ``dtype`` with x = pixel / 255 in [0, 1]."""
    features = images.reshape(len(images), math.prod(IMAGE_SHAPE)).astype(dtype)
    features /= 255
    return features


def find_dataset_files(name: str, path: str | None = None, download: bool = True) -> dict[str, Path]:
    """The four files of dataset ``name`` by role (the keys of ``FILE_NAMES``), located or downloaded.

    Looks in ``path`` only if it is given; otherwise in the system folder, then the download cache,
    then downloads into the cache if ``download`` (see the module docstring).
    """
    source = dataset_source(name)
    if path is not None:
        return _files_in_user_folder(Path(path).expanduser())
    searched = [folder for folder in (SYSTEM_FOLDERS.get(name), download_cache_folder(name)) if folder is not None]
    for folder in searched:
        found, missing = _files_in(folder)
        if not missing:
            return found
    if not download:
        raise DataError(
            _not_found_message(
                source,
                searched,
                "downloading is off (dataset.download=false)",
                "run again with dataset.download=true (the default) once online",
            )
        )
    try:
        return _download(source, download_cache_folder(name))
    except ValueError as error:  # pooch: the SHA-256 of the downloaded file is not the known one
        raise DataError(
            f"{source.title}: a downloaded file failed its checksum, so it was not kept: {error} "
            f"The mirror {source.mirror} may have changed. Get the four files another way and "
            "pass dataset.path=DIR."
        ) from error
    except OSError as error:  # no network, HTTP error (requests' errors are OSErrors), unwritable cache
        reason = f"the download failed ({type(error).__name__}: {error})"
        raise DataError(_not_found_message(source, searched, reason, "run again once online")) from error


def download_cache_folder(name: str) -> Path:
    """``$KERAS_HOME/datasets/<cache_subfolder>``; ``KERAS_HOME`` defaults to ``~/.keras``, as in keras."""
    keras_home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    return keras_home / "datasets" / dataset_source(name).cache_subfolder


def _files_in(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """The files of ``FILE_NAMES`` present in ``folder`` (gzipped or not) by role, and the names missing."""
    found, missing = {}, []
    for role, file_name in FILE_NAMES.items():
        candidates = (folder / file_name, folder / file_name.removesuffix(".gz"))
        present = [candidate for candidate in candidates if candidate.is_file()]
        if present:
            found[role] = present[0]
        else:
            missing.append(file_name)
    return found, missing


def _files_in_user_folder(folder: Path) -> dict[str, Path]:
    """All four files from the folder the user named, or a ``DataError`` saying what is missing."""
    expected = ", ".join(FILE_NAMES.values())
    if not folder.is_dir():
        raise DataError(
            f"dataset.path={folder}: no such folder. Pass a folder holding {expected}, "
            "or leave dataset.path unset to use the system copy or the download cache."
        )
    found, missing = _files_in(folder)
    if len(missing) == len(FILE_NAMES):
        raise DataError(f"dataset.path={folder} holds none of the four files it needs, gzipped or not: {expected}.")
    if missing:
        raise DataError(
            f"dataset.path={folder} lacks {', '.join(missing)}. The folder must hold all four "
            f"files, gzipped or not: {expected}."
        )
    return found


def _download(source: DatasetSource, folder: Path) -> dict[str, Path]:
    """Fetch the files missing from ``folder`` (pooch skips those whose hash already matches)."""
    files = {}
    for role, file_name in FILE_NAMES.items():
        files[role] = Path(
            pooch.retrieve(
                url=source.mirror + file_name,
                known_hash="sha256:" + source.sha256[file_name],
                fname=file_name,
                path=folder,
                progressbar=sys.stderr.isatty(),
            )
        )
    return files


def _not_found_message(source: DatasetSource, searched: list[Path], reason: str, download_fix: str) -> str:
    """What to tell a user when no copy was found and none could be downloaded; ``download_fix`` says how
    the download can still work (turn it on, or get online)."""
    cache = searched[-1]
    if source.debian_package:
        local_fix = f"install the Debian package: sudo apt-get install {source.debian_package}"
    else:
        local_fix = f"there is no Debian package of {source.title}; copy the four files into {cache}"
    return "\n".join(
        [
            f"{source.title} was not found and {reason}.",
            f"Looked for {', '.join(FILE_NAMES.values())} in:",
            *(f"  {folder}" for folder in searched),
            "To fix it, do one of:",
            f"  - {local_fix}",
            "  - put the four files in a folder DIR and pass dataset.path=DIR",
            f"  - {download_fix}; the files are saved in {cache}",
        ]
    )


def read_idx(path: str | Path) -> np.ndarray:
    """Parse one IDX file of unsigned bytes, gzipped or raw: images (n, 28, 28) or labels (n,).

    Layout, big-endian: a 4-byte magic 0x0000TTDD (TT = 0x08, unsigned bytes; DD = number of
    dimensions), DD 4-byte sizes, then prod(sizes) data bytes in row-major order. Accepted are
    images (magic 0x00000803, sizes n, 28, 28) and labels (magic 0x00000801, size n).
    Returns a read-only uint8 array. Raises ``DataError`` naming the file on corrupt gzip data, a bad
    magic number, images that are not 28x28, or data longer or shorter than the header says.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: truncated: {len(data)} bytes, too short for an IDX header. {_REPLACE_HINT}")
    magic = int.from_bytes(data[:4], "big")
    if magic not in (IMAGES_MAGIC, LABELS_MAGIC):
        raise DataError(
            f"{path}: not an IDX file of images or labels: its magic number is 0x{magic:08x} "
            f"(expected 0x{IMAGES_MAGIC:08x} for images or 0x{LABELS_MAGIC:08x} for labels, "
            f"both unsigned bytes). {_REPLACE_HINT}"
        )
    num_dimensions = magic & 0xFF
    header_size = 4 + 4 * num_dimensions
    if len(data) < header_size:
        raise DataError(
            f"{path}: truncated: the header needs {header_size} bytes, the file holds {len(data)}. {_REPLACE_HINT}"
        )
    shape = tuple(int.from_bytes(data[offset : offset + 4], "big") for offset in range(4, header_size, 4))
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    if kind == "images" and shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{path}: images are {shape[1]}x{shape[2]} pixels, expected "
            f"{IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}. {_REPLACE_HINT}"
        )
    expected_size, held_size = math.prod(shape), len(data) - header_size
    if held_size != expected_size:
        problem = "truncated" if held_size < expected_size else "too long"
        raise DataError(
            f"{path}: {problem}: header says {shape[0]} {kind} ({expected_size} bytes of data) "
            f"but the file holds {held_size} bytes of data. {_REPLACE_HINT}"
        )
    return np.frombuffer(data, np.uint8, count=expected_size, offset=header_size).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped if it starts with the gzip magic bytes."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror}).") from error
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: corrupt gzip data ({error}). {_REPLACE_HINT}") from error


def _read_idx_remembered(path: Path) -> np.ndarray:
    """``read_idx``, parsing each version of a file (path, size, modification time) once per process."""
    status = path.stat()
    return _read_idx_cached(path.resolve(), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: Path, size: int, modified_ns: int) -> np.ndarray:
    """``read_idx`` with a cache key: the arrays are read-only, so sharing them is safe."""
    return read_idx(path)


def _read_image_label_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) and labels (n,) uint8 from two files, checked to be a matching pair."""
    images, labels = _read_idx_remembered(images_path), _read_idx_remembered(labels_path)
    if images.ndim != 3:
        raise DataError(
            f"{images_path}: holds labels, expected images (magic 0x{IMAGES_MAGIC:08x}). Are two files' names swapped?"
        )
    if labels.ndim != 1:
        raise DataError(
            f"{labels_path}: holds images, expected labels (magic 0x{LABELS_MAGIC:08x}). Are two files' names swapped?"
        )
    out_of_range = np.flatnonzero(labels >= NUM_CLASSES)
    if out_of_range.size:
        first = out_of_range[0]
        raise DataError(
            f"{labels_path}: label {labels[first]} at position {first} is outside "
            f"0..{NUM_CLASSES - 1} ({out_of_range.size} of {len(labels)} labels are); "
            f"this is not a 10-class label file. {_REPLACE_HINT}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; they must pair up one to one. Replace the file that does not belong."
        )
    if len(images) == 0:
        raise DataError(f"{images_path} and {labels_path} hold no images. {_REPLACE_HINT}")
    return images, labels
