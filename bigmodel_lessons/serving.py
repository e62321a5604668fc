"""Chapter 10: from model to product — the served model, export formats, a FastAPI service, a load-test client.

The served model takes *raw* pixels: float32 ``(n, 28, 28)`` holding whole numbers 0–255, as a camera or a
browser canvas gives them. Scaling lives inside the model (:func:`with_preprocessing`), so the server cannot
scale twice or forget to (training/serving skew). The HTTP contract, on ``POST /predict``::

    {"image": [[0, 0, ..., 255], ...]}          one 28×28 image   -> {"digit", "confidence", "probabilities"}
    {"images": [[[...]], ...]}                  a batch (n,28,28) -> {"digits", "confidences", "probabilities"}

Bad input gets HTTP 422 (413 for a body over the size limit) with a ``detail`` that says what was wrong and
how to fix it. References: FastAPI's "Lifespan Events" and "Testing Events" pages; ONNX export through
``keras.Model.export(format="onnx")`` (tf2onnx); onnxruntime's static quantisation. The load-test client is in
:mod:`bigmodel_lessons.loadtest`, monitoring and drift in :mod:`bigmodel_lessons.monitoring`.
"""
from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .exercises import exercise

STEM = "10_from_model_to_product"
IMAGE_SHAPE = (28, 28)
INPUT_NAME = "pixels"
MAX_BATCH = 512  # images per request
MAX_BODY_BYTES = 4 * 2**20  # 512 images at ≤ 4 KB of JSON each ("255, " × 784) fit with room to spare
LOCAL_HOST = "127.0.0.1"
FORMATS = ("keras", "savedmodel", "onnx", "onnx_int8")


def _require(module: str, package: str):
    """Import an optional dependency, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RuntimeError(f"{package} is needed for serving but is not installed; fix with: "
                           f'{sys.executable} -m pip install "{package}"  (or: make setup)') from err


# --------------------------------------------------------------------------- the served model
def with_preprocessing(model):
    """Wrap a chapter 05 classifier (float32 ``(n, 28, 28, 1)`` in [0, 1]) into a model that takes raw pixels
    ``(n, 28, 28)`` 0–255: ``Rescaling(1/255) → Reshape → model``. Export this one, so the server never scales."""
    from .env import quiet_tensorflow

    keras = quiet_tensorflow()
    pixels = keras.Input(shape=IMAGE_SHAPE, dtype="float32", name=INPUT_NAME)
    x = keras.layers.Rescaling(1 / 255, name="scale_0_1")(pixels)
    x = keras.layers.Reshape((*IMAGE_SHAPE, 1), name="add_channel")(x)
    return keras.Model(pixels, model(x), name=f"{model.name}_raw_pixels")


# --------------------------------------------------------------------------- export
def quantize_int8(onnx_path, calibration_images, out_path) -> Path:
    """Post-training static int8 quantisation with onnxruntime (QDQ format): weights int8, activations uint8
    with ranges calibrated on ``calibration_images`` (raw pixels, a few hundred are enough)."""
    quantization = _require("onnxruntime.quantization", "onnxruntime")
    X = check_pixels(np.asarray(calibration_images, dtype=np.float32))

    class Batches(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter(np.array_split(X, max(1, len(X) // 64)))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # the quantiser logs general advice at WARNING on the root logger
    try:
        quantization.quantize_static(str(onnx_path), str(out_path), Batches(),
                                     quant_format=quantization.QuantFormat.QDQ,
                                     weight_type=quantization.QuantType.QInt8,
                                     activation_type=quantization.QuantType.QUInt8)
    finally:
        root.setLevel(level)
    return Path(out_path)


def export_formats(model, folder, calibration_images) -> dict[str, Path]:
    """Save a raw-pixel model (:func:`with_preprocessing`) in every format of the chapter: ``.keras``, a
    TensorFlow SavedModel folder, ONNX and int8 ONNX. Returns format -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"keras": folder / "digits.keras", "savedmodel": folder / "digits_savedmodel",
             "onnx": folder / "digits.onnx", "onnx_int8": folder / "digits.int8.onnx"}
    model.save(paths["keras"])
    model.export(paths["savedmodel"], format="tf_saved_model", verbose=False)
    _require("tf2onnx", "tf2onnx")
    with warnings.catch_warnings():  # keras' tf2onnx patch probes np.object, which numpy 2 warns about
        warnings.simplefilter("ignore", FutureWarning)
        model.export(paths["onnx"], format="onnx", verbose=False)
    quantize_int8(paths["onnx"], calibration_images, paths["onnx_int8"])
    return paths


