"""Full-MNIST benchmark for chapters 03 and 05: accuracy on the official test set, fit time, in one command.

Usage: BIGMODEL_DATA_DIR=../shared/data python bench/full_mnist.py [--only numpy,keras03,mlp,tuned,cnn]

Trains, on the full 60,000-image training set (chapter 05: 54,000 after its validation split), exactly what the
notebooks train in full mode, and prints a table: test accuracy, wall-clock seconds of training, the CPU seconds
the process used (all threads; less sensitive to other load than wall-clock), and the chapter's target. The load
average is printed before and after: timings are only comparable on a quiet machine. Refuses to run on the
offline 5,000-image sample.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import bigmodel_lessons as bml
from bigmodel_lessons import data, scratch, vision

SEED = 42
SCRATCH_EPOCHS, SCRATCH_BATCH = 15, 64  # chapter 03's full-mode settings
ROWS = ("numpy", "keras03", "mlp", "tuned", "cnn")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def timed(train):
    """Run ``train()``; return its result, wall seconds and the process' CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = train()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def chapter_03(which: set[str], X_train, y_train, X_test, y_test) -> list[dict]:
    import keras

    X, Xt = (A.reshape(len(A), -1).astype(np.float32) / 255 for A in (X_train, X_test))  # as chapter 03
    rows = []
    if "numpy" in which:
        model = scratch.mlp([784, 128, 10], seed=SEED)
        history, wall, cpu = timed(lambda: model.fit(X, y_train, scratch.Adam(1e-3), num_epochs=SCRATCH_EPOCHS,
                                                     batch_size=SCRATCH_BATCH, seed=SEED))
        rows.append(dict(row="03 NumPy MLP 784-128-10 (float64)", images=len(X), epochs=SCRATCH_EPOCHS,
                         batch=SCRATCH_BATCH, accuracy=model.accuracy(Xt, y_test), wall=wall, cpu=cpu,
                         epoch=float(np.median(history.epoch_seconds)), target="≥ 97%", ok=None))
    if "keras03" in which:
        keras.backend.clear_session()
        bml.seed_everything(SEED)
        twin = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(128, activation="relu"),
                                 keras.layers.Dense(10)])
        twin.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        epochs = []

        class EpochTimer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                epochs.append(time.perf_counter() - self.start)
        _, wall, cpu = timed(lambda: twin.fit(X, y_train, epochs=SCRATCH_EPOCHS, batch_size=SCRATCH_BATCH, verbose=0,
                                              callbacks=[EpochTimer()]))
        rows.append(dict(row="03 the same MLP in Keras (float32)", images=len(X), epochs=SCRATCH_EPOCHS,
                         batch=SCRATCH_BATCH, accuracy=twin.evaluate(Xt, y_test, verbose=0)[1], wall=wall, cpu=cpu,
                         epoch=float(np.median(epochs)), target="s/epoch next to NumPy's", ok=None))
    return rows


def chapter_05(which: set[str], X_train_all, y_train_all, X_test, y_test) -> list[dict]:
    import keras

    X, X_val, y, y_val = vision.split_validation(X_train_all, y_train_all, seed=SEED)
    device = vision.configure_device()
    epochs, augment = vision.cnn_recipe(len(X), fast=False)
    recipes = {
        "mlp": ("05 articles' MLP as described", vision.train_mlp, vision.ARTICLE_EPOCHS,
                vision.ARTICLE_BATCH_SIZE, "report", None),
        "tuned": ("05 the same MLP trained well", vision.train_mlp_tuned, vision.MLP_TUNED_EPOCHS,
                  vision.MLP_TUNED_BATCH_SIZE, "≥ 97.5%, fit ≤ 10 s", (0.975, 10)),
        "cnn": ("05 CNN recipe" + (" + augmentation" if augment else ""),
                lambda *a: vision.train_cnn(*a, fast=False), epochs, device.batch_size, "≥ 99.0%, fit ≤ 60 s",
                (0.990, 60)),
    }
    rows = []
    for key, (label, train, n_epochs, batch, target, goal) in recipes.items():
        if key not in which:
            continue
        keras.backend.clear_session()
        bml.seed_everything(SEED)
        cpu = time.process_time()
        model, _, seconds = train(X, y, (X_val, y_val), device)
        cpu = time.process_time() - cpu
        accuracy = float(np.mean(vision.predict_digit(model, X_test)[0] == y_test))
        ok = None if goal is None else accuracy >= goal[0] and seconds <= goal[1]
        rows.append(dict(row=label, images=len(X), epochs=n_epochs, batch=batch, accuracy=accuracy, wall=seconds,
                         cpu=cpu, epoch=seconds / n_epochs, target=target, ok=ok))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated subset of {', '.join(ROWS)}")
    which = set(parser.parse_args().only.split(","))
    if not which <= set(ROWS):
        parser.error(f"unknown rows {sorted(which - set(ROWS))}; choose from {', '.join(ROWS)}")
    bml.start(False, SEED)
    (X_train, y_train), (X_test, y_test), source = data.load_mnist()
    if vision.is_offline_sample(source) or len(X_train) != 60_000:
        raise SystemExit("This benchmark needs the full MNIST training set: set BIGMODEL_DATA_DIR=../shared/data "
                         "or run `bigmodel-lessons data fetch mnist` online.")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} · {platform.node()} · {os.cpu_count()} CPUs · "
          f"test set: {len(X_test):,} official images · load average before: {loadavg()}")
    rows = chapter_03(which, X_train, y_train, X_test, y_test) + chapter_05(which, X_train, y_train, X_test, y_test)
    print(f"\n{'row':38s} | {'images':>6s} | ep | batch | test acc | fit s | CPU s | s/epoch | target")
    print("-" * 116)
    for r in rows:
        verdict = "" if r["ok"] is None else ("  met" if r["ok"] else "  NOT met")
        print(f"{r['row']:38s} | {r['images']:6,d} | {r['epochs']:2d} | {r['batch']:5d} | {r['accuracy']:8.2%} | "
              f"{r['wall']:5.1f} | {r['cpu']:5.1f} | {r['epoch']:7.2f} | {r['target']}{verdict}")
    print(f"\nload average after: {loadavg()} (timings are comparable only when it stays well below the core count)")


if __name__ == "__main__":
    main()
