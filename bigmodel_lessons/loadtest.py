"""Chapter 10: the served model from the outside — a local server in a child process, and a load-test client.

``LocalServer`` runs ``bigmodel-lessons serve`` on 127.0.0.1 and a free port and always stops it (also when the
kernel exits). ``load_test`` sends one request body from several threads with keep-alive connections, bounded
in count and time, and only ever to this machine: p50/p95/p99 latency, requests/s and images/s, plus the
server's own time split from its ``Server-Timing`` header. A failed request (a dropped connection, an answer
other than HTTP 200) is counted as an error and the test goes on; a test where none succeeds says why.
"""
from __future__ import annotations

import atexit
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

LOCAL_HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 180  # seconds; generous, for a .keras model (TensorFlow) on a busy 2-core machine


# --------------------------------------------------------------------------- a local server in a subprocess
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOCAL_HOST, 0))
        return s.getsockname()[1]


def get(url: str, path: str, timeout: float = 5.0) -> tuple[int, dict]:
    """``GET url + path`` on this machine: ``(status, decoded JSON)``."""
    host, port = _local_host_port(url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# ``bigmodel-lessons serve`` minus the package's __init__, which imports TensorFlow for the notebooks: an ONNX
# model then starts in seconds and takes ~100 MB instead of ~900 MB (a .keras or SavedModel model still imports
# TensorFlow when it loads). argv: the package folder, then the command line.
_SERVE_WITHOUT_TENSORFLOW = """
import sys, types
package = types.ModuleType("bigmodel_lessons")
package.__path__ = [sys.argv[1]]
sys.modules["bigmodel_lessons"] = package
from bigmodel_lessons.cli import main
sys.exit(main(sys.argv[2:]))
"""


class LocalServer:
    """``bigmodel-lessons serve`` (without TensorFlow, see above) in a child process on 127.0.0.1 and a free port.

    ``start()`` waits until ``/health`` answers; ``stop()`` ends it. It is also stopped when the Python process
    exits (a notebook kernel that fails or shuts down), so no server outlives its notebook.
    """

    def __init__(self, model_path, log_file=None, timeout_s: float = SERVER_START_TIMEOUT_S):
        self.port = free_port()
        self.url = f"http://{LOCAL_HOST}:{self.port}"
        self.command = [sys.executable, "-c", _SERVE_WITHOUT_TENSORFLOW, str(Path(__file__).resolve().parent),
                        "serve", str(model_path), "--port", str(self.port)]
        if log_file is not None:
            self.command += ["--log-file", str(log_file)]
        self.timeout_s = timeout_s
        self.process = None

    def start(self) -> "LocalServer":
        self.output = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(self.command, stdout=self.output, stderr=subprocess.STDOUT,
                                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        atexit.register(self.stop)
        deadline = time.monotonic() + self.timeout_s
        while True:
            if self.process.poll() is not None:
                self.output.seek(0)
                message = f"the server exited with code {self.process.returncode}:\n{self.output.read()[-2000:]}"
                self.stop()
                raise RuntimeError(message)
            try:
                if get(self.url, "/health", timeout=1.0)[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not answer /health within {self.timeout_s} s.")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.output.close()
        atexit.unregister(self.stop)

    def __enter__(self) -> str:
        return self.start().url

    def __exit__(self, *exc) -> None:
        self.stop()


def running_server(model_path, log_file=None, timeout_s: float = SERVER_START_TIMEOUT_S) -> LocalServer:
    """``with running_server(path) as url: ...``: a :class:`LocalServer`, stopped when the block ends."""
    return LocalServer(model_path, log_file, timeout_s)


# --------------------------------------------------------------------------- load test
def _local_host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in (LOCAL_HOST, "localhost") or parts.port is None:
        raise ValueError(f"load tests run only against this machine: expected http://127.0.0.1:PORT, got {url!r}.")
    return parts.hostname, parts.port


def encode_images(images) -> bytes:
    """The JSON body for one image ``(28, 28)`` or a batch ``(n, 28, 28)`` of raw pixels."""
    X = np.asarray(images)
    key = "image" if X.ndim == 2 else "images"
    return json.dumps({key: X.astype(int).tolist()}, separators=(",", ":")).encode()


def _server_timing(header: str) -> dict[str, float]:
    parts = (item.strip().split(";dur=") for item in header.split(",") if ";dur=" in item)
    return {name: float(ms) for name, ms in parts}


def load_test(url: str, body: bytes, images_per_request: int, concurrency: int, n_requests: int = 200,
              time_limit_s: float = 10.0) -> dict[str, float]:
    """POST ``body`` to ``url``/predict from ``concurrency`` threads (one keep-alive connection each) until
    ``n_requests`` are done or ``time_limit_s`` passes. Only 127.0.0.1 is allowed.

    Returns latency percentiles (ms), requests/s, images/s, the error count, and the server's own mean
    time per request for JSON decoding, validation and the model (from its ``Server-Timing`` header).
    ``requests`` counts every request sent; ``errors`` those that failed, with ``first error`` saying how (a
    dropped or refused connection, or an answer other than HTTP 200; ``None`` when none failed). Latencies,
    requests/s and images/s count the successful requests only. A failed connection is reopened and the
    load test goes on; when no request succeeds at all, it raises ``RuntimeError`` saying why.
    """
    host, port = _local_host_port(url)
    if not (1 <= concurrency <= 64 and 1 <= n_requests <= 10_000 and 0 < time_limit_s <= 120):
        raise ValueError("keep load tests small: 1 <= concurrency <= 64, 1 <= n_requests <= 10,000, "
                         f"0 < time_limit_s <= 120; got {concurrency}, {n_requests}, {time_limit_s}.")
    lock, latencies, timings, failures, crashes = threading.Lock(), [], [], [], []
    remaining, sent = [n_requests], [0]
    deadline = time.perf_counter() + time_limit_s

    def send(connection) -> str | None:
        """One request: ``None`` when it succeeded, else what went wrong."""
        start = time.perf_counter()
        try:
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as err:
            connection.close()  # the next request opens a fresh connection
            return f"{type(err).__name__}: {err}"
        seconds = time.perf_counter() - start
        if response.status != 200:
            return f"HTTP {response.status}: {answer[:200].decode(errors='replace')}"
        with lock:
            latencies.append(seconds)
            timings.append(_server_timing(response.getheader("Server-Timing", "")))
        return None

    def worker():
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                    sent[0] += 1
                failure = send(connection)
                if failure is not None:
                    with lock:
                        failures.append(failure)
        except BaseException as err:  # anything else: re-raised in the caller, never a silently dead thread
            crashes.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if crashes:
        raise crashes[0]
    if not latencies:
        hint = ("Is the server running? Start it first (loadtest.LocalServer(model_path).start(), or "
                "`bigmodel-lessons serve MODEL_PATH --port PORT`) and pass the URL it prints."
                if not failures or not failures[0].startswith("HTTP ") else
                "The server answered but refused the request: check the body (loadtest.encode_images).")
        raise RuntimeError(f"none of the {sent[0]} requests to {url}/predict succeeded "
                           f"({len(failures)} failed; the first: {failures[0] if failures else 'none sent'}). {hint}")
    ms = 1e3 * np.array(latencies)
    result = {"concurrency": concurrency, "images/request": images_per_request, "requests": sent[0],
              "errors": len(failures), "first error": failures[0] if failures else None,
              "p50 ms": float(np.percentile(ms, 50)), "p95 ms": float(np.percentile(ms, 95)),
              "p99 ms": float(np.percentile(ms, 99)), "requests/s": len(ms) / seconds,
              "images/s": len(ms) * images_per_request / seconds}
    for part in ("json", "validate", "model"):
        result[f"server {part} ms"] = float(np.mean([t.get(part, np.nan) for t in timings]))
    return result
