"""Chapter 08: a tiny GPT in Keras 3 — decoder blocks, pretraining on characters, sampling, a KV cache,
and the measurements chapter 01 applied to big models (6·N·D FLOPs, MFU, 2·N FLOPs per token).

Shapes: token ids (B, T) int32 with T ≤ n_ctx; hidden states (B, T, d_model); logits (B, T, vocab_size).
Inside attention: nh = n_heads, hs = head_dim = d_model / n_heads, so q, k, v are (B, nh, T, hs).
The model is GPT-2's layout, so its parameter count is exactly chapter 01's ``transformer_params``:
learned positions, pre-LayerNorm blocks with biases, a 4·d_model GELU MLP, a final LayerNorm, and an output
layer that reuses the token-embedding matrix (weight tying).

References: karpathy/nanoGPT ``model.py`` (``GPTConfig``, ``CausalSelfAttention``, ``generate``);
rasbt/LLMs-from-scratch ch04 and ``ch04/03_kv-cache``; keras-team/keras-hub ``gpt2_causal_lm.py``
(an explicit cache tensor passed in and returned, instead of state hidden in the layers).
"""
from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass

import numpy as np

from .economics import LearnedPositions, transformer_params
from .env import build_optimizer, predict_in_batches, quiet_tensorflow
from .exercises import exercise

keras = quiet_tensorflow()
ops = keras.ops

STEM = "08_attention_and_tiny_transformer"
INIT_STDDEV = 0.02  # GPT-2's initialisation: weights ~ Normal(0, 0.02²)
LAYER_NORM_EPSILON = 1e-5
VAL_BLOCK_CHARS = 10_000  # validation = every 10th contiguous block of this many tokens


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a GPT-style decoder (the names of chapter 01's ``transformer_params``)."""

    vocab_size: int
    n_ctx: int = 64  # context length: the most tokens the model sees at once
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "n_ctx", "d_model", "n_heads", "n_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}.")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}): each head "
                             f"gets d_model / n_heads features.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def n_params(self) -> int:
        """Chapter 01's formula ``V·d + n_ctx·d + L·(12·d² + 13·d) + 2·d`` for these sizes."""
        return transformer_params(self.n_layers, self.d_model, self.vocab_size, self.n_ctx)


# --------------------------------------------------------------------------- layers
def _init():
    return keras.initializers.RandomNormal(stddev=INIT_STDDEV)


class TiedEmbedding(keras.layers.Layer):
    """Token embeddings E (vocab_size, d_model). ``reverse=True`` turns hidden states into logits h·Eᵀ: the
    output layer reuses E (weight tying), so it adds no parameters."""

    def __init__(self, vocab_size: int, d_model: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.d_model = vocab_size, d_model

    def build(self, input_shape):
        self.embeddings = self.add_weight(shape=(self.vocab_size, self.d_model), initializer=_init(),
                                          name="embeddings")

    def call(self, inputs, reverse: bool = False):
        if reverse:
            return ops.matmul(inputs, ops.transpose(self.embeddings))
        return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "d_model": self.d_model}