def file_size(path) -> int:
    """Bytes on disk: the file, or everything inside a folder (a SavedModel)."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- runtimes
class Runtime:
    """A loaded model: ``predict(X)`` maps raw pixels float32 ``(n, 28, 28)`` to probabilities ``(n, 10)``."""

    kind = ""
    chunk = 512  # images per call: a 10,000-image call would hold gigabytes of convolution activations

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.concatenate([self._predict_batch(X[i:i + self.chunk]) for i in range(0, max(len(X), 1), self.chunk)])

    def _predict_batch(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxRuntime(Runtime):
    kind = "onnxruntime"

    def __init__(self, path: Path):
        ort = _require("onnxruntime", "onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one core for the model, one for HTTP and JSON on a 2-core machine
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _predict_batch(self, X):
        return self.session.run(None, {INPUT_NAME: X})[0]


class KerasRuntime(Runtime):
    kind = "keras"

    def __init__(self, path: Path):
        from .env import quiet_tensorflow

        # safe_mode=True refuses to deserialise Python code (Lambda layers): a model file is a program
        self.model = quiet_tensorflow().saving.load_model(path, safe_mode=True)

    def _predict_batch(self, X):
        return np.asarray(self.model.predict_on_batch(X))


class SavedModelRuntime(Runtime):
    kind = "tensorflow savedmodel"

    def __init__(self, path: Path):
        from .env import quiet_tensorflow

        quiet_tensorflow()
        import tensorflow as tf

        self.saved = tf.saved_model.load(str(path))  # keep the object: its function refers to its variables

    def _predict_batch(self, X):
        return self.saved.serve(X).numpy()


def load_runtime(path) -> Runtime:
    """Load a model file for serving: ``.onnx`` (onnxruntime), ``.keras`` (safe mode) or a SavedModel folder."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist. Export one first, e.g. "
                                "serving.export_formats(serving.with_preprocessing(model), 'models', images).")
    if path.is_dir() and (path / "saved_model.pb").exists():
        return SavedModelRuntime(path)
    if path.suffix == ".onnx":
        return OnnxRuntime(path)
    if path.suffix == ".keras":
        return KerasRuntime(path)
    raise ValueError(f"cannot serve {path}: expected a .onnx file, a .keras file or a SavedModel folder "
                     "(with saved_model.pb). Re-save other formats (.h5, pickles) with model.save('name.keras').")


def model_checksum(path) -> str:
    """``sha256:<hex>`` of the model file (of every file, in name order, for a SavedModel folder)."""
    import hashlib

    path = Path(path)
    digest = hashlib.sha256()
    for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.read_bytes())
    return f"sha256:{digest.hexdigest()}"


