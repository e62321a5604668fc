"""Chapter 07: text — tokens (characters, words, byte-pair encoding), the articles' Embedding + pooling
classifier done right, a TF-IDF baseline, what an embedding learns, Chinese reviews, and a first language
model (bigram), plus ``predict_sentiment``.

Texts are Python ``str``; token ids are ``np.ndarray[int32]`` of shape ``(n_tokens,)``. Losses are
cross-entropies in nats per token (natural log); bits = nats / ln 2; perplexity = e^loss.
References: karpathy/minbpe (BPE), karpathy/nanoGPT (character tokenizer), d2l-ai/d2l-en (language models).
"""
from __future__ import annotations

import math
import re
import time
import warnings

import numpy as np

from .env import build_optimizer, predict_in_batches, quiet_tensorflow
from .exercises import exercise


# --------------------------------------------------------------------------- characters (字符)
class CharTokenizer:
    """Characters as tokens: id = position of the character in the sorted list of unique characters.

    >>> tok = CharTokenizer.fit("hello")
    >>> tok.vocab_size, tok.encode("hell").tolist(), tok.decode([3, 1])
    (4, [1, 0, 2, 2], 'oh')
    """

    def __init__(self, chars):
        chars = list(chars)
        if len(set(chars)) != len(chars) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("chars must be distinct single characters; build one with CharTokenizer.fit(text).")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def fit(cls, text: str) -> "CharTokenizer":
        """The vocabulary of ``text``: its unique characters, sorted."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharTokenizer.fit needs a non-empty str, got {type(text).__name__} "
                             f"{text!r:.40}.")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> np.ndarray:
        """Ids ``(len(s),)`` int32. A character the tokenizer never saw raises ``ValueError``."""
        if not isinstance(s, str):
            raise ValueError(f"encode takes a str, got {type(s).__name__}.")
        try:
            return np.fromiter((self.index[c] for c in s), dtype=np.int32, count=len(s))
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} (U+{ord(err.args[0]):04X}) is not in the vocabulary of "
                             f"{self.vocab_size} characters. Fit the tokenizer on text that contains it "
                             "(CharTokenizer.fit(all_text)) or remove it from the input.") from None

    def decode(self, ids) -> str:
        """The string for ids; an id outside 0..vocab_size−1 raises ``ValueError``."""
        ids = np.asarray(ids)
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"ids must be integers in 0..{self.vocab_size - 1}, got {ids.dtype} values "
                             f"from {ids.min()} to {ids.max()}.")
        return "".join(self.chars[i] for i in ids.ravel())

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def unigram_loss(train_ids, val_ids, vocab_size: int) -> float:
    """Cross-entropy (nats per token) on ``val_ids`` of a unigram model fitted on ``train_ids``, add-one
    smoothed: p(t) = (count(t) + 1) / (n_train + vocab_size); loss = −mean log p(val token)."""
    train_ids, val_ids = _check_ids(train_ids, vocab_size, "train_ids"), _check_ids(val_ids, vocab_size, "val_ids")
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    log_p = np.log(counts) - math.log(counts.sum())
    return float(-log_p[val_ids].mean())


def _check_ids(ids, vocab_size: int, name: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a non-empty 1-D array of integer token ids, got shape {ids.shape} "
                         f"dtype {ids.dtype}.")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"{name} must lie in 0..{vocab_size - 1} (vocab_size={vocab_size}), got values "
                         f"from {ids.min()} to {ids.max()}.")
    return ids


# --------------------------------------------------------------------------- byte-pair encoding (字节对编码)
# Text is cut into chunks first (a word with its leading space, a number, a run of punctuation or of spaces),
# as GPT-2 does, so merges never cross a word boundary; the alternatives cover every character, so the chunks
# join back into the text exactly. Chinese has no spaces: a run of Chinese characters is one chunk.
SPLIT_PATTERN = re.compile(r" ?[^\W\d_]+| ?\d+| ?[^\w\s]+| ?_+|\s+(?!\S)|\s+")
FIRST_MERGE_ID = 256  # ids 0..255 are the raw bytes


def split_chunks(text: str) -> list[str]:
    """>>> split_chunks("Hi, 2 cats!")
    ['Hi', ',', ' 2', ' cats', '!']"""
    return SPLIT_PATTERN.findall(text)


def pair_counts(ids) -> dict[tuple[int, int], int]:
    """How often each adjacent pair occurs: ``pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}``."""
    counts: dict[tuple[int, int], int] = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids, pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair``, left to right, by ``new_id``:
    ``merge([5, 6, 6, 7, 6, 7], (6, 7), 99) == [5, 6, 99, 99]``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def most_frequent_pair(counts: dict[tuple[int, int], int]) -> tuple[int, int]:
    """The most frequent pair; ties go to the smallest ids, so training is reproducible."""
    return max(counts, key=lambda pair: (counts[pair], -pair[0], -pair[1]))


def learn_merges(text: str, n_merges: int, merge_fn=merge) -> dict[tuple[int, int], int]:
    """Train BPE: ``n_merges`` times, replace the most frequent adjacent pair of ids by a new id (256, 257, …).

    Returns the merges in order, ``(id, id) -> new id``. Each distinct chunk is stored once with its count, so
    a word that occurs 1,000 times costs one merge call, not 1,000. ``merge_fn`` has :func:`merge`'s signature.
    """
    if not isinstance(n_merges, (int, np.integer)) or n_merges < 0:
        raise ValueError(f"n_merges must be a non-negative integer, got {n_merges!r}.")
    words: dict[tuple[int, ...], int] = {}
    for chunk in split_chunks(text):
        key = tuple(chunk.encode("utf-8"))
        words[key] = words.get(key, 0) + 1
    counts: dict[tuple[int, int], int] = {}
    for word, n in words.items():
        for pair, c in pair_counts(word).items():
            counts[pair] = counts.get(pair, 0) + c * n
    merges = {}
    for new_id in range(FIRST_MERGE_ID, FIRST_MERGE_ID + n_merges):
        if not counts:
            break  # every chunk is a single token already
        pair = most_frequent_pair(counts)
        for word in [w for w in words if pair[0] in w and pair[1] in w]:
            merged = tuple(merge_fn(list(word), pair, new_id))
            if merged == word:
                continue
            n = words.pop(word)
            words[merged] = words.get(merged, 0) + n
            for old, c in pair_counts(word).items():
                counts[old] -= c * n
                if counts[old] == 0:
                    del counts[old]
            for new, c in pair_counts(merged).items():
                counts[new] = counts.get(new, 0) + c * n
        merges[pair] = new_id
    return merges


class BPETokenizer:
    """Byte-level BPE (as GPT-2 and minbpe): UTF-8 bytes, then the learned merges in the order learned.

    Any string encodes (unseen characters fall back to their bytes) and ``decode(encode(s)) == s``.
    ``merges``: (id, id) → new id; ``vocab``: id → bytes.
    """

    def __init__(self, merges: dict[tuple[int, int], int]):
        self.merges = dict(merges)
        self.vocab = {i: bytes([i]) for i in range(FIRST_MERGE_ID)}
        for (a, b), new_id in self.merges.items():
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int) -> "BPETokenizer":
        """Learn ``vocab_size − 256`` merges from ``text``."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"BPETokenizer.train needs a non-empty str, got {type(text).__name__}.")
        if vocab_size < FIRST_MERGE_ID:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), got {vocab_size}.")
        return cls(learn_merges(text, vocab_size - FIRST_MERGE_ID))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, math.inf))  # the earliest merge
            if pair not in self.merges:
                break
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (a ``str``)."""
        if not isinstance(text, str):
            raise ValueError(f"encode takes a str, got {type(text).__name__}; decode bytes first.")
        ids = []
        for chunk in split_chunks(text):
            if chunk not in self._cache:
                self._cache[chunk] = self._encode_chunk(chunk)
            ids.extend(self._cache[chunk])
        return ids

    def decode(self, ids) -> str:
        """The text of ``ids``; a cut through a multi-byte character shows as U+FFFD (�)."""
        unknown = [i for i in ids if i not in self.vocab]
        if unknown:
            raise ValueError(f"ids {unknown[:5]} are not in this tokenizer's {self.vocab_size} ids.")
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def tokens(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, for display (a piece that is part of a character shows as �)."""
        return [self.vocab[i].decode("utf-8", errors="replace") for i in self.encode(text)]

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"