class CausalSelfAttention(keras.layers.Layer):
    """Multi-head self-attention where position t sees positions ≤ t; ``attention.multi_head_attention`` in
    Keras, with Q, K, V computed by one Dense layer (d_model -> 3·d_model: 3·d² + 3·d parameters) and an
    output projection (d² + d).

    With ``cache`` (B, 2, nh, n_ctx, hs) the new keys and values are written at positions
    ``index .. index+T−1`` and the queries attend to everything cached so far; the call then returns
    ``(output, cache)``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.d_model, self.n_heads, self.dropout = d_model, n_heads, dropout
        self.qkv = keras.layers.Dense(3 * d_model, kernel_initializer=_init(), name="qkv")
        self.out = keras.layers.Dense(d_model, kernel_initializer=_init(), name="out")
        self.attn_dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        self.qkv.build(input_shape)
        self.out.build(input_shape)

    def _split_heads(self, x):  # (B, T, d_model) -> (B, nh, T, hs)
        B, T = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (B, T, self.n_heads, self.d_model // self.n_heads)), (0, 2, 1, 3))

    def call(self, x, training=False, cache=None, index=0):
        q, k, v = (self._split_heads(t) for t in ops.split(self.qkv(x), 3, axis=-1))
        T = ops.shape(x)[1]
        query_pos = ops.arange(T)[:, None] + index  # absolute position of each query
        if cache is not None:
            cache = ops.slice_update(cache, (0, 0, 0, index, 0), ops.stack([k, v], axis=1))
            k, v = cache[:, 0], cache[:, 1]
        mask = ops.arange(ops.shape(k)[2])[None, :] <= query_pos  # (T, T_keys): no looking ahead
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.d_model // self.n_heads)
        weights = ops.softmax(ops.where(mask, scores, -np.inf), axis=-1)
        context = ops.matmul(self.attn_dropout(weights, training=training), v)  # (B, nh, T, hs)
        B = ops.shape(x)[0]
        y = self.out(ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (B, T, self.d_model)))
        return y if cache is None else (y, cache)

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "n_heads": self.n_heads, "dropout": self.dropout}


class DecoderBlock(keras.layers.Layer):
    """GPT-2's pre-LayerNorm block: x + attention(LN(x)), then x + MLP(LN(x)) with a 4·d_model GELU MLP.
    Parameters: 12·d² + 13·d."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.d_model, self.n_heads, self.dropout = d_model, n_heads, dropout
        self.ln_1 = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="ln_1")
        self.attn = CausalSelfAttention(d_model, n_heads, dropout, name="attn")
        self.ln_2 = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="ln_2")
        self.mlp_in = keras.layers.Dense(4 * d_model, activation="gelu", kernel_initializer=_init(), name="mlp_in")
        self.mlp_out = keras.layers.Dense(d_model, kernel_initializer=_init(), name="mlp_out")
        self.resid_dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        for layer in (self.ln_1, self.attn, self.ln_2, self.mlp_in):
            layer.build(input_shape)
        self.mlp_out.build((*input_shape[:-1], 4 * self.d_model))

    def call(self, x, training=False, cache=None, index=0):
        attended = self.attn(self.ln_1(x), training=training, cache=cache, index=index)
        if cache is not None:
            attended, cache = attended
        x = x + self.resid_dropout(attended, training=training)
        x = x + self.resid_dropout(self.mlp_out(self.mlp_in(self.ln_2(x))), training=training)
        return x if cache is None else (x, cache)

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "n_heads": self.n_heads, "dropout": self.dropout}


# --------------------------------------------------------------------------- the model
def build_gpt(cfg: GPTConfig) -> keras.Model:
    """Token ids (B, T ≤ n_ctx) -> logits (B, T, vocab_size). Layers are named ``token_embedding``,
    ``position_embedding``, ``block_0`` … ``block_{L−1}`` and ``final_norm`` (its output: the hidden states
    that :func:`trunk` exposes for fine-tuning)."""
    if not isinstance(cfg, GPTConfig):
        raise ValueError(f"build_gpt takes a GPTConfig, got {type(cfg).__name__}; e.g. GPTConfig(vocab_size=65).")
    tokens = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embedding = TiedEmbedding(cfg.vocab_size, cfg.d_model, name="token_embedding")
    x = LearnedPositions(cfg.n_ctx, name="position_embedding")(embedding(tokens))
    x = keras.layers.Dropout(cfg.dropout, name="embedding_dropout")(x)
    for i in range(cfg.n_layers):
        x = DecoderBlock(cfg.d_model, cfg.n_heads, cfg.dropout, name=f"block_{i}")(x)
    hidden = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="final_norm")(x)
    return keras.Model(tokens, embedding(hidden, reverse=True), name="gpt")


def config_of(model: keras.Model) -> GPTConfig:
    """The :class:`GPTConfig` a model from :func:`build_gpt` was built with (read from its layers)."""
    try:
        embedding, positions = model.get_layer("token_embedding"), model.get_layer("position_embedding")
    except ValueError:
        raise ValueError(f"model {model.name!r} was not built by build_gpt (no token_embedding/position_embedding "
                         f"layers).") from None
    blocks = _blocks(model)
    return GPTConfig(embedding.vocab_size, positions.n_ctx, embedding.d_model, blocks[0].n_heads, len(blocks),
                     blocks[0].dropout)


