"""Chapter 07's full-mode classifier fit, timed alone (issue #10's "fit ≤ 60 s on 2 CPU cores" target).

Usage: .venv/bin/python bench/text_fit.py [--ngrams 2]

Exactly the notebook's full-mode path: the same split, vectorizer, model and ``text.train_classifier``; prints
the data tier, the fit seconds, the process' CPU seconds and the test accuracy, with the load average.
"""
import argparse
import time

import numpy as np
from sklearn.model_selection import train_test_split

import bigmodel_lessons as bml
from bigmodel_lessons import data, text
from full_mnist import loadavg  # bench/full_mnist.py, beside this script

SEED = 42
parser = argparse.ArgumentParser()
parser.add_argument("--ngrams", type=int, default=None, help="2: words and word pairs (the notebook's second model)")
args = parser.parse_args()
bml.start(False, SEED)
(reviews, y), (reviews_test, y_test), source = data.load_movie_reviews()
reviews_train, reviews_val, y_train, y_val = train_test_split(reviews, y, test_size=0.1, stratify=y, random_state=SEED)
length = text.SEQUENCE_LENGTH * (args.ngrams or 1)
vectorizer = text.build_vectorizer(reviews_train, sequence_length=length, ngrams=args.ngrams)
X_train, X_val, X_test = (text.vectorize(vectorizer, t) for t in (reviews_train, reviews_val, reviews_test))
print("load average before:", loadavg())
bml.seed_everything(SEED)
model = text.build_classifier(vectorizer.vocabulary_size())
cpu = time.process_time()
_, seconds = text.train_classifier(model, X_train, y_train, (X_val, y_val), epochs=10)
cpu = time.process_time() - cpu
accuracy = float(np.mean((model.predict(X_test, batch_size=512, verbose=0).ravel() >= 0.5) == y_test))
print("load average after:", loadavg())
print(f"{len(X_train):,} reviews x {length} tokens, 10 epochs: fit {seconds:.1f} s ({cpu:.1f} CPU s), "
      f"test accuracy {accuracy:.2%} on {len(y_test):,}")