def tokens_per_word(tokenizer, texts) -> float:
    """Tokens per whitespace-separated word over ``texts`` (English; Chinese has no spaces to count words by)."""
    texts = list(texts)
    return sum(len(tokenizer.encode(t)) for t in texts) / sum(len(t.split()) for t in texts)


def tokens_per_character(tokenizer, texts) -> float:
    """Tokens per character over ``texts`` (the unit for Chinese)."""
    texts = list(texts)
    return sum(len(tokenizer.encode(t)) for t in texts) / sum(len(t) for t in texts)


# --------------------------------------------------------------------------- the classifier (文本分类器)
MAX_TOKENS = 20_000  # vocabulary size, [PAD] (0) and [UNK] (1) included
SEQUENCE_LENGTH = 400  # words kept per review: 87% of the IMDB reviews have at most 400
EMBEDDING_DIM = 32
BATCH_SIZE = 64
STEPS_PER_EXECUTION = 16  # batches per call into TensorFlow: the same maths, less Python overhead
LEARNING_RATE = 3e-3
CHINESE_MAX_TOKENS = 5_000  # distinct characters kept (all the reviews together use about 4,600)
CHINESE_SEQUENCE_LENGTH = 200  # characters: 96% of the reviews have at most 200


def standardize_review(texts):
    """Lower-case, turn IMDB's ``<br />`` line breaks into spaces, keep letters, digits and apostrophes."""
    import tensorflow as tf

    texts = tf.strings.lower(texts)
    texts = tf.strings.regex_replace(texts, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(texts, r"[^a-z0-9']+", " ")


def _register_standardize():
    keras = quiet_tensorflow()
    name = "bigmodel_lessons>standardize_review"
    if keras.saving.get_registered_object(name) is None:
        keras.saving.register_keras_serializable("bigmodel_lessons", "standardize_review")(standardize_review)


def build_vectorizer(texts, max_tokens: int = MAX_TOKENS, sequence_length: int = SEQUENCE_LENGTH,
                     ngrams: int | None = None, chinese: bool = False):
    """A ``TextVectorization`` layer adapted on ``texts`` (the training texts only: the vocabulary is part of
    the model, and words that only the test set contains must stay unknown, as they would for new reviews).

    English: :func:`standardize_review`, words split on spaces, optionally word ``ngrams`` (2: words, then word
    pairs). Chinese (``chinese=True``): one token per character. Output: int ids ``(n, sequence_length)``,
    0 = padding, 1 = unknown, cut after ``sequence_length`` tokens.
    """
    keras = quiet_tensorflow()
    texts = check_texts(texts)
    if chinese:
        layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize="lower", split="character",
                                               output_sequence_length=sequence_length)
    else:
        _register_standardize()
        layer = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=standardize_review,
                                               ngrams=ngrams, output_sequence_length=sequence_length)
    layer.adapt(_string_batches(texts))  # batch by batch: adapting on one big array needs ~2x the memory
    return layer