def _blocks(model: keras.Model) -> list[DecoderBlock]:
    return [layer for layer in model.layers if isinstance(layer, DecoderBlock)]


def trunk(model: keras.Model) -> keras.Model:
    """The same model without its output layer: token ids (B, T) -> hidden states (B, T, d_model), sharing
    the weights (for a classifier head on top, chapter 09)."""
    config_of(model)
    return keras.Model(model.input, model.get_layer("final_norm").output, name=f"{model.name}_trunk")


def compile_gpt(model: keras.Model, lr: float = 1e-3, steps: int = 1000, warmup_steps: int = 100) -> keras.Model:
    """Adam (β₂ = 0.99, gradients clipped to norm 1), learning rate warmed up linearly over ``warmup_steps``
    then cosine-decayed to lr/10 (nanoGPT's Shakespeare recipe); loss: cross-entropy on the logits."""
    warmup_steps = min(warmup_steps, steps // 2)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(steps - warmup_steps, 1), alpha=0.1,
                                                      warmup_target=lr, warmup_steps=warmup_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule, beta_2=0.99, global_clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return build_optimizer(model)  # Adam's state now, so TensorFlow traces the first step once


# --------------------------------------------------------------------------- data for next-token prediction
def split_ids(ids, val_fraction: float = 0.1, block: int = VAL_BLOCK_CHARS) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation split by contiguous blocks: every (1/val_fraction)-th block of ``block`` tokens goes to
    validation, so both halves cover the whole corpus but no validation window overlaps training text
    (except across a block edge). Returns ``(train_ids, val_ids)``."""
    ids = np.asarray(ids)
    every = round(1 / val_fraction) if 0 < val_fraction < 1 else 0
    if ids.ndim != 1 or every < 2 or len(ids) < every * block:
        raise ValueError(f"split_ids needs a 1-D array of at least {every or 2}·{block} ids and 0 < val_fraction "
                         f"≤ 0.5; got shape {ids.shape}, val_fraction={val_fraction!r}.")
    is_val = (np.arange(len(ids)) // block) % every == every - 1
    return ids[~is_val], ids[is_val]


def sample_windows(ids, n_windows: int, n_ctx: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n_windows`` random windows: inputs X = ids[i : i+n_ctx] and targets y = ids[i+1 : i+n_ctx+1], both
    (n_windows, n_ctx) int32: at every position the target is the next token."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) <= n_ctx:
        raise ValueError(f"sample_windows needs a 1-D array longer than n_ctx={n_ctx}, got shape {ids.shape}.")
    starts = np.random.default_rng(seed).integers(0, len(ids) - n_ctx, size=n_windows)
    windows = ids[starts[:, None] + np.arange(n_ctx + 1)].astype(np.int32)
    return windows[:, :-1], windows[:, 1:]


@dataclass
class TrainResult:
    """One pretraining run: losses (nats per token) at each evaluation, and the seconds each stretch of
    training between two evaluations took."""

    steps: list[int]  # steps done at each evaluation
    train_loss: list[float]
    val_loss: list[float]
    chunk_seconds: list[float]  # the first includes tracing the training step, once
    tokens: int  # predictions trained on: steps · batch_size · n_ctx

    @property
    def final_val_loss(self) -> float:
        return self.val_loss[-1]

    @property
    def train_seconds(self) -> float:
        return sum(self.chunk_seconds)

    @property
    def steady_tokens_per_second(self) -> float:
        """Training speed after the first stretch, whose time includes the one-off tracing (the whole run's
        speed when there is only one stretch)."""
        if len(self.steps) < 2:
            return self.tokens / self.train_seconds
        return (self.steps[-1] - self.steps[0]) * (self.tokens / self.steps[-1]) / sum(self.chunk_seconds[1:])


def evaluate_loss(model: keras.Model, X, y, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per token) of the model's next-token predictions on windows X -> y (run
    eagerly, batch by batch: no graph to trace for a model evaluated only a few times)."""
    logits = predict_in_batches(model, X, batch_size)
    losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    return float(np.mean(keras.ops.convert_to_numpy(losses)))


def train_gpt(model: keras.Model, train_ids, val_ids, steps: int, batch_size: int = 32, lr: float = 1e-3,
              n_evals: int = 10, val_windows: int = 200, seed: int = 0) -> TrainResult:
    """Pretrain on next-token prediction for ``steps`` batches of random windows; evaluate ``n_evals`` times on
    the same ``val_windows`` validation windows. The times count only the training steps (the first stretch's
    includes tracing them), not the evaluations."""
    cfg = config_of(model)
    if steps < n_evals or n_evals < 1:
        raise ValueError(f"steps ({steps}) must be at least n_evals ({n_evals}) ≥ 1.")
    compile_gpt(model, lr, steps)
    X, y = sample_windows(train_ids, steps * batch_size, cfg.n_ctx, seed)
    X_val, y_val = sample_windows(val_ids, val_windows, cfg.n_ctx, seed + 1)
    result = TrainResult([], [], [], [], steps * batch_size * cfg.n_ctx)
    bounds = np.linspace(0, steps, n_evals + 1).round().astype(int) * batch_size
    for start, stop in zip(bounds[:-1], bounds[1:]):
        began = time.perf_counter()
        history = model.fit(X[start:stop], y[start:stop], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        result.chunk_seconds.append(time.perf_counter() - began)
        result.steps.append(int(stop // batch_size))
        result.train_loss.append(float(history.history["loss"][-1]))
        result.val_loss.append(evaluate_loss(model, X_val, y_val))
    return result


# --------------------------------------------------------------------------- generation
_COMPILED = weakref.WeakKeyDictionary()  # model -> its traced forward functions


def _compiled(model: keras.Model) -> dict:
    import tensorflow as tf

    if model not in _COMPILED:
        cfg = config_of(model)
        embedding, positions = model.get_layer("token_embedding"), model.get_layer("position_embedding")
        blocks, final_norm = _blocks(model), model.get_layer("final_norm")

        @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)])
        def last_logits(ids):  # full forward pass, logits of the last position only
            return model(ids, training=False)[:, -1]

        @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32),
                                      tf.TensorSpec((cfg.n_layers, None, 2, cfg.n_heads, cfg.n_ctx, cfg.head_dim)),
                                      tf.TensorSpec((), tf.int32)])
        def cached_logits(ids, cache, index):  # only the new tokens, at positions index.., against the cache
            T = tf.shape(ids)[1]
            x = embedding(ids) + positions.table[index:index + T]
            new_cache = []
            for i, block in enumerate(blocks):
                x, layer_cache = block(x, cache=cache[i], index=index)
                new_cache.append(layer_cache)
            return embedding(final_norm(x[:, -1:]), reverse=True)[:, 0], tf.stack(new_cache)

        _COMPILED[model] = {"last_logits": last_logits, "cached_logits": cached_logits}
    return _COMPILED[model]