def measure_runtime(runtime: Runtime, X, y, repeats: int = 100, batch_size: int = 256) -> dict[str, float]:
    """In-process speed and accuracy: single-image p50 latency (ms), batch throughput (images/s), accuracy."""
    X = check_pixels(np.asarray(X, dtype=np.float32))
    runtime.predict(X[:1])  # warm-up: first calls build kernels and caches
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        runtime.predict(X[i % len(X)][None])
        times.append(time.perf_counter() - start)
    batch = X[:batch_size]
    runtime.predict(batch)
    start, images = time.perf_counter(), 0
    while images < 10 * batch_size or time.perf_counter() - start < 0.5:
        runtime.predict(batch)
        images += len(batch)
    probabilities = np.concatenate([runtime.predict(b) for b in np.array_split(X, max(1, len(X) // batch_size))])
    return {"p50 ms (1 image)": 1e3 * float(np.median(times)),
            "images/s (batch 256)": images / (time.perf_counter() - start),
            "accuracy": float(np.mean(probabilities.argmax(axis=1) == np.asarray(y)))}


# --------------------------------------------------------------------------- request validation
class RequestError(ValueError):
    """A request the server refuses; ``status`` is the HTTP code (422 unusable content, 413 too large)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def check_pixels(X: np.ndarray) -> np.ndarray:
    """Check a float array of raw pixels ``(..., 28, 28)``: finite, whole numbers, 0–255. Raises ``RequestError``."""
    if not np.isfinite(X).all():
        raise RequestError(f"pixels must be finite numbers; got {int((~np.isfinite(X)).sum())} NaN or infinite "
                           "value(s). Replace them with 0-255 pixel values.")
    if not (X == np.round(X)).all():
        sample = X[X != np.round(X)].flat[0]
        raise RequestError(f"pixels must be whole numbers 0-255 (raw grayscale); got {sample:g}. If you scaled "
                           "the image to [0, 1], send the raw pixels instead: the model scales them itself.")
    low, high = float(X.min()), float(X.max())
    if low < 0 or high > 255:
        raise RequestError(f"pixels must lie in 0-255; got values from {low:g} to {high:g}.")
    return X


def parse_images(payload, max_batch: int = MAX_BATCH) -> tuple[np.ndarray, bool]:
    """Turn a decoded JSON body into float32 raw pixels ``(n, 28, 28)`` and whether it was one image.

    The body is ``{"image": 28×28 nested list}`` or ``{"images": n×28×28}`` with ``1 ≤ n ≤ max_batch``.
    Anything else raises :class:`RequestError` with the reason and the fix.
    """
    if not isinstance(payload, dict) or len({"image", "images"} & payload.keys()) != 1 or len(payload) != 1:
        got = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise RequestError('send a JSON object with exactly one key: "image" (one 28x28 image) or "images" '
                           f"(a list of 28x28 images); got {got}.")
    single = "image" in payload
    try:
        X = np.asarray(payload["image" if single else "images"])
    except ValueError:  # ragged rows: numpy refuses inhomogeneous nesting
        raise RequestError("the rows have different lengths; every image must be 28 lists of 28 numbers.") from None
    if X.dtype.kind not in "iuf":
        raise RequestError(f"pixels must be numbers 0-255; got {'true/false' if X.dtype.kind == 'b' else 'text, null or mixed values'}"
                           " in the image. Send plain JSON numbers, e.g. [[0, 12, 255, ...], ...].")
    expected = IMAGE_SHAPE if single else (None, *IMAGE_SHAPE)
    if not single and X.shape[:1] == (0,):
        raise RequestError('empty batch: "images" holds no image. Send at least one 28x28 image.')
    if X.shape[-2:] != IMAGE_SHAPE or X.ndim != len(expected):
        shape = "(28, 28)" if single else "(n, 28, 28)"
        raise RequestError(f"wrong shape: expected {shape}, got {X.shape}. Resize to 28x28 grayscale pixels"
                           + ("" if single else ' and send a list of them, or use "image" for one') + ".")
    if not single and len(X) > max_batch:
        raise RequestError(f"batch too large: {len(X)} images, the limit is {max_batch}. Split it into requests "
                           f"of at most {max_batch} images.")
    X = check_pixels(X.astype(np.float32))
    return (X[None] if single else X), single


# --------------------------------------------------------------------------- the HTTP service
@dataclass(frozen=True)
class ServingSettings:
    """Limits and labels of one server: batch and body limits, the model's name and version, the log file."""

    max_batch: int = MAX_BATCH
    max_body_bytes: int = MAX_BODY_BYTES
    model_version: str = "1"
    log_file: str | None = None  # JSON lines, one per image: confidence and input statistics, never pixels


async def _read_body(request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(f"request body too large: {int(declared):,} bytes, the limit is {limit:,}. Send fewer "
                           "images per request.", status=413)
    body = bytearray()
    async for chunk in request.stream():  # also bounds chunked uploads that declare no length
        body += chunk
        if len(body) > limit:
            raise RequestError(f"request body too large: over {limit:,} bytes. Send fewer images per request.",
                               status=413)
    return bytes(body)


def create_app(model_path, settings: ServingSettings | None = None):
    """A FastAPI app serving the model at ``model_path``; it loads the model once, at start-up (lifespan).

    Endpoints: ``POST /predict``, ``GET /health``, ``GET /metadata``. Raises ``FileNotFoundError`` or
    ``ValueError`` at once for a missing or unsupported model file, before any server starts.
    """
    fastapi = _require("fastapi", "fastapi")
    from fastapi.responses import JSONResponse

    from . import monitoring

    settings = settings or ServingSettings()
    model_path = Path(model_path)
    if not model_path.exists():
        load_runtime(model_path)  # raises the clear FileNotFoundError
    if not (model_path.suffix in (".onnx", ".keras") or (model_path / "saved_model.pb").exists()):
        load_runtime(model_path)  # raises the clear ValueError

    @asynccontextmanager
    async def lifespan(app):
        app.state.runtime = load_runtime(model_path)
        app.state.log = monitoring.PredictionLog(settings.log_file)
        app.state.metadata = {
            "name": model_path.stem, "version": settings.model_version, "checksum": model_checksum(model_path),
            "runtime": app.state.runtime.kind, "input_shape": [None, *IMAGE_SHAPE],
            "input": "raw grayscale pixels, whole numbers 0-255", "classes": [str(d) for d in range(10)],
            "max_batch": settings.max_batch, "max_body_bytes": settings.max_body_bytes}
        yield
        app.state.log.close()
        app.state.runtime = None

    app = fastapi.FastAPI(title="bigmodel-lessons digit classifier", lifespan=lifespan)

    @app.exception_handler(RequestError)
    async def refuse(request, err: RequestError):
        return JSONResponse({"detail": str(err)}, status_code=err.status)

    @app.get("/health")
    def health():
        return {"status": "ok", "model_loaded": app.state.runtime is not None}

    @app.get("/metadata")
    def metadata():
        return app.state.metadata

    async def predict(request):
        start = time.perf_counter()
        body = await _read_body(request, settings.max_body_bytes)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RequestError(f"the body is not valid JSON ({err}). Send e.g. {{\"image\": [[0, 0, ...], ...]}} "
                               "with Content-Type: application/json.") from None
        parsed = time.perf_counter()
        X, single = parse_images(payload, settings.max_batch)
        checked = time.perf_counter()
        probabilities = app.state.runtime.predict(X)
        done = time.perf_counter()
        app.state.log.record(X, probabilities, request.headers.get("x-client-id", "anonymous"))
        digits, confidences = probabilities.argmax(axis=1), probabilities.max(axis=1)
        content = ({"digit": int(digits[0]), "confidence": float(confidences[0]),
                    "probabilities": probabilities[0].round(6).tolist()} if single else
                   {"digits": digits.tolist(), "confidences": confidences.round(6).tolist(),
                    "probabilities": probabilities.round(6).tolist()})
        timing = (f"json;dur={1e3 * (parsed - start):.3f}, validate;dur={1e3 * (checked - parsed):.3f}, "
                  f"model;dur={1e3 * (done - checked):.3f}")
        return JSONResponse(content, headers={"Server-Timing": timing})

    predict.__annotations__["request"] = fastapi.Request  # a real class: this module's annotations are strings
    app.post("/predict")(predict)
    return app


def serve(model_path, host: str = LOCAL_HOST, port: int = 8000, settings: ServingSettings | None = None) -> None:
    """Run the app with uvicorn until Ctrl-C (what ``bigmodel-lessons serve`` calls)."""
    uvicorn = _require("uvicorn", "uvicorn")
    uvicorn.run(create_app(model_path, settings), host=host, port=port, log_level="warning")


# --------------------------------------------------------------------------- exercises
def _spelled(text) -> str:
    return str(text).strip().lower().replace("normalization", "normalisation")


def _is_inside_model_step(answer) -> bool:
    return _spelled(answer) in ("normalisation", "归一化", "数据归一化", "scaling")


def _rejects_bad_and_accepts_good(validate) -> bool:
    """Feed the learner's validator fresh good images and a set of bad requests."""
    rng = np.random.default_rng()
    good = rng.integers(0, 256, size=IMAGE_SHAPE)
    for image in (good.tolist(), good.astype(float).tolist()):
        out = np.asarray(validate(image))
        if out.shape != IMAGE_SHAPE or not np.array_equal(out, good):
            return False
    bad = [good[:27].tolist(), good.ravel().tolist(), [[str(v) for v in row] for row in good.tolist()],
           (good / 255).tolist(), np.where(good == good.max(), np.nan, good).tolist(), (good + 256).tolist(),
           (good - 300).tolist(), [row[:-1] if i == 5 else row for i, row in enumerate(good.tolist())],
           [[None] * 28] * 28, "28x28", [[good.tolist()]]]
    for image in bad:
        try:
            validate(image)
        except ValueError:
            continue
        return False
    return True


exercise(f"{STEM}.inside_the_model", compare=_is_inside_model_step,
         hint="Which of the article's three steps must happen to every input, in training and in production "
              "alike? Cleaning fixes the training set once; augmentation is for training only.")
exercise(f"{STEM}.validate_image", compare=_rejects_bad_and_accepts_good,
         hint="Convert with np.asarray, then check in order: numbers only (dtype kind i/u/f), shape (28, 28), "
              "finite, whole numbers, 0-255; raise ValueError with a message for each. Ragged rows make "
              "np.asarray raise ValueError already.")