def _string_batches(texts, batch_size: int = 128):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size)


def vectorize(vectorizer, texts) -> np.ndarray:
    """Token ids ``(n, sequence_length)``, int32, of ``texts``, computed batch by batch (low peak memory;
    int32 holds any vocabulary index and takes half the int64 the layer returns)."""
    return np.concatenate([np.asarray(vectorizer(batch), dtype=np.int32)
                           for batch in _string_batches(check_texts(texts), 1024)])


def build_classifier(vocab_size: int, embedding_dim: int = EMBEDDING_DIM):
    """Embedding → GlobalAveragePooling1D → Dense(1, sigmoid): the article's model, with the padding masked.

    ``mask_zero=True`` makes the average skip padding (id 0); without it a short review is averaged with
    hundreds of copies of the padding vector and its prediction depends on the padded length.
    """
    keras = quiet_tensorflow()
    return keras.Sequential([
        keras.Input(shape=(None,), dtype="int64"),
        keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="embedding_classifier")


def train_classifier(model, X, y, validation_data, *, epochs: int, learning_rate: float = LEARNING_RATE):
    """Compile with Adam and binary cross-entropy, fit on int ids; keep the epoch with the best validation
    accuracy. Returns ``history, seconds`` (``fit`` only)."""
    keras = quiet_tensorflow()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"],
                  steps_per_execution=STEPS_PER_EXECUTION, jit_compile=False)
    best = keras.callbacks.EarlyStopping("val_accuracy", patience=epochs, restore_best_weights=True, mode="max")
    start = time.perf_counter()
    history = model.fit(X, y, validation_data=validation_data, epochs=epochs, batch_size=BATCH_SIZE,
                        callbacks=[best], verbose=0)
    return history, time.perf_counter() - start