def _check_prompt(ids, vocab_size: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim not in (1, 2) or ids.shape[-1] == 0 or ids.dtype.kind not in "iu":
        raise ValueError(f"ids must be integer token ids of shape (T,) or (B, T) with T ≥ 1, got shape {ids.shape} "
                         f"dtype {ids.dtype}. Encode a prompt with tokenizer.encode(text).")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"ids must lie in 0..{vocab_size - 1}, got {ids.min()}..{ids.max()}.")
    return np.atleast_2d(ids).astype(np.int32)


def top_k_logits(logits, k: int) -> np.ndarray:
    """Keep the ``k`` largest logits of each row (ties with the k-th included) and set the rest to −∞, so
    softmax gives them probability 0.

    >>> top_k_logits(np.array([[1.0, 3.0, 2.0]]), 2).tolist()
    [[-inf, 3.0, 2.0]]
    """
    logits = np.asarray(logits, dtype=np.float64)
    kth = np.sort(logits, axis=-1)[..., -min(k, logits.shape[-1]), None]
    return np.where(logits < kth, -np.inf, logits)


def _pick(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> np.ndarray:
    """Next token per row: argmax at temperature 0, else a sample from softmax(logits / temperature), keeping
    only the ``top_k`` largest logits when given."""
    if temperature == 0:
        return logits.argmax(axis=-1)
    logits = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None:
        logits = top_k_logits(logits, top_k)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(len(row), p=row) for row in p])


