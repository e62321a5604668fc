"""Chapter 10 serving: export formats agree, the HTTP contract (422 with a message for every bad input), the
lifespan, the ``serve`` command, and the load-test client. A tiny untrained MLP keeps the tests fast."""
import json
import keras
import numpy as np
import pytest

import bigmodel_lessons as bml
from bigmodel_lessons import loadtest, serving, vision
from bigmodel_lessons.exercises import _find

pytest.importorskip("fastapi", reason="fastapi is not installed (pip install fastapi)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
from fastapi.testclient import TestClient  # noqa: E402


@pytest.fixture(scope="module")
def model():
    keras.backend.clear_session()
    bml.seed_everything(0)
    return serving.with_preprocessing(vision.build_mlp())


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(64, 28, 28)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(model, images, tmp_path_factory):
    return serving.export_formats(model, tmp_path_factory.mktemp("models"), images)


@pytest.fixture
def client(exported):
    app = serving.create_app(exported["onnx"], serving.ServingSettings(max_batch=8, max_body_bytes=64_000))
    with TestClient(app) as c:
        yield c


# --------------------------------------------------------------------------- the served model and its formats
def test_preprocessing_inside_the_model_matches_scaling_by_hand(model, images):
    inner = model.layers[-1]
    np.testing.assert_allclose(model.predict(images, verbose=0),
                               inner.predict(images[..., None] / 255, verbose=0), atol=1e-6)


@pytest.mark.parametrize("fmt", ["keras", "savedmodel", "onnx"])
def test_every_format_gives_the_keras_probabilities(model, images, exported, fmt):
    """float32 throughout; tolerance 1e-5 (measured differences are about 1e-7)."""
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(serving.load_runtime(exported[fmt]).predict(images), expected, atol=1e-5)


def test_int8_model_is_smaller_and_close(model, images, exported):
    assert serving.file_size(exported["onnx_int8"]) < serving.file_size(exported["onnx"]) / 2
    probabilities = serving.load_runtime(exported["onnx_int8"]).predict(images)
    assert np.abs(probabilities - model.predict(images, verbose=0)).max() < 0.1


def test_keras_files_load_in_safe_mode_and_lambda_layers_are_refused(tmp_path):
    lam = keras.Sequential([keras.Input((28, 28)), keras.layers.Lambda(lambda x: x * 2)])
    lam.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        serving.load_runtime(tmp_path / "lam.keras")


@pytest.mark.parametrize("name, message", [("missing.onnx", "does not exist. Export one first"),
                                           ("model.h5", "expected a .onnx file, a .keras file")])
def test_missing_or_unsupported_model_files_fail_before_serving(tmp_path, name, message):
    path = tmp_path / name
    if name.endswith(".h5"):
        path.write_bytes(b"not a model")
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        serving.create_app(path)


def test_measure_runtime_reports_speed_and_accuracy(exported, images):
    result = serving.measure_runtime(serving.load_runtime(exported["onnx"]), images, np.zeros(64), repeats=5)
    assert result["p50 ms (1 image)"] > 0 and result["images/s (batch 256)"] > 0 and 0 <= result["accuracy"] <= 1


# --------------------------------------------------------------------------- the HTTP contract
def test_lifespan_loads_the_model_once_and_releases_it(exported):
    app = serving.create_app(exported["onnx"])
    assert not hasattr(app.state, "runtime")
    with TestClient(app) as c:
        runtime = app.state.runtime
        assert c.get("/health").json() == {"status": "ok", "model_loaded": True}
        c.post("/predict", json={"image": np.zeros((28, 28), int).tolist()})
        assert app.state.runtime is runtime
    assert app.state.runtime is None


def test_metadata_names_the_model_and_its_checksum(client, exported):
    meta = client.get("/metadata").json()
    assert meta["name"] == "digits" and meta["version"] == "1" and meta["input_shape"] == [None, 28, 28]
    assert meta["checksum"] == serving.model_checksum(exported["onnx"]) and meta["checksum"].startswith("sha256:")
    assert meta["runtime"] == "onnxruntime" and meta["max_batch"] == 8


def test_predict_one_image_and_a_batch_match_the_model(client, model, images):
    expected = model.predict(images[:3], verbose=0)
    one = client.post("/predict", json={"image": images[0].astype(int).tolist()})
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["digit"] == expected[0].argmax()
    np.testing.assert_allclose(body["probabilities"], expected[0], atol=1e-5)
    batch = client.post("/predict", content=loadtest.encode_images(images[:3]))
    assert batch.status_code == 200 and batch.json()["digits"] == expected.argmax(axis=1).tolist()
    assert "model;dur=" in batch.headers["server-timing"]


GOOD = np.full((28, 28), 7).tolist()


@pytest.mark.parametrize("body, message", [
    ({"image": np.zeros((27, 28), int).tolist()}, r"wrong shape: expected \(28, 28\), got \(27, 28\)"),
    ({"images": np.zeros((2, 28, 27), int).tolist()}, r"expected \(n, 28, 28\), got \(2, 28, 27\)"),
    ({"image": np.zeros(784, int).tolist()}, r"got \(784,\)"),
    ({"image": [["7"] * 28] * 28}, "pixels must be numbers 0-255; got text"),
    ({"image": [[None] * 28] * 28}, "got text, null or mixed"),
    ({"image": [[True] * 28] * 28}, "got true/false"),
    ({"image": [[0.5] * 28] * 28}, "whole numbers 0-255 .*got 0.5. If you scaled"),
    ({"image": [[300] * 28] * 28}, "must lie in 0-255; got values from 300 to 300"),
    ({"image": [[-1] * 28] * 28}, "got values from -1 to -1"),
    ({"images": []}, "empty batch"),
    ({"images": [GOOD] * 9}, "batch too large: 9 images, the limit is 8"),
    ({"image": GOOD[:27] + [GOOD[0][:27]]}, "rows have different lengths"),
    ({"pixels": GOOD}, 'exactly one key: "image" .* got \\[\'pixels\'\\]'),
    ({"image": GOOD, "images": [GOOD]}, "exactly one key"),
    ([GOOD], "got list"),
])
def test_bad_requests_get_422_with_the_reason(client, body, message):
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert __import__("re").search(message, response.json()["detail"]), response.json()["detail"]
    assert client.get("/health").status_code == 200  # still serving


def test_nan_and_malformed_json_get_422(client):
    nan_body = json.dumps({"image": [[float("nan")] * 28] * 28})  # Python's json writes NaN, and reads it back
    response = client.post("/predict", content=nan_body)
    assert response.status_code == 422 and "784 NaN or infinite" in response.json()["detail"]
    response = client.post("/predict", content=b'{"image": [[0, 1,')
    assert response.status_code == 422 and response.json()["detail"].startswith("the body is not valid JSON")
    response = client.post("/predict", content=b"\xff\xfe")
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]


