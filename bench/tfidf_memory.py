"""Memory chapter 07's TF-IDF baseline takes on every training label (chapter 09 fits it near its memory peak).

Usage: BIGMODEL_DATA_DIR=../shared/data .venv/bin/python bench/tfidf_memory.py

Fits ``text.tfidf_baseline`` on the first 19,923 training reviews, as chapter 09's full mode does, and prints
the resident memory before, the highest point while fitting (``course.PeakMemory``, every 50 ms) and after.
"""
import gc
import os
import time

import psutil

from bigmodel_lessons import data, text
from bigmodel_lessons.course import PeakMemory

(texts, y), _, _ = data.load_movie_reviews()
gc.collect()
before = psutil.Process().memory_info().rss / 2**20
peak, start = PeakMemory(os.getpid()).start(), time.perf_counter()
model = text.tfidf_baseline(texts[:19_923], y[:19_923])
print(f"before {before:.0f} MB, peak while fitting {peak.stop():.0f} MB, after "
      f"{psutil.Process().memory_info().rss / 2**20:.0f} MB, {time.perf_counter() - start:.1f} s, "
      f"{len(model[0].vocabulary_):,} terms")