def generate(model: keras.Model, ids, max_new_tokens: int, temperature: float = 0.0, top_k: int | None = None,
             seed: int | None = None, use_cache: bool = False) -> np.ndarray:
    """Append ``max_new_tokens`` tokens to ``ids`` ((T,) or (B, T)), one at a time; returns the same rank.

    Each step feeds the last ``n_ctx`` tokens and picks the next token from the last position's logits
    (greedy at ``temperature=0``). ``use_cache=True`` gives the same tokens with a KV cache: the keys and
    values of earlier positions are kept, so each step runs the model on one new token. Once the text is
    longer than ``n_ctx``, the window slides and every position changes (learned absolute positions), so the
    cache is rebuilt from the last ``n_ctx`` tokens at each step.
    """
    cfg = config_of(model)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}.")
    if not temperature >= 0 or (top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1)):
        raise ValueError(f"temperature must be ≥ 0 (0 = greedy) and top_k None or a positive integer; got "
                         f"temperature={temperature!r}, top_k={top_k!r}.")
    one_row = np.ndim(ids) == 1
    tokens, rng, fns = _check_prompt(ids, cfg.vocab_size), np.random.default_rng(seed), _compiled(model)
    empty_cache = np.zeros((cfg.n_layers, len(tokens), 2, cfg.n_heads, cfg.n_ctx, cfg.head_dim), np.float32)
    cache, filled = None, 0
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = fns["last_logits"](tokens[:, -cfg.n_ctx:]).numpy()
        elif cache is None or filled == cfg.n_ctx:  # (re)build the cache from the window
            window = tokens[:, -cfg.n_ctx:]
            logits, cache = fns["cached_logits"](window, empty_cache, 0)
            logits, filled = logits.numpy(), window.shape[1]
        else:  # one new token at position `filled`
            logits, cache = fns["cached_logits"](tokens[:, -1:], cache, filled)
            logits, filled = logits.numpy(), filled + 1
        tokens = np.concatenate([tokens, _pick(logits, temperature, top_k, rng)[:, None].astype(np.int32)], axis=1)
    return tokens[0] if one_row else tokens


def generation_speed(model: keras.Model, ids, max_new_tokens: int, use_cache: bool, repeats: int = 5) -> float:
    """Greedy tokens per CPU-second (best of ``repeats``, after one untimed warm-up run that traces the graph).

    It counts this process's CPU time, not wall-clock time, so that other programs sharing the CPU do not
    distort the comparison; on an idle machine the wall-clock time is between half of it (both cores busy)
    and all of it."""
    generate(model, ids, 2, use_cache=use_cache)
    best = math.inf
    for _ in range(repeats):
        began = time.process_time()
        generate(model, ids, max_new_tokens, use_cache=use_cache)
        best = min(best, time.process_time() - began)
    return max_new_tokens * (np.atleast_2d(ids).shape[0]) / best


