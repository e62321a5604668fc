"""What validating costs chapter 05's fast-mode CNN fit, and that it changes nothing the model learns.

Usage: BIGMODEL_DATA_DIR=../shared/data taskset -c 0 .venv/bin/python bench/fast_validation.py

Trains the CNN as fast mode does (4,000 training images, ``vision.train_cnn``, seed 42) four times, validating in
turn on ``vision.FAST_VAL_IMAGES`` and on all 6,000 validation images of full MNIST (the first fit in a process
also pays TensorFlow's warm-up). Prints each fit's seconds, the validation accuracy per epoch and the test
accuracy (the same every time: validation only measures).
"""
import keras

import bigmodel_lessons as bml
from bigmodel_lessons import data, metrics, vision

SEED = 42
(X_all, y_all), (X_test, y_test), _ = data.load_mnist()
X_train, X_val, y_train, y_val = vision.split_validation(X_all, y_all, seed=SEED)
X_train, y_train = X_train[:vision.FAST_TRAIN_IMAGES], y_train[:vision.FAST_TRAIN_IMAGES]
device = vision.configure_device(gpu=False)
for n_val in (vision.FAST_VAL_IMAGES, len(X_val), vision.FAST_VAL_IMAGES, len(X_val)):  # each twice, in turn
    keras.backend.clear_session()
    bml.seed_everything(SEED)
    model, history, seconds = vision.train_cnn(X_train, y_train, (X_val[:n_val], y_val[:n_val]), device, fast=True)
    test_accuracy = metrics.accuracy(y_test, vision.predict_digit(model, X_test)[0])
    curve = " ".join(f"{a:.3f}" for a in history.history["val_accuracy"])
    print(f"{n_val:,} validation images: fit {seconds:.1f} s, validation accuracy {curve}, test {test_accuracy:.4f}")
