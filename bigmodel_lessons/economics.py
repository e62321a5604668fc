"""Chapter 01: what a big model is and what it costs — parameters, FLOPs, GPU-hours, money, memory, privacy.

Every function checks its input and raises ``ValueError`` naming the argument and its valid range or names.
The formulas are approximations with published checks (see ``tests/test_economics.py``):

- parameters of a GPT-2/GPT-3-style decoder: ``V·d + n_ctx·d + L·(12·d² + 13·d) + 2·d``
- training compute ``6·N·D`` (Kaplan et al. 2020), inference ``2·N`` FLOPs per token
- Chinchilla-optimal ``D ≈ 20·N`` (Hoffmann et al. 2022)
- GPU-hours ``= FLOPs / (peak FLOP/s · MFU) / 3600``
"""
from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from .env import quiet_tensorflow
from .exercises import exercise

keras = quiet_tensorflow()

CHINCHILLA_TOKENS_PER_PARAM = 20.0
DEFAULT_PRICE_PER_GPU_HOUR = 2.0
"""US dollars per GPU-hour: a round, illustrative planning figure, NOT a quote. Real prices depend on the
provider, region, commitment and year; pass your own ``price_per_gpu_hour``."""

BYTES_PER_PARAM = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
HOURS_PER_MONTH = 730.0  # 365 · 24 / 12
ASSUMED_API_PRICE_PER_MILLION = 0.20
"""US dollars per million generated tokens from a pay-per-token API serving a 7B-class open model: a round,
illustrative planning figure, NOT a quote. Pass the price you are offered."""


@dataclass(frozen=True)
class GPU:
    """Datasheet figures for one accelerator (dense BF16 peak: half the 'with sparsity' number NVIDIA prints).

    ``memory_bytes`` reads the datasheet's GB as 10⁹ bytes. GPU memory comes in binary units (an 80 GB A100 or
    H100 holds 80 GiB = 80·2³⁰ ≈ 85.9e9 bytes), so these are cautious budgets, part of whose margin the CUDA
    context and the framework's buffers take."""

    name: str
    peak_flops_per_s: float
    memory_bytes: float
    memory_bandwidth_bytes_per_s: float
    source: str


GPUS = {
    gpu.name: gpu
    for gpu in (
        GPU("L4", 121e12, 24e9, 300e9, "NVIDIA L4 datasheet: BF16 242 TFLOP/s with sparsity, 24 GB, 300 GB/s"),
        GPU("A100", 312e12, 80e9, 2039e9, "NVIDIA A100 80GB SXM datasheet: BF16 312 TFLOP/s dense, 2,039 GB/s"),
        GPU("H100", 989e12, 80e9, 3350e9, "NVIDIA H100 SXM datasheet: BF16 1,979 TFLOP/s with sparsity, 3.35 TB/s"),
        GPU("H200", 989e12, 141e9, 4800e9, "NVIDIA H200 SXM datasheet: same compute as H100, 141 GB, 4.8 TB/s"),
    )
}

# Published training runs: name -> (parameters, training tokens, source).
TRAINING_RUNS = {
    "GPT-3 175B": (175e9, 300e9, "Brown et al. 2020"),
    "Gopher 280B": (280e9, 300e9, "Rae et al. 2021"),
    "Chinchilla 70B": (70e9, 1.4e12, "Hoffmann et al. 2022"),
    "LLaMA-7B": (6.7e9, 1.0e12, "Touvron et al. 2023, Table 2"),
    "LLaMA-65B": (65.2e9, 1.4e12, "Touvron et al. 2023, Table 2"),
}


# ---------------------------------------------------------------- input checks
def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive, finite number, got {value!r}.")
    return float(value)


