"""Chapter 10 load testing: the ``serve`` command in a child process (started, answering, always stopped) and
the load-test client (bounded, local only, percentiles in order)."""
import subprocess
import sys

import keras
import numpy as np
import pytest

import bigmodel_lessons as bml
from bigmodel_lessons import loadtest, serving, vision

pytest.importorskip("uvicorn", reason="uvicorn is not installed (pip install uvicorn)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(8, 28, 28)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.backend.clear_session()
    bml.seed_everything(0)
    path = tmp_path_factory.mktemp("models") / "digits.onnx"
    model = serving.with_preprocessing(vision.build_mlp())
    model(np.zeros((1, 28, 28), np.float32))  # Keras exports only a model that has been called once
    model.export(path, format="onnx", verbose=False)
    return {"onnx": path}


def test_encode_images_gives_the_request_body():
    X = np.arange(784).reshape(28, 28) % 256
    assert loadtest.encode_images(X) == ('{"image":' + str(X.tolist()).replace(" ", "") + "}").encode()
    assert loadtest.encode_images(np.stack([X, X])).startswith(b'{"images":[[[0,1,2')


def test_a_server_that_cannot_start_says_why(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(RuntimeError, match="the server exited with code"):
        loadtest.LocalServer(bad).start()


def test_serve_command_starts_answers_and_stops(exported, images):
    with loadtest.running_server(exported["onnx"]) as url:
        assert url.startswith("http://127.0.0.1:")
        status, meta = loadtest.get(url, "/metadata")
        assert status == 200 and meta["name"] == "digits"
        result = loadtest.load_test(url, loadtest.encode_images(images[:4]), 4, concurrency=2, n_requests=10)
        assert result["requests"] == 10 and result["errors"] == 0 and result["images/s"] > 0
        assert result["p50 ms"] <= result["p95 ms"] <= result["p99 ms"] and result["server model ms"] > 0
    with pytest.raises(OSError):
        loadtest.get(url, "/health", timeout=1)


def test_serve_command_reports_a_missing_model_clearly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bigmodel_lessons", "serve", str(tmp_path / "nope.onnx")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "does not exist. Export one first" in proc.stderr


@pytest.mark.parametrize("url", ["http://example.com:80", "https://127.0.0.1:8000", "http://10.0.0.1:8000"])
def test_load_tests_only_run_against_this_machine(url):
    with pytest.raises(ValueError, match="only against this machine"):
        loadtest.load_test(url, b"{}", 1, concurrency=1)


def test_load_test_bounds_are_enforced():
    with pytest.raises(ValueError, match="keep load tests small"):
        loadtest.load_test("http://127.0.0.1:9", b"{}", 1, concurrency=1000)
