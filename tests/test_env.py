import platform

import psutil
import pytest
from packaging.requirements import Requirement

from bigmodel_lessons import env


def test_report_passes_in_the_course_environment():
    report = env.check_environment()
    assert report.failed == 0, str(report)
    text = str(report)
    for expected in (f"[INFO] bigmodel-lessons {env.package_version()}, notebooks in ", "[OK]   Python",
                     "[OK]   keras", "[OK]   tensorflow", "Keras backend: tensorflow", "Device:", "Data mnist:",
                     "Data california_housing:", "Fast mode:"):
        assert expected in text


def test_missing_package_gets_a_fail_line_with_the_install_command():
    report = env.check_environment([Requirement("surely-not-installed-pkg>=1.2")])
    assert report.failed == 1
    line = next(l for l in report.lines if "surely-not-installed-pkg" in l)
    assert line.startswith("[FAIL]")
    assert '-m pip install "surely-not-installed-pkg>=1.2"' in line


def test_too_old_package_gets_a_fail_line():
    report = env.check_environment([Requirement("numpy>=999")])
    assert report.failed == 1 and "fix with:" in report.lines[-1]


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode_follows_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("BIGMODEL_FAST", value)
    assert env.fast_mode() is expected
    assert env.fast_mode(not expected) is (not expected)  # the parameters cell wins


def test_fast_mode_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("BIGMODEL_FAST", "maybe")
    with pytest.raises(ValueError, match="BIGMODEL_FAST must be 1 or 0"):
        env.fast_mode()


def test_seed_everything_makes_numpy_and_keras_repeatable():
    import numpy as np
    import keras

    runs = []
    for _ in range(2):
        env.seed_everything(7)
        runs.append((np.random.rand(3), keras.random.normal((3,)).numpy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_build_optimizer_lets_the_first_fit_trace_its_training_step_once_with_the_same_result():
    import numpy as np
    keras = env.quiet_tensorflow()
    X = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    y = X @ np.arange(5, dtype="float32")

    def first_fit(build: bool):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        if build:
            assert env.build_optimizer(model) is model and model.optimizer.built
        traces, train_step = [], model.train_step
        model.train_step = lambda data: traces.append(data) or train_step(data)  # its Python runs once per trace
        model.fit(X, y, batch_size=16, epochs=2, verbose=0)
        return len(traces), model.get_weights()

    (lazy_traces, lazy_weights), (built_traces, built_weights) = first_fit(False), first_fit(True)
    assert (lazy_traces, built_traces) == (2, 1)  # Keras left alone creates Adam's moments inside the trace
    for lazy, built in zip(lazy_weights, built_weights):
        np.testing.assert_array_equal(lazy, built)


def test_predict_in_batches_equals_keras_predict_with_steps_per_execution_and_a_partial_last_batch():
    import numpy as np
    keras = env.quiet_tensorflow()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.5),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=4)
    X = np.random.default_rng(0).normal(size=(37, 5)).astype("float32")  # 37 = 4 batches of 8 and one of 5
    y_hat = env.predict_in_batches(model, X, batch_size=8)
    assert y_hat.shape == (37, 3) and isinstance(y_hat, np.ndarray)
    np.testing.assert_allclose(y_hat, model.predict(X, batch_size=8, verbose=0), atol=1e-6)  # dropout off in both


@pytest.mark.skipif(platform.system() != "Linux", reason="malloc_trim is glibc's; other allocators return memory themselves")
def test_free_memory_hands_freed_heap_pages_back():
    process = psutil.Process()
    blocks = [bytearray(4000) for _ in range(50_000)]  # 200 MB of malloc'd blocks, below glibc's mmap threshold
    pinned = bytearray(4000)  # allocated last: the heap's top stays in use, so free() alone returns nothing
    del blocks
    before = process.memory_info().rss
    env.free_memory()
    assert before - process.memory_info().rss > 100 * 2**20
    del pinned


def test_both_tensorflow_wheels_installed_is_a_fail_with_the_fix():
    problems = env.tensorflow_wheel_problems({"tensorflow": "2.21.0", "tensorflow-cpu": "2.21.0"}, False, [], True)
    assert [ok for ok, _ in problems] == [False] and "make gpu" in problems[0][1]


@pytest.mark.parametrize("cpu_default, expected", [(True, False), (False, None)])
def test_gpu_build_without_cuda_libraries_is_named(cpu_default, expected):
    """Where tensorflow-cpu is the default, the GPU build was chosen on purpose: missing CUDA libraries fail."""
    problems = env.tensorflow_wheel_problems({"tensorflow": "2.21.0"}, True, [], cpu_default)
    assert [ok for ok, _ in problems] == [expected]
    assert "nvidia-cudnn-cu12" in problems[0][1] and "make gpu" in problems[0][1]


def test_tensorflow_wheels_that_work_get_no_line():
    libs = {lib: "9.0" for lib in env.CUDA_LIBRARIES}
    assert env.tensorflow_wheel_problems({"tensorflow-cpu": "2.21.0"}, False, [], True) == []
    assert env.tensorflow_wheel_problems({"tensorflow": "2.21.0", **libs}, True, ["/physical_device:GPU:0"], True) == []
    assert env.tensorflow_wheel_problems({"tensorflow": "2.21.0"}, False, [], False) == []  # macOS, ARM
    [(ok, text)] = env.tensorflow_wheel_problems({"tensorflow": "2.21.0", **libs}, True, [], True)
    assert ok is None and "nvidia-smi" in text
