"""Chapter 09 section 3 at full-mode sizes, to attribute the notebook's full-mode peak memory (issue #12).

Usage: MALLOC_ARENA_MAX=2 BIGMODEL_DATA_DIR=../shared/data .venv/bin/python bench/finetune_memory.py

The notebook's path: MiniLM cut to 64 word pieces, 500 balanced labels, 3 epochs of batches of 8 (eager steps,
two micro-batches of 4 per update), 1,000 test reviews; each model loaded afresh from the model folder as the
notebook's ``fresh()`` does, LoRA ranks 4, 1, 16, then full fine-tuning. Prints the process' peak resident
memory (``ru_maxrss``) and its resident memory after each model is freed, the training seconds and the test
accuracy, with the load average. Run it with ``MALLOC_ARENA_MAX=2``, as the course's kernel runs.
"""
import resource
import time

import keras
import psutil

import bigmodel_lessons as bml
from bigmodel_lessons import data, finetune, minilm
from full_mnist import loadavg  # bench/full_mnist.py, beside this script

SEED = 42


def report(label: str) -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    now_mb = psutil.Process().memory_info().rss / 2**20
    print(f"{time.strftime('%H:%M:%S')} {label}: peak {peak_mb:,.0f} MB, resident now {now_mb:,.0f} MB", flush=True)


print("load average before:", loadavg())
bml.start(False, SEED)
(texts_train, y_train), (texts_test, y_test), _ = data.load_movie_reviews()
report("reviews loaded")
backbone, preprocessor, source = minilm.load_minilm(64)
report("MiniLM loaded")
subset = finetune.label_subset(y_train, 500, SEED)
X_adapt, y_adapt = minilm.tokenize(preprocessor, texts_train[subset]), y_train[subset]
X_eval, y_eval = minilm.tokenize(preprocessor, texts_test[:1000]), y_test[:1000]
del backbone
for rank in (4, 1, 16, None):
    bml.free_memory()
    keras.utils.set_random_seed(SEED)
    model = finetune.build_sentiment_model(minilm.pretrained_backbone(source.location), lora_rank=rank)
    seconds = finetune.fine_tune(model, X_adapt, y_adapt, epochs=3, lr=1e-3 if rank else 5e-5)
    report(f"{f'LoRA rank {rank}' if rank else 'full fine-tuning'}: {seconds:.0f} s, "
           f"accuracy {finetune.accuracy(model, X_eval, y_eval):.3f}")
    del model
    bml.free_memory()
    report("freed")
print("load average after:", loadavg())