def test_a_body_over_the_limit_gets_413_declared_or_streamed(client):
    big = loadtest.encode_images(np.zeros((30, 28, 28)))  # ~47 KB... over the 64,000-byte test limit when padded
    big = big + b" " * (70_000 - len(big))
    response = client.post("/predict", content=big)
    assert response.status_code == 413 and "request body too large: 70,000 bytes" in response.json()["detail"]
    response = client.post("/predict", content=iter([big[:40_000], big[40_000:]]))  # chunked: no Content-Length
    assert response.status_code == 413 and "over 64,000 bytes" in response.json()["detail"]


def test_default_limits_fit_a_full_batch_of_white_images():
    body = loadtest.encode_images(np.full((serving.MAX_BATCH, 28, 28), 255))
    assert len(body) < serving.MAX_BODY_BYTES
    assert len(json.dumps({"images": np.full((serving.MAX_BATCH, 28, 28), 255).tolist()})) < serving.MAX_BODY_BYTES


def test_predictions_are_logged_without_pixels_and_with_pseudonyms(exported, tmp_path):
    log = tmp_path / "predictions.jsonl"
    app = serving.create_app(exported["onnx"], serving.ServingSettings(log_file=str(log)))
    with TestClient(app) as c:
        c.post("/predict", json={"images": [GOOD, GOOD]}, headers={"X-Client-Id": "customer-42"})
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 2 and set(rows[0]) == {"time", "client", "digit", "confidence", "mean_pixel", "ink_fraction"}
    assert rows[0]["client"] == rows[1]["client"] and "customer-42" not in log.read_text()
    assert rows[0]["mean_pixel"] == 7 and rows[0]["ink_fraction"] == 0


# --------------------------------------------------------------------------- exercises
@pytest.mark.parametrize("answer, ok", [("normalisation", True), ("Normalization", True), ("归一化", True),
                                        ("augmentation", False), ("cleaning", False)])
def test_inside_the_model_exercise(answer, ok):
    assert _find("10_from_model_to_product.inside_the_model").is_correct(answer) is ok


def _reference_validator(image):
    X, _ = serving.parse_images({"image": image})
    return X[0]


def test_validate_image_exercise_accepts_a_real_validator_and_rejects_weak_ones():
    ex = _find("10_from_model_to_product.validate_image")
    assert ex.is_correct(_reference_validator)

    def shape_only(image):
        X = np.asarray(image, dtype=float)
        if X.shape != (28, 28):
            raise ValueError("shape")
        return X

    assert not ex.is_correct(shape_only)
    assert not ex.is_correct(lambda image: np.asarray(image))
