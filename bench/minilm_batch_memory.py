"""Memory an eager MiniLM training step needs per review (chapter 09 §3; the reason for fine_tune's micro-batches).

Usage: BIGMODEL_DATA_DIR=../shared/data .venv/bin/python bench/minilm_batch_memory.py

For each batch size, in a fresh process: MiniLM cut to 64 word pieces with LoRA rank 4, one epoch of eager steps
(as ``finetune.fine_tune`` runs them, without gradient accumulation) on 64 reviews. Prints the resident memory
before training and how far above it the process went (``course.PeakMemory``, every 20 ms), and the seconds.
"""
import subprocess
import sys

MEASURE = """
import os, sys, time
import psutil
import bigmodel_lessons as bml
from bigmodel_lessons import data, finetune, minilm
from bigmodel_lessons.course import PeakMemory
bml.start(False, 42)
(texts, y), _, _ = data.load_movie_reviews()
backbone, preprocessor, _ = minilm.load_minilm(64)
model = finetune.build_sentiment_model(backbone, lora_rank=4)
X, y = minilm.tokenize(preprocessor, texts[:64]), y[:64]
model.compile(optimizer="adamw", loss="binary_crossentropy", run_eagerly=True)
bml.free_memory()
before = psutil.Process().memory_info().rss / 2**20
memory = PeakMemory(os.getpid(), interval=0.02).start()
started = time.perf_counter()
model.fit(X, y, epochs=1, batch_size=int(sys.argv[1]), verbose=0)
seconds = time.perf_counter() - started
extra = memory.stop() - before
print(f"batch {sys.argv[1]:>2}: resident before {before:,.0f} MB, peak +{extra:,.0f} MB "
      f"({extra / int(sys.argv[1]):.0f} MB per review), {seconds:.1f} s for 64 reviews")
"""

for batch_size in (2, 4, 8, 16):
    run = subprocess.run([sys.executable, "-c", MEASURE, str(batch_size)], capture_output=True, text=True)
    print(run.stdout.strip().splitlines()[-1] if run.returncode == 0 else run.stderr[-2000:], flush=True)