# --------------------------------------------------------------------------- measured like a big model
def matmul_peak_flops(n: int = 1024, repeats: int = 5) -> float:
    """This machine's float32 matrix-multiply speed in FLOP/s: the best of ``repeats`` timings of an (n × n)
    by (n × n) product in TensorFlow (2·n³ FLOPs each). It stands in for the datasheet peak of a GPU."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    (a @ b).numpy()  # warm-up
    best = math.inf
    for _ in range(repeats):
        began = time.perf_counter()
        (a @ b).numpy()
        best = min(best, time.perf_counter() - began)
    return 2.0 * n ** 3 / best


def kv_cache_bytes(n_layers: int, d_model: int, n_ctx: int, batch_size: int = 1, bytes_per_value: float = 2) -> float:
    """Memory of a full KV cache: keys and values (2) for every layer, position and feature of each sequence,
    ``2 · n_layers · n_ctx · d_model · batch_size · bytes_per_value`` (2 bytes in fp16/bf16)."""
    return 2.0 * n_layers * n_ctx * d_model * batch_size * bytes_per_value


# --------------------------------------------------------------------------- data parallelism
def configure_cpu_replicas(n: int = 2) -> list[str]:
    """Split the CPU into ``n`` logical devices for ``tf.distribute.MirroredStrategy``; returns their names.

    TensorFlow fixes its devices when it first runs an operation, so call this before anything else uses
    TensorFlow (right after ``import bigmodel_lessons``); calling it again later is fine.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:
        pass  # already initialised: fine if an earlier call made enough devices
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < n:
        raise RuntimeError(f"TensorFlow is already running with {len(devices)} CPU device(s), so it cannot be split "
                           f"into {n} now. Restart the kernel and call configure_cpu_replicas({n}) first.")
    return devices[:n]


def data_parallel_curves(cfg: GPTConfig, train_ids, steps: int, batch_size: int, devices: list[str],
                         lr: float = 1e-3, seed: int = 0) -> dict[str, list[float]]:
    """Train the same model (same initial weights, same batches) twice: on one device, and under
    ``tf.distribute.MirroredStrategy(devices)``, which gives each device half of every batch and averages the
    gradients (all-reduce). Returns the per-step training losses ``{"one device": [...], "mirrored": [...]}``."""
    import tensorflow as tf

    X, y = sample_windows(train_ids, steps * batch_size, cfg.n_ctx, seed)
    curves, initial_weights = {}, None
    for name, strategy in (("one device", tf.distribute.get_strategy()),
                           ("mirrored", tf.distribute.MirroredStrategy(devices))):
        with strategy.scope():
            keras.utils.set_random_seed(seed)
            model = build_gpt(cfg)
            initial_weights = initial_weights or model.get_weights()
            model.set_weights(initial_weights)
            compile_gpt(model, lr, steps, warmup_steps=0)
        losses = _LossPerStep()
        model.fit(X, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[losses])
        curves[name] = losses.values
    return curves


class _LossPerStep(keras.callbacks.Callback):
    """Each batch's own loss (Keras reports the running mean over the epoch: total_k = mean_k · (k + 1))."""

    def __init__(self):
        super().__init__()
        self.values, self._total = [], 0.0

    def on_train_batch_end(self, batch, logs=None):
        total = logs["loss"] * (batch + 1)
        self.values.append(total - self._total)
        self._total = total


# --------------------------------------------------------------------------- exercises
def _matches_param_count(answer) -> bool:
    return isinstance(answer, (int, np.integer)) and answer == GPTConfig(65, n_ctx=256).n_params


def _matches_top_k(filter_logits) -> bool:
    rng = np.random.default_rng(11)
    cases = [(rng.normal(size=(4, 9)), 3), (rng.normal(size=(2, 5)), 1), (rng.normal(size=(3, 6)), 6),
             (np.array([[2.0, 1.0, 2.0, 0.0]]), 2)]
    return all(np.array_equal(np.asarray(filter_logits(x.copy(), k), dtype=float), top_k_logits(x, k))
               for x, k in cases)


exercise(f"{STEM}.top_k", compare=_matches_top_k,
         hint="Find each row's k-th largest value, np.sort(logits, axis=-1)[:, -k, None], then "
              "np.where(logits < kth, -np.inf, logits).")
exercise(f"{STEM}.llama7b_kv_cache_bytes", 2 * 32 * 2048 * 4096 * 2, rtol=1e-3,
         hint="Keys and values: 2 × n_layers × n_ctx × d_model × 2 bytes (fp16), with 32 layers, d_model 4,096 "
              "and 2,048 positions; kv_cache_bytes(...) computes it.")
exercise(f"{STEM}.params_at_256", compare=_matches_param_count,
         hint="Only the position table depends on n_ctx: n_ctx·d_model more parameters. Check with "
              "GPTConfig(vocab_size=65, n_ctx=256).n_params or build_gpt(...).count_params().")
