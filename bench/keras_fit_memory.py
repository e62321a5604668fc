"""Memory Keras' ``fit`` adds for full MNIST in NumPy arrays (chapters 03 and 06: why their pixels are float32).

Usage: BIGMODEL_DATA_DIR=../shared/data .venv/bin/python bench/keras_fit_memory.py

For float64 and float32 pixels, in a fresh process: chapter 03's 784-128-10 MLP, one epoch of ``fit`` (batch 64)
on the 60,000 training images. Prints the resident memory before ``fit`` and how far above it the process went
(``course.PeakMemory``, every 20 ms).
"""
import subprocess
import sys

MEASURE = """
import os, sys
import numpy as np
import psutil
import bigmodel_lessons as bml
from bigmodel_lessons import data
from bigmodel_lessons.course import PeakMemory
bml.start(False, 42)
import keras
(X, y), _, _ = data.load_mnist()
X = X.reshape(len(X), -1).astype(sys.argv[1]) / 255
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
bml.free_memory()
before = psutil.Process().memory_info().rss / 2**20
memory = PeakMemory(os.getpid(), interval=0.02).start()
model.fit(X, y, epochs=1, batch_size=64, verbose=0)
print(f"{sys.argv[1]} pixels ({X.nbytes / 2**20:,.0f} MB, {len(X):,} images): resident before fit {before:,.0f} MB, "
      f"peak +{memory.stop() - before:,.0f} MB")
"""

for dtype in ("float64", "float32"):
    run = subprocess.run([sys.executable, "-c", MEASURE, dtype], capture_output=True, text=True)
    print(run.stdout.strip().splitlines()[-1] if run.returncode == 0 else run.stderr[-2000:], flush=True)