def end_to_end(vectorizer, model):
    """One model from raw strings to P(positive): ``vectorizer`` then ``model`` (input: strings ``(n, 1)``)."""
    keras = quiet_tensorflow()
    strings = keras.Input(shape=(1,), dtype="string")
    return keras.Model(strings, model(vectorizer(strings)), name=f"{model.name}_from_text")


def tfidf_baseline(texts, y, ngram_range=(1, 2), chinese: bool = False):
    """TF-IDF + logistic regression (scikit-learn), fitted on ``texts``: the honest baseline.

    English: words (and word pairs), IMDB's ``<br />`` removed; Chinese: characters (and character pairs).
    Terms seen in fewer than 2 training texts are dropped; ``sublinear_tf`` uses 1 + log(count).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if chinese:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, min_df=2, sublinear_tf=True)
    else:
        vectorizer = TfidfVectorizer(preprocessor=lambda t: re.sub(r"<br\s*/?>", " ", t.lower()),
                                     token_pattern=r"[a-z0-9']+", ngram_range=ngram_range, min_df=2,
                                     sublinear_tf=True)
    return make_pipeline(vectorizer, LogisticRegression(C=4.0, solver="liblinear")).fit(check_texts(texts), y)


def accuracy_with_error(y_true, p_positive) -> tuple[float, float]:
    """Accuracy at threshold 0.5 and its standard error √(p(1−p)/n) (chapter 05). Labels and probabilities
    may be ``(n,)`` or ``(n, 1)``; different counts raise ``ValueError``."""
    y_true, p_positive = np.ravel(y_true), np.ravel(p_positive)
    if len(y_true) != len(p_positive) or not len(y_true):
        raise ValueError(f"expected one probability per label, got {len(y_true)} labels and {len(p_positive)} "
                         "probabilities. Pass the labels and predictions of the same texts.")
    accuracy = float(np.mean((p_positive >= 0.5) == y_true))
    return accuracy, math.sqrt(accuracy * (1 - accuracy) / len(y_true))


def paired_difference(y_true, p_a, p_b) -> tuple[float, float, int]:
    """Two models on the same texts: accuracy of ``a`` minus accuracy of ``b``, the standard error of that
    difference from the per-text differences (paired: both models meet the same easy and hard texts, so it is
    not √(se_a² + se_b²)), and the number of texts on which exactly one of them is right."""
    y_true, p_a, p_b = np.ravel(y_true), np.ravel(p_a), np.ravel(p_b)
    if len(y_true) < 2 or not len(y_true) == len(p_a) == len(p_b):
        raise ValueError(f"expected one probability per label from each model and at least 2 labels, got "
                         f"{len(y_true)} labels, {len(p_a)} and {len(p_b)} probabilities.")
    d = ((p_a >= 0.5) == y_true).astype(float) - ((p_b >= 0.5) == y_true)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), int(np.count_nonzero(d))


# --------------------------------------------------------------------------- using it
def check_texts(texts) -> np.ndarray:
    """A list (or array) of non-empty strings as an object array; anything else raises ``ValueError``."""
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"expected a list of texts, got a single {type(texts).__name__} ({texts[:40]!r}…). "
                         "Wrap it in a list: [text].")
    try:
        texts = list(texts)
    except TypeError:
        raise ValueError(f"expected a list of strings, got {type(texts).__name__}.") from None
    if not texts:
        raise ValueError("expected at least one text, got an empty list.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"text {i} has type {type(t).__name__} ({t!r:.40}), not str; convert or drop it.")
        if not t.strip():
            raise ValueError(f"text {i} is empty or only whitespace; there is nothing to classify. Drop it.")
    return np.array(texts, dtype=object)


def predict_sentiment(model, texts) -> np.ndarray:
    """P(positive) ``(n,)`` for a list of strings, with an :func:`end_to_end` model.

    Bad input (a bare string, an empty list, a non-string, an empty text) raises ``ValueError``. A text longer
    than the model reads is cut: the model sees its first ``sequence_length`` tokens, and a ``UserWarning``
    says which texts were cut.
    """
    import tensorflow as tf

    strings = tf.constant(check_texts(texts).tolist())[:, None]  # (n, 1), what end_to_end's Input takes
    vectorizer = next((layer for layer in model.layers if type(layer).__name__ == "TextVectorization"), None)
    if vectorizer is None:
        raise ValueError(f"model {model.name!r} has no TextVectorization layer, so it cannot read strings. "
                         "Pass text.end_to_end(vectorizer, model) instead of the bare model.")
    longer = _longer_than_kept(vectorizer, strings)
    if cut := np.flatnonzero(longer).tolist():
        warnings.warn(f"{len(cut)} of {len(longer)} texts (indices {cut[:10]}) have more than the "
                      f"{vectorizer.get_config()['output_sequence_length']} tokens the model reads; the rest was "
                      "cut off and not read.", UserWarning, stacklevel=2)
    return predict_in_batches(model, strings).ravel()


def _longer_than_kept(vectorizer, strings) -> np.ndarray:
    """True for each text with more tokens than ``vectorizer`` keeps: vectorized by a copy one position
    longer, its last position is not padding."""
    keras = quiet_tensorflow()
    config = vectorizer.get_config()
    longer = keras.layers.TextVectorization(**{**config, "output_sequence_length": config["output_sequence_length"] + 1,
                                                "vocabulary": vectorizer.get_vocabulary()})
    return np.asarray(longer(strings))[:, -1] != 0


# --------------------------------------------------------------------------- what the embedding learned
def cosine_similarity(A, B) -> np.ndarray:
    """cos(a, b) = a·b / (‖a‖ ‖b‖) for every row of ``A`` (n, d) against every row of ``B`` (m, d): (n, m)."""
    A, B = np.atleast_2d(np.asarray(A, dtype=np.float64)), np.atleast_2d(np.asarray(B, dtype=np.float64))
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"vectors must have the same length, got shapes {A.shape} and {B.shape}.")
    norms = np.linalg.norm(A, axis=1)[:, None] * np.linalg.norm(B, axis=1)[None, :]
    if np.any(norms == 0):
        raise ValueError("a zero vector has no direction, so its cosine similarity is undefined; drop it.")
    return (A @ B.T) / norms


def embedding_table(model, vectorizer) -> tuple[np.ndarray, list[str]]:
    """The trained embedding matrix ``(vocab_size, d)`` and the word of each row."""
    return np.asarray(model.get_layer("embedding").embeddings), [str(w) for w in vectorizer.get_vocabulary()]


def nearest_words(word: str, embeddings: np.ndarray, vocabulary: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words whose embeddings have the highest cosine similarity with ``word``'s (itself excluded)."""
    if word not in vocabulary:
        raise ValueError(f"{word!r} is not in the vocabulary ({len(vocabulary):,} words); try another word.")
    i = vocabulary.index(word)
    similarity = cosine_similarity(embeddings[i], embeddings[2:])[0]  # rows 0, 1: padding and [UNK]
    order = [j for j in np.argsort(-similarity, kind="stable") if j + 2 != i][:k]
    return [(vocabulary[j + 2], round(float(similarity[j]), 3)) for j in order]


