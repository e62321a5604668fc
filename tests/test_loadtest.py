"""Chapter 10 load testing: the ``serve`` command in a child process (started, answering, always stopped) and
the load-test client (bounded, local only, percentiles in order, every failed request counted)."""
import http.server
import importlib.util
import itertools
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest

import bigmodel_lessons as bml
from bigmodel_lessons import loadtest, serving, vision

# the serve command needs uvicorn and onnxruntime; the load-test client alone needs neither
needs_serving = pytest.mark.skipif(
    importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="uvicorn or onnxruntime is not installed (pip install uvicorn onnxruntime)")


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


@needs_serving
def test_a_server_that_cannot_start_says_why(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(RuntimeError, match="the server exited with code"):
        loadtest.LocalServer(bad).start()


@needs_serving
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


@needs_serving
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


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``POST /predict`` with 200, except that it drops the connection without an answer on every
    ``server.drop_every``-th request, and answers every request with ``server.status`` when that is set."""
    protocol_version = "HTTP/1.1"  # keep-alive, as the server under test
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            n = next(self.server.counter)
        if self.server.drop_every and n % self.server.drop_every == 0:
            self.close_connection = True  # hang up: the client sees a dropped connection, no status
            return
        answer = b'{"digit": 1}' if self.server.status == 200 else b'{"detail": "expected shape (28, 28)"}'
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("Server-Timing", "json;dur=0.1, validate;dur=0.1, model;dur=0.2")
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def flaky_server():
    def start(drop_every=0, status=200):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyHandler)
        server.daemon_threads = True
        server.lock, server.counter, server.drop_every, server.status = threading.Lock(), itertools.count(1), drop_every, status
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server

    servers = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_dropped_connections_are_counted_as_errors_and_every_request_is_made(flaky_server):
    """A connection error once killed its worker thread: 8 requests, 0 errors reported out of 40."""
    url, server = flaky_server(drop_every=3)
    result = loadtest.load_test(url, b"{}", 1, concurrency=4, n_requests=40)
    assert next(server.counter) - 1 == 40  # the server received every request
    assert result["requests"] == 40 and result["errors"] == 40 // 3
    assert result["first error"] and not result["first error"].startswith("HTTP ")  # e.g. RemoteDisconnected: ...
    assert result["requests/s"] > 0 and result["p50 ms"] <= result["p99 ms"] and result["server model ms"] == pytest.approx(0.2)


def test_answers_other_than_200_are_errors_with_their_message(flaky_server):
    url, _ = flaky_server()
    assert loadtest.load_test(url, b"{}", 1, concurrency=2, n_requests=6)["first error"] is None
    url, _ = flaky_server(status=422)
    with pytest.raises(RuntimeError, match=r"none of the 6 requests.*HTTP 422: .*expected shape.*check the body"):
        loadtest.load_test(url, b"{}", 1, concurrency=2, n_requests=6)


def test_a_load_test_without_a_server_says_to_start_it():
    url = f"http://127.0.0.1:{loadtest.free_port()}"
    with pytest.raises(RuntimeError, match=rf"none of the 10 requests to {url}/predict succeeded.*"
                                           r"Is the server running\? Start it"):
        loadtest.load_test(url, b"{}", 1, concurrency=2, n_requests=10)