def _positive_int(name: str, value) -> int:
    """``value`` as a Python int: any integer type (int, np.int64, ...) but not bool, and at least 1."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a positive integer (an int or a NumPy integer), got {value!r} of type "
                         f"{type(value).__name__}; pass a whole number such as 784 (int(x) converts a whole float).")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {int(value)}; it counts something, so it is at "
                         f"least 1.")
    return int(value)


def _mfu(value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value <= 1:
        raise ValueError(f"mfu (model-FLOPs utilisation) must be in (0, 1], e.g. 0.4 for 40%, got {value!r}.")
    return float(value)


def gpu_spec(gpu: str) -> GPU:
    """The :class:`GPU` called ``gpu`` (case-insensitive): one of ``GPUS``."""
    key = gpu.upper() if isinstance(gpu, str) else gpu
    if key not in GPUS:
        raise ValueError(f"Unknown gpu {gpu!r}; valid names: {', '.join(GPUS)}.")
    return GPUS[key]


# ---------------------------------------------------------------- parameters
def mlp_params(layer_sizes: list[int]) -> int:
    """Parameters of a dense network with these layer widths, inputs first: sum of n_in·n_out + n_out."""
    sizes = [_positive_int(f"layer_sizes[{i}]", n) for i, n in enumerate(layer_sizes)]
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output width, got {layer_sizes!r}.")
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))


def transformer_param_breakdown(n_layers: int, d_model: int, vocab_size: int, n_ctx: int) -> dict[str, int]:
    """Parameters of a GPT-2/GPT-3-style decoder, by part.

    Per layer: attention Q, K, V and output projections ``4·d² + 4·d``; MLP d -> 4d -> d ``8·d² + 5·d``; two
    LayerNorms ``4·d``: together ``12·d² + 13·d``. Plus token embeddings ``V·d``, learned positions ``n_ctx·d``
    and a final LayerNorm ``2·d``. The output layer reuses the token-embedding matrix (weight tying), so it
    adds nothing. The number of heads does not matter: heads split ``d_model``, they do not add weights.
    """
    L, d = _positive_int("n_layers", n_layers), _positive_int("d_model", d_model)
    V, T = _positive_int("vocab_size", vocab_size), _positive_int("n_ctx", n_ctx)
    return {
        "token embeddings": V * d,
        "position embeddings": T * d,
        "attention": L * (4 * d * d + 4 * d),
        "mlp": L * (8 * d * d + 5 * d),
        "layer norms": L * 4 * d + 2 * d,
    }


def transformer_params(n_layers: int, d_model: int, vocab_size: int, n_ctx: int) -> int:
    """Total parameters of a GPT-2/GPT-3-style decoder: ``V·d + n_ctx·d + L·(12·d² + 13·d) + 2·d``."""
    return sum(transformer_param_breakdown(n_layers, d_model, vocab_size, n_ctx).values())


class LearnedPositions(keras.layers.Layer):
    """Adds a learned vector per position (GPT-2's position embedding) to the token vectors."""

    def __init__(self, n_ctx: int, **kwargs):
        super().__init__(**kwargs)
        self.n_ctx = n_ctx

    def build(self, input_shape):
        self.table = self.add_weight(shape=(self.n_ctx, input_shape[-1]), initializer="random_normal", name="table")

    def call(self, x):
        T = x.shape[1]  # static length, or None while tracing for sequences of any length
        if T is not None and T > self.n_ctx:
            raise ValueError(self._too_long(T))
        if T is None and keras.backend.backend() == "tensorflow":  # known only at run time: check it then
            import tensorflow as tf

            check = tf.debugging.assert_less_equal(tf.shape(x)[1], self.n_ctx, message=self._too_long())
            with tf.control_dependencies([check]):  # before the addition, which would fail with bare shapes
                x = tf.identity(x)
        return x + self.table[: keras.ops.shape(x)[1]]

    def _too_long(self, T: int | None = None) -> str:
        has = f"has {T} tokens" if T is not None else "has more tokens than that (its length is the x below)"
        return (f"This model reads at most n_ctx = {self.n_ctx} tokens (one learned position vector per position), "
                f"but the sequence {has}. Cut it to its last {self.n_ctx} tokens, e.g. "
                f"tokens[:, -{self.n_ctx}:]; to generate longer texts, slide the window: feed only the last "
                f"{self.n_ctx} tokens at each step.")

    def get_config(self):
        return {**super().get_config(), "n_ctx": self.n_ctx}


def keras_decoder(n_layers: int, d_model: int, n_heads: int, vocab_size: int, n_ctx: int) -> keras.Model:
    """A GPT-2-style decoder in Keras (pre-LayerNorm blocks, causal attention, GELU MLP), returning hidden
    states; logits would multiply them by the token-embedding matrix (tied), which adds no parameters."""
    for name, value in (("n_layers", n_layers), ("n_heads", n_heads), ("vocab_size", vocab_size), ("n_ctx", n_ctx)):
        _positive_int(name, value)
    if _positive_int("d_model", d_model) % n_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}).")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = LearnedPositions(n_ctx)(keras.layers.Embedding(vocab_size, d_model)(tokens))
    for _ in range(n_layers):
        h = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        x = x + keras.layers.MultiHeadAttention(n_heads, d_model // n_heads)(h, h, use_causal_mask=True)
        h = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        x = x + keras.layers.Dense(d_model)(keras.layers.Dense(4 * d_model, activation="gelu")(h))
    return keras.Model(tokens, keras.layers.LayerNormalization(epsilon=1e-5)(x), name="decoder")


# ---------------------------------------------------------------- training compute
def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute ``6·N·D``: 2 FLOPs per parameter per token forward, about 4 backward (Kaplan et al. 2020)."""
    return 6.0 * _positive("n_params", n_params) * _positive("n_tokens", n_tokens)


def chinchilla_optimal(compute_flops: float) -> tuple[float, float]:
    """Compute-optimal (parameters N, tokens D) for a budget C: ``D = 20·N`` and ``6·N·D = C``, so
    ``N = √(C/120)``."""
    n_params = math.sqrt(_positive("compute_flops", compute_flops) / (6.0 * CHINCHILLA_TOKENS_PER_PARAM))
    return n_params, CHINCHILLA_TOKENS_PER_PARAM * n_params


def chinchilla_verdict(n_params: float, n_tokens: float) -> str:
    """'under-trained', 'about compute-optimal' or 'over-trained' against ~20 tokens per parameter.

    'About compute-optimal' means within a factor of 2 of 20 tokens/parameter (our convention: the loss is
    flat near the optimum). 'Over-trained' is often deliberate: a smaller model is cheaper to serve.
    """
    ratio = _positive("n_tokens", n_tokens) / _positive("n_params", n_params) / CHINCHILLA_TOKENS_PER_PARAM
    if ratio < 0.5:
        return "under-trained"
    return "over-trained" if ratio > 2 else "about compute-optimal"


# ---------------------------------------------------------------- time and money
def gpu_hours(flops: float, peak_flops_per_s: float, mfu: float) -> float:
    """GPU-hours to do ``flops`` on GPUs with this peak, running at model-FLOPs utilisation ``mfu``."""
    return _positive("flops", flops) / (_positive("peak_flops_per_s", peak_flops_per_s) * _mfu(mfu)) / 3600.0


def implied_mfu(flops: float, gpu_hours: float, peak_flops_per_s: float) -> float:
    """The utilisation a published run achieved: useful FLOPs / (GPU-hours · 3600 · peak)."""
    return _positive("flops", flops) / (_positive("gpu_hours", gpu_hours) * 3600.0
                                        * _positive("peak_flops_per_s", peak_flops_per_s))


def training_cost(flops: float, gpu: str, mfu: float,
                  price_per_gpu_hour: float = DEFAULT_PRICE_PER_GPU_HOUR) -> float:
    """Dollars to train: GPU-hours on ``gpu`` at ``mfu`` times an assumed price per GPU-hour (not a quote)."""
    return gpu_hours(flops, gpu_spec(gpu).peak_flops_per_s, mfu) * _positive("price_per_gpu_hour", price_per_gpu_hour)


def training_plan(n_params: float, n_tokens: float, gpu: str, mfu: float, n_gpus: int,
                  price_per_gpu_hour: float = DEFAULT_PRICE_PER_GPU_HOUR) -> dict[str, float | str]:
    """Everything the calculator shows: FLOPs, GPU-hours, days on ``n_gpus``, cost, tokens/param, verdict."""
    flops = training_flops(n_params, n_tokens)
    hours = gpu_hours(flops, gpu_spec(gpu).peak_flops_per_s, mfu)
    return {
        "FLOPs": flops,
        "GPU-hours": hours,
        "days": hours / _positive_int("n_gpus", n_gpus) / 24.0,
        "cost ($)": training_cost(flops, gpu, mfu, price_per_gpu_hour),
        "tokens per parameter": n_tokens / n_params,
        "Chinchilla verdict": chinchilla_verdict(n_params, n_tokens),
    }


# ---------------------------------------------------------------- serving
def inference_flops_per_token(n_params: float) -> float:
    """Forward-pass compute per generated token: about ``2·N`` (one multiply and one add per weight)."""
    return 2.0 * _positive("n_params", n_params)


def inference_cost_per_million_tokens(n_params: float, gpu: str, mfu: float,
                                      price_per_gpu_hour: float = DEFAULT_PRICE_PER_GPU_HOUR) -> float:
    """Dollars per million generated tokens when the GPU is kept busy at ``mfu`` (a floor: idle time costs too)."""
    hours = gpu_hours(1e6 * inference_flops_per_token(n_params), gpu_spec(gpu).peak_flops_per_s, mfu)
    return hours * _positive("price_per_gpu_hour", price_per_gpu_hour)


def serving_tokens_per_second(n_params: float, gpu: str, mfu: float) -> float:
    """Tokens per second one ``gpu`` generates when kept busy at ``mfu``: peak · MFU / (2·N)."""
    return gpu_spec(gpu).peak_flops_per_s * _mfu(mfu) / inference_flops_per_token(n_params)


def self_hosting_cost_per_million(monthly_tokens, gpu_dollars_per_hour: float, tokens_per_second: float,
                                  hours_per_month: float = HOURS_PER_MONTH):
    """Dollars per million tokens when you reserve whole GPUs for the month, busy or idle.

    Each GPU costs ``gpu_dollars_per_hour · hours_per_month`` and generates at most
    ``tokens_per_second · 3600 · hours_per_month`` tokens a month; you pay for ``ceil(volume / capacity)`` GPUs
    (at least one). ``monthly_tokens`` may be a number or an array. Example: $2/h, 730 h, 1 billion tokens →
    $1,460 / 1,000 million = $1.46 per million (if one GPU can make them)."""
    volume = np.asarray(monthly_tokens, dtype=float)
    if np.any(volume <= 0):
        raise ValueError(f"monthly_tokens must be > 0; got {monthly_tokens!r}.")
    hours = _positive("hours_per_month", hours_per_month)
    capacity = _positive("tokens_per_second", tokens_per_second) * 3600.0 * hours
    n_gpus = np.maximum(1.0, np.ceil(volume / capacity))
    cost = n_gpus * _positive("gpu_dollars_per_hour", gpu_dollars_per_hour) * hours / (volume / 1e6)
    return float(cost) if cost.ndim == 0 else cost


def break_even_tokens_per_month(api_price_per_million: float, gpu_dollars_per_hour: float,
                                tokens_per_second: float, hours_per_month: float = HOURS_PER_MONTH) -> float:
    """Monthly tokens at which one reserved GPU costs what the API charges: GPU's month / API price per token.

    ``math.inf`` when one GPU, even fully busy, costs more per token than the API (it never breaks even):
    the break-even volume would be more than the GPU can generate in a month."""
    api = _positive("api_price_per_million", api_price_per_million)
    hours = _positive("hours_per_month", hours_per_month)
    monthly_gpu_cost = _positive("gpu_dollars_per_hour", gpu_dollars_per_hour) * hours
    volume = monthly_gpu_cost / api * 1e6
    capacity = _positive("tokens_per_second", tokens_per_second) * 3600.0 * hours
    return volume if volume <= capacity else math.inf


def plot_api_vs_self_hosting(ax, api_price_per_million: float, gpu_dollars_per_hour: float,
                             tokens_per_second: float, volumes=None, gpu_label: str = "one reserved GPU") -> float:
    """Draw $ per million tokens against monthly tokens (log-log) for an API and for self-hosting; mark and return
    the break-even volume."""
    volumes = np.logspace(7, 11.5, 400) if volumes is None else np.asarray(volumes, dtype=float)
    self_hosted = self_hosting_cost_per_million(volumes, gpu_dollars_per_hour, tokens_per_second)
    ax.plot(volumes, np.full_like(volumes, api_price_per_million), color="tab:blue",
            label=f"pay-per-token API at ${api_price_per_million:.2f} per million (assumed)")
    ax.plot(volumes, self_hosted, color="tab:orange",
            label=f"self-hosting: {gpu_label} at ${gpu_dollars_per_hour:.2f}/hour (assumed)")
    break_even = break_even_tokens_per_month(api_price_per_million, gpu_dollars_per_hour, tokens_per_second)
    if math.isfinite(break_even):
        ax.axvline(break_even, color="0.4", linestyle="--", lw=1,
                   label=f"break-even: {break_even / 1e9:.1f} billion tokens a month")
        ax.plot([break_even], [api_price_per_million], "o", color="crimson", zorder=3)
    ax.set(xscale="log", yscale="log", xlabel="tokens generated per month (log scale)",
           ylabel="$ per million tokens (log scale)", title="Pay per token or self-host?")
    ax.set_ylim(bottom=min(api_price_per_million, float(np.min(self_hosted))) / 8)  # room for the legend
    ax.legend(loc="lower left", fontsize=9)
    return break_even


def weights_memory_bytes(n_params: float, precision: str) -> float:
    """Bytes to hold the weights alone (no activations, KV cache or optimizer state) at ``precision``."""
    if precision not in BYTES_PER_PARAM:
        raise ValueError(f"Unknown precision {precision!r}; valid: {', '.join(BYTES_PER_PARAM)}.")
    return _positive("n_params", n_params) * BYTES_PER_PARAM[precision]


# ---------------------------------------------------------------- privacy
def pseudonymise(table, id_column: str, drop: list[str], key: bytes):
    """Drop the direct identifiers ``drop`` and replace ``id_column`` by a keyed hash in a ``pseudonym`` column.

    The hash is HMAC-SHA-256 with a secret ``key`` (at least 16 bytes, e.g. ``secrets.token_bytes(32)``, kept
    apart from the data), cut to 16 hex characters: the same person always gets the same pseudonym, so records
    still join, and no one without the key can recompute it from a guessed ID. (A secret mixed into every hash
    is a key, sometimes called a pepper; a salt is a random, non-secret value stored next to each hash.) This is
    pseudonymisation, not anonymisation: the key's holder can re-link, and the remaining columns may still
    single people out.
    """
    missing = [c for c in (id_column, *drop) if c not in table.columns]
    if missing:
        raise ValueError(f"Columns {missing} are not in the table; its columns: {list(table.columns)}.")
    if id_column in drop:
        raise ValueError(f"id_column {id_column!r} is pseudonymised, so it must not also be in drop.")
    if not isinstance(key, bytes) or len(key) < 16:
        raise ValueError("key must be a secret bytes value of at least 16 bytes, e.g. secrets.token_bytes(32).")
    pseudonyms = [hmac.new(key, str(v).encode(), hashlib.sha256).hexdigest()[:16] for v in table[id_column]]
    out = table.drop(columns=[id_column, *drop])
    out.insert(0, "pseudonym", pseudonyms)
    return out


def k_anonymity(table, quasi_identifiers: list[str]) -> int:
    """The size of the smallest group of rows sharing the same quasi-identifier values (k=1: someone is unique).

    A missing value (NaN or None) counts as a value of its own: rows with a blank ZIP code form their own group
    and are not left out (a row that is unique because its ZIP code is missing is still unique)."""
    missing = [c for c in quasi_identifiers if c not in table.columns]
    if missing or not quasi_identifiers:
        raise ValueError(f"quasi_identifiers must be columns of the table {list(table.columns)}, "
                         f"got {quasi_identifiers!r}.")
    if len(table) == 0:
        raise ValueError("k_anonymity needs at least one row, but the table is empty: k is undefined for no "
                         "people. Pass the table of records you are about to release.")
    return int(table.groupby(list(quasi_identifiers), dropna=False).size().min())


# ---------------------------------------------------------------- figures
CONCEPTS = {  # name -> (x, y, group) on the concept map
    "Funding": (1.0, 5.0, "inputs"), "Compute": (4.0, 5.0, "inputs"), "Talent": (1.0, 3.0, "inputs"),
    "Training data": (1.0, 1.2, "inputs"), "Big model": (4.0, 3.0, "model"), "Deep learning": (4.0, 1.2, "method"),
    "Application\nscenarios": (7.0, 3.0, "market"), "Business model": (9.6, 3.0, "market"),
    "Technical moat": (8.6, 1.2, "market"), "Regulation": (6.2, 0.2, "rules"),
}
CONCEPT_LINKS = [  # (from, to, label)
    ("Funding", "Compute", "buys"), ("Funding", "Talent", "hires"), ("Talent", "Big model", "builds"),
    ("Compute", "Big model", "trains"), ("Training data", "Big model", "teaches"),
    ("Deep learning", "Big model", "method"), ("Big model", "Application\nscenarios", "powers"),
    ("Application\nscenarios", "Business model", "earns"), ("Business model", "Funding", "revenue"),
    ("Application\nscenarios", "Technical moat", "usage data"), ("Business model", "Technical moat", "distribution"),
    ("Regulation", "Application\nscenarios", "limits"), ("Regulation", "Training data", "limits"),
]
_GROUP_COLOURS = {"inputs": "#cfe2f3", "method": "#d9d2e9", "model": "#f9cb9c", "market": "#d9ead3", "rules": "#e0e0e0"}
_BENT = {("Business model", "Funding"): 0.3}  # links drawn as arcs (rad), to go around the boxes


def draw_concept_map():
    """The chapter's ten concepts and how they feed each other, as a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    ax.set(xlim=(0, 10.6), ylim=(-0.3, 6.6))
    ax.axis("off")
    boxes = {name: ax.text(x, y, name, ha="center", va="center", fontsize=11, zorder=2,
                           bbox=dict(boxstyle="round,pad=0.5", fc=_GROUP_COLOURS[group], ec="0.3"))
             for name, (x, y, group) in CONCEPTS.items()}
    for source, target, label in CONCEPT_LINKS:
        rad = _BENT.get((source, target), 0.0)
        ax.annotate("", xy=(0.5, 0.5), xycoords=boxes[target], xytext=(0.5, 0.5), textcoords=boxes[source],
                    arrowprops=dict(arrowstyle="-|>", color="0.35", connectionstyle=f"arc3,rad={rad}",
                                    linestyle="--" if source == "Regulation" else "-",
                                    patchA=boxes[source].get_bbox_patch(), patchB=boxes[target].get_bbox_patch()))
        (x0, y0, _), (x1, y1, _) = CONCEPTS[source], CONCEPTS[target]
        x_mid, y_mid = (x0 + x1) / 2 + rad / 2 * (y1 - y0), (y0 + y1) / 2 - rad / 2 * (x1 - x0)
        ax.text(x_mid, y_mid, label, fontsize=9, color="0.25", ha="center", va="center",
                bbox=dict(fc="white", ec="none", pad=1), zorder=3)
    ax.set_title("Ten concepts around a big model: inputs (blue), the model, the market (green), rules (grey)")
    return fig


_LABEL_OFFSETS = {"Chinchilla 70B": (-45, 9), "LLaMA-65B": (6, -12), "GPT-3 175B": (-75, -12), "Gopher 280B": (6, 2)}


def plot_tokens_vs_params(ax, highlight: tuple[float, float] | None = None) -> None:
    """Training tokens against parameters for the published runs, with the Chinchilla line D = 20·N."""
    import numpy as np

    n = np.logspace(8, 12.5, 50)
    ax.loglog(n, CHINCHILLA_TOKENS_PER_PARAM * n, "k--", lw=1, label="20 tokens per parameter (Chinchilla)")
    for name, (params, tokens, _) in TRAINING_RUNS.items():
        ax.scatter(params, tokens, color="tab:blue", zorder=3)
        ax.annotate(name, (params, tokens), textcoords="offset points", xytext=_LABEL_OFFSETS.get(name, (6, -4)),
                    fontsize=9)
    if highlight is not None:
        ax.scatter(*highlight, marker="*", s=250, color="crimson", zorder=4, label="your plan")
    ax.text(1.3e8, 1e11, "over-trained\n(more tokens per parameter)", fontsize=9, color="0.4")
    ax.text(3e11, 1.5e10, "under-trained", fontsize=9, color="0.4")
    ax.set(xlabel="parameters N", ylabel="training tokens D", xlim=(1e8, 3e12), ylim=(1e9, 1e14))
    ax.legend(loc="upper left")


# ---------------------------------------------------------------- exercises
_STEM = "01_big_models_and_their_economics"
PRECISIONS_MOST_PRECISE_FIRST = ("fp32", "bf16", "int8", "int4")


def _is_training_flops_of(training_flops_of) -> bool:
    configs = [(2, 128, 1000, 64, 1e9), (24, 2048, 32000, 4096, 2e12), (80, 8192, 128256, 8192, 1.5e13)]
    return all(math.isclose(float(training_flops_of(L, d, V, n_ctx, D)),
                            training_flops(transformer_params(L, d, V, n_ctx), D), rel_tol=1e-9)
               for L, d, V, n_ctx, D in configs)


def _is_wall_clock_days(wall_clock_days) -> bool:
    plans = [(7e9, 2e12, "H100", 0.4, 64), (1e9, 2e10, "L4", 0.3, 8), (70e9, 1.4e12, "A100", 0.5, 1024)]
    return all(math.isclose(float(wall_clock_days(N, D, gpu, mfu, n)), training_plan(N, D, gpu, mfu, n)["days"],
                            rel_tol=1e-6) for N, D, gpu, mfu, n in plans)


def _reference_fit(n_params: float, gpu: str, reserve_gb: float) -> str | None:
    return next((p for p in PRECISIONS_MOST_PRECISE_FIRST
                 if weights_memory_bytes(n_params, p) + reserve_gb * 1e9 <= GPUS[gpu].memory_bytes), None)


def _is_most_precise_fit(most_precise_fit) -> bool:
    cases = [(7e9, "L4", 0), (7e9, "L4", 10), (13e9, "A100", 20), (34e9, "H100", 0), (70e9, "H100", 20),
             (70e9, "H200", 0), (400e9, "H100", 0), (1e9, "A100", 0)]
    return all(most_precise_fit(N, gpu, reserve_gb) == _reference_fit(N, gpu, reserve_gb)
               for N, gpu, reserve_gb in cases)


def _is_break_even_tokens(my_break_even_tokens) -> bool:
    cases = [(0.20, 2.0, 17_000), (1.00, 2.0, 200), (0.50, 4.0, 5_000), (0.10, 1.0, 300), (2.50, 3.0, 1_000),
             (0.05, 2.0, 10_000)]
    for api, price, tps in cases:
        got, want = float(my_break_even_tokens(api, price, tps)), break_even_tokens_per_month(api, price, tps)
        if math.isinf(want) != math.isinf(got) or (math.isfinite(want) and not math.isclose(got, want, rel_tol=1e-6)):
            return False
    return True


exercise(f"{_STEM}.training_flops_of", compare=_is_training_flops_of,
         hint="N = V·d + n_ctx·d + L·(12·d² + 13·d) + 2·d (section 7), then 6·N·D.")
exercise(f"{_STEM}.chinchilla_params", 2.887e10, rtol=0.01,
         hint="With D = 20·N, C = 6·N·D = 120·N², so N = sqrt(C / 120).")
exercise(f"{_STEM}.wall_clock_days", compare=_is_wall_clock_days,
         hint="GPU-hours = 6·N·D / (GPUS[gpu].peak_flops_per_s × mfu × 3600); divide by the number of GPUs and by 24.")
exercise(f"{_STEM}.serving_cost", 31.46, rtol=0.01,
         hint="1,000 million tokens × inference_cost_per_million_tokens(7e9, 'H100', 0.25).")
exercise(f"{_STEM}.most_precise_fit", compare=_is_most_precise_fit,
         hint="Try 'fp32', 'bf16', 'int8', 'int4' in that order; return the first whose weights_memory_bytes plus "
              "reserve_gb × 1e9 is at most GPUS[gpu].memory_bytes, and None if none is.")
exercise(f"{_STEM}.break_even_tokens", compare=_is_break_even_tokens,
         hint="A reserved GPU costs gpu_dollars_per_hour × HOURS_PER_MONTH a month; the API charges "
              "api_price_per_million per 1e6 tokens, so they cost the same at that monthly cost / price × 1e6 tokens. "
              "If that is more than tokens_per_second × 3600 × HOURS_PER_MONTH (what one GPU can make), return math.inf.")