def pca_2d(X) -> np.ndarray:
    """The first two principal components of the rows of ``X``: centre, then project on the top two right
    singular vectors (the directions of largest variance); signs fixed so the largest entry is positive."""
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(centred, full_matrices=False)
    Vt = Vt[:2] * np.sign(Vt[:2, [np.argmax(np.abs(v)) for v in Vt[:2]]].diagonal())[:, None]
    return centred @ Vt.T


def plot_words_2d(words, vectors, sentiment=None, title: str = "Word embeddings, first two principal components"):
    """A scatter of words at their :func:`pca_2d` positions, coloured by ``sentiment`` (+1 / −1) when given."""
    import matplotlib.pyplot as plt

    xy = pca_2d(vectors)
    fig, ax = plt.subplots(figsize=(7, 5))
    colours = ["tab:gray"] * len(words) if sentiment is None else \
        ["tab:green" if s > 0 else "tab:red" for s in sentiment]
    ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=18)
    for (x, y), word in zip(xy, words):
        ax.annotate(word, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- a first language model (语言模型)
def split_ids(ids, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first 90% of a token stream for training, the last 10% held out (no shuffling: text is ordered)."""
    ids = np.asarray(ids)
    cut = int(len(ids) * (1 - val_fraction))
    return ids[:cut], ids[cut:]


def bigram_counts(ids, vocab_size: int) -> np.ndarray:
    """``counts[a, b]`` = how often token ``b`` follows token ``a``: (vocab_size, vocab_size) int64."""
    ids = _check_ids(ids, vocab_size, "ids")
    counts = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts


def bigram_probs(counts, smoothing: float = 1.0) -> np.ndarray:
    """P(b | a) = (counts[a, b] + smoothing) / Σ_b (counts[a, b] + smoothing): each row sums to 1.
    Add-one smoothing keeps a pair never seen in training from getting probability 0 (infinite loss)."""
    counts = np.asarray(counts, dtype=np.float64) + smoothing
    return counts / counts.sum(axis=1, keepdims=True)


def bigram_loss(probs, ids) -> float:
    """Cross-entropy in nats per token: −mean log P(ids[t+1] | ids[t])."""
    ids = _check_ids(ids, len(probs), "ids")
    return float(-np.log(probs[ids[:-1], ids[1:]]).mean())


def perplexity(loss_nats: float) -> float:
    """e^loss: the number of equally likely tokens the model is, on average, choosing between."""
    return math.exp(loss_nats)


def bits(loss_nats: float) -> float:
    """nats → bits: divide by ln 2."""
    return loss_nats / math.log(2)


def build_bigram_model(vocab_size: int):
    """The bigram model as a one-layer network: token id → a row of ``vocab_size`` logits (an Embedding used
    as a lookup table), softmax → P(next | this). Trained with cross-entropy it learns log-probabilities."""
    keras = quiet_tensorflow()
    return keras.Sequential([keras.Input(shape=(None,), dtype="int32"),
                             keras.layers.Embedding(vocab_size, vocab_size, embeddings_initializer="zeros",
                                                    name="logits")], name="bigram")


def next_token_blocks(ids, n_ctx: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for next-token training: blocks ``(n, n_ctx)`` of ids and the same shifted by one."""
    ids = np.asarray(ids, dtype=np.int32)
    n = (len(ids) - 1) // n_ctx
    if n < 1:
        raise ValueError(f"need more than n_ctx={n_ctx} tokens, got {len(ids)}.")
    return ids[:n * n_ctx].reshape(n, n_ctx), ids[1:n * n_ctx + 1].reshape(n, n_ctx)


def train_bigram_model(train_ids, vocab_size: int, *, epochs: int, n_ctx: int = 128, batch_size: int = 64,
                       learning_rate: float = 0.02):
    """Fit :func:`build_bigram_model` with Adam and cross-entropy on logits, on blocks of ``n_ctx`` tokens:
    ``model, history``. Score it on held-out text with :func:`model_probs` and :func:`bigram_loss`."""
    keras = quiet_tensorflow()
    model = build_bigram_model(vocab_size)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=STEPS_PER_EXECUTION, jit_compile=False)
    build_optimizer(model)  # Adam's state now, so TensorFlow traces the first step once
    history = model.fit(*next_token_blocks(train_ids, n_ctx), epochs=epochs, batch_size=batch_size, verbose=0)
    return model, history


def model_probs(model) -> np.ndarray:
    """P(next | this) from a trained :func:`build_bigram_model`: softmax of each row of logits."""
    from .scratch import softmax

    return softmax(np.asarray(model.get_layer("logits").embeddings, dtype=np.float64), axis=1)


def temperature_probs(probs, temperature: float) -> np.ndarray:
    """p_i^(1/T) / Σ_j p_j^(1/T), i.e. softmax(log p / T): T < 1 sharpens, T > 1 flattens, T → 0 is greedy."""
    from .scratch import softmax

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (use greedy=True for T → 0), got {temperature}.")
    return softmax(np.log(np.asarray(probs, dtype=np.float64)) / temperature, axis=-1)


def generate(probs, tokenizer, start: str, n_tokens: int, temperature: float = 1.0, seed: int = 0,
             greedy: bool = False) -> str:
    """Sample ``n_tokens`` characters after ``start`` from a bigram table ``probs`` (each step looks only at
    the previous character); ``greedy`` always takes the most likely one."""
    rng = np.random.default_rng(seed)
    ids = list(tokenizer.encode(start))
    if not ids:
        raise ValueError("start must contain at least one character.")
    for _ in range(n_tokens):
        p = probs[ids[-1]]
        ids.append(int(np.argmax(p)) if greedy else int(rng.choice(len(p), p=temperature_probs(p, temperature))))
    return tokenizer.decode(ids)


# --------------------------------------------------------------------------- exercises
STEM = "07_text_and_embeddings"
# A fresh text for the BPE check, English and Chinese, that the notebook never trains on.
_FRESH_TEXT = ("the theme of the thesis: these three thin thieves thought that the thrones were theirs. "
               "banana bandana, ananas! 我们喜欢学习，我们喜欢中文，学习中文很有意思。" * 3)


def _reproduces_merges(merge_fn) -> bool:
    edge_cases = merge([1, 1, 1], (1, 1), 9) == list(merge_fn([1, 1, 1], (1, 1), 9)) and \
        list(merge_fn([], (1, 2), 9)) == [] and list(merge_fn([1, 2], (2, 1), 9)) == [1, 2]
    return edge_cases and learn_merges(_FRESH_TEXT, 60, merge_fn=merge_fn) == learn_merges(_FRESH_TEXT, 60)


def _matches_cosine(fn) -> bool:
    from sklearn.metrics.pairwise import cosine_similarity as sklearn_cosine

    rng = np.random.default_rng(7)
    A, B = rng.normal(size=(5, 8)), rng.normal(size=(3, 8)) * 10
    return np.allclose(np.asarray(fn(A, B), dtype=float), sklearn_cosine(A, B), rtol=1e-9, atol=1e-12)


def _matches_temperature(fn) -> bool:
    rng = np.random.default_rng(11)
    p = rng.dirichlet(np.ones(9))
    return all(np.allclose(np.asarray(fn(p, t), dtype=float), temperature_probs(p, t), rtol=1e-6, atol=1e-12)
               for t in (0.3, 1.0, 2.5))


def _matches_uniform_bits(fn) -> bool:
    return all(math.isclose(float(fn(v)), math.log2(v), rel_tol=1e-9) for v in (2, 26, 97, 50_257))


def _ignores_padding(build) -> bool:
    """The learner's classifier gives the same output for a review whatever the padding, and P in [0, 1]."""
    keras = quiet_tensorflow()
    keras.utils.set_random_seed(3)
    model = build(50)
    review = np.array([[5, 17, 3, 42, 8]])
    padded = [np.pad(review, ((0, 0), (0, n))) for n in (0, 10, 60)]
    outputs = [np.asarray(model(x)).ravel() for x in padded]
    return outputs[0].shape == (1,) and 0 <= outputs[0][0] <= 1 and all(np.allclose(o, outputs[0], atol=1e-6)
                                                                       for o in outputs[1:])


exercise(f"{STEM}.bpe_merge", compare=_reproduces_merges,
         hint="Walk through ids with an index i: when (ids[i], ids[i+1]) == pair, append new_id and jump 2; "
              "otherwise append ids[i] and step 1. [1, 1, 1] with pair (1, 1) gives [new_id, 1].")
exercise(f"{STEM}.mask_padding", compare=_ignores_padding,
         hint="Embedding(vocab_size, 16, mask_zero=True) tells the next layers which positions are padding; "
              "GlobalAveragePooling1D then averages only the real tokens. End with Dense(1, activation='sigmoid').")
exercise(f"{STEM}.cosine_similarity", compare=_matches_cosine,
         hint="A @ B.T divided by the outer product of the row norms: np.linalg.norm(A, axis=1)[:, None] * "
              "np.linalg.norm(B, axis=1)[None, :].")
exercise(f"{STEM}.uniform_bits", compare=_matches_uniform_bits,
         hint="Each of the vocab_size characters gets probability 1/vocab_size; the loss is −log₂(1/vocab_size) "
              "bits for every one: math.log2(vocab_size).")
exercise(f"{STEM}.temperature", compare=_matches_temperature,
         hint="Take logs, divide by T, then softmax: np.exp(np.log(p) / T), divided by its sum.")
