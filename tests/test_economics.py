"""Chapter 01's economics against published figures (tolerances in each test), Keras, and bad input."""
import hashlib
import math

import keras
import numpy as np
import pandas as pd
import pytest

from bigmodel_lessons import economics as econ
from bigmodel_lessons.exercises import check

GPT2_SMALL = dict(n_layers=12, d_model=768, vocab_size=50257, n_ctx=1024)
GPT2_XL = dict(n_layers=48, d_model=1600, vocab_size=50257, n_ctx=1024)
GPT3 = dict(n_layers=96, d_model=12288, vocab_size=50257, n_ctx=2048)
LLAMA65B_FLOPS = 6 * 65.2e9 * 1.4e12  # Touvron et al. 2023: 65.2B parameters (Table 2), 1.4T tokens


# ------------------------------------------------------------------ parameters
def test_mnist_mlp_has_101770_parameters_like_keras():
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(128), keras.layers.Dense(10)])
    assert econ.mlp_params([784, 128, 10]) == 101_770 == model.count_params()


def test_gpt2_counts_equal_the_released_checkpoints_exactly():
    # Hugging Face `gpt2` and `gpt2-xl` report these totals (weight-tied output layer).
    assert econ.transformer_params(**GPT2_SMALL) == 124_439_808
    assert econ.transformer_params(**GPT2_XL) == 1_557_611_200


@pytest.mark.parametrize("config, published", [(GPT2_SMALL, 124e6), (GPT2_XL, 1.56e9), (GPT3, 175e9)])
def test_transformer_params_within_2_percent_of_published_sizes(config, published):
    assert econ.transformer_params(**config) == pytest.approx(published, rel=0.02)


def test_gpt3_count_matches_table_d1_within_0_1_percent():
    assert econ.transformer_params(**GPT3) == pytest.approx(174_600e6, rel=1e-3)  # Brown et al. 2020, Table D.1


def test_breakdown_sums_to_total_and_blocks_dominate_large_models():
    parts = econ.transformer_param_breakdown(**GPT3)
    assert sum(parts.values()) == econ.transformer_params(**GPT3)
    assert 12 * 96 * 12288**2 / sum(parts.values()) > 0.99
    assert parts["mlp"] == pytest.approx(2 * parts["attention"], rel=1e-3)
    small = econ.transformer_param_breakdown(**GPT2_SMALL)
    assert 0.30 < small["token embeddings"] / sum(small.values()) < 0.32


@pytest.mark.parametrize("n_layers, d_model, n_heads, vocab_size, n_ctx",
                         [(1, 32, 1, 100, 16), (2, 64, 4, 1000, 32), (2, 64, 8, 1000, 32), (3, 48, 6, 257, 9)])
def test_formula_matches_keras_count_params(n_layers, d_model, n_heads, vocab_size, n_ctx):
    keras.backend.clear_session()
    model = econ.keras_decoder(n_layers, d_model, n_heads, vocab_size, n_ctx)
    assert model.count_params() == econ.transformer_params(n_layers, d_model, vocab_size, n_ctx)
    assert model(np.zeros((2, n_ctx), dtype="int32")).shape == (2, n_ctx, d_model)


def test_keras_decoder_is_causal():
    keras.backend.clear_session()
    model = econ.keras_decoder(2, 32, 4, 50, 8)
    tokens = np.array([[1, 2, 3, 4, 5, 6, 7, 8]], dtype="int32")
    changed = tokens.copy()
    changed[0, -1] = 9
    before, after = np.asarray(model(tokens)), np.asarray(model(changed))
    np.testing.assert_allclose(before[:, :-1], after[:, :-1], atol=1e-6)  # earlier positions cannot see the last
    assert not np.allclose(before[:, -1], after[:, -1])


def test_keras_decoder_says_when_a_sequence_is_longer_than_n_ctx():
    """Not TensorFlow's 'Incompatible shapes: [1,10,16] vs. [8,16]': the length, the limit and what to do, both
    eagerly (the length is known when the layer runs) and in a graph traced for any length (known at run time)."""
    import tensorflow as tf

    keras.backend.clear_session()
    model = econ.keras_decoder(1, 16, 2, 50, 8)
    too_long = np.zeros((1, 10), dtype="int32")
    assert model(too_long[:, -8:]).shape == (1, 8, 16)  # the fix the message gives works
    for run in (model, lambda x: model(x, training=True)):
        with pytest.raises(ValueError, match=r"reads at most n_ctx = 8 tokens .* the sequence has 10 tokens\. "
                                             r"Cut it to its last 8 tokens, e\.g\. tokens\[:, -8:\].*slide the window"):
            run(too_long)
    any_length = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec((None, None), tf.int32)])
    assert any_length(too_long[:, :8]).shape == (1, 8, 16)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"reads at most n_ctx = 8 tokens.*Cut it to its last 8"):
        any_length(too_long)
    model.predict(too_long[:, :8], verbose=0)
    for length in (10, 12):  # predict traces for the shape it gets, or for any length once the shapes vary
        with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=r"reads at most n_ctx = 8 tokens"):
            model.predict(np.zeros((1, length), dtype="int32"), verbose=0)


# ------------------------------------------------------------------ training compute
def test_gpt3_training_flops_match_table_d1():
    # Brown et al. 2020, Table D.1: 3.14e23 FLOPs, 3.64e3 petaflop/s-days for 174.6B parameters, 300B tokens.
    flops = econ.training_flops(174.6e9, 300e9)
    assert flops == pytest.approx(3.14e23, rel=0.005)
    assert flops / (1e15 * 86400) == pytest.approx(3640, rel=0.005)


def test_chinchilla_budget_returns_chinchilla():
    n, d = econ.chinchilla_optimal(econ.training_flops(70e9, 1.4e12))  # Hoffmann et al. 2022
    assert n == pytest.approx(70e9, rel=1e-12) and d == pytest.approx(1.4e12, rel=1e-12)


@pytest.mark.parametrize("budget", [1e18, 1e21, 1e23, 5.76e23, 1e26])
def test_chinchilla_optimal_spends_the_budget_at_20_tokens_per_parameter(budget):
    n, d = econ.chinchilla_optimal(budget)
    assert 6 * n * d == pytest.approx(budget, rel=1e-12)
    assert d / n == pytest.approx(20, rel=1e-12)


@pytest.mark.parametrize("run, verdict", [("GPT-3 175B", "under-trained"), ("Gopher 280B", "under-trained"),
                                          ("Chinchilla 70B", "about compute-optimal"),
                                          ("LLaMA-65B", "about compute-optimal"), ("LLaMA-7B", "over-trained")])
def test_chinchilla_verdicts_of_published_runs(run, verdict):
    params, tokens, _ = econ.TRAINING_RUNS[run]
    assert econ.chinchilla_verdict(params, tokens) == verdict


# ------------------------------------------------------------------ time and money
def test_gpu_table_has_datasheet_peaks():
    assert econ.GPUS["A100"].peak_flops_per_s == 312e12 and econ.GPUS["H100"].peak_flops_per_s == 989e12
    assert econ.gpu_spec("h100") is econ.GPUS["H100"]


def test_llama65b_gpu_hours_imply_48_percent_mfu():
    mfu = econ.implied_mfu(LLAMA65B_FLOPS, 1_022_362, 312e12)  # Touvron et al. 2023, Table 15
    assert mfu == pytest.approx(0.477, abs=0.001)
    # the paper's other figure, 380 tokens/s/GPU, implies the same utilisation within 0.5 points
    assert 6 * 65.2e9 * 380 / 312e12 == pytest.approx(mfu, abs=0.005)
    assert econ.gpu_hours(LLAMA65B_FLOPS, 312e12, mfu) == pytest.approx(1_022_362, rel=1e-12)


def test_gpu_hours_by_hand():
    assert econ.gpu_hours(3600 * 100e12, 100e12, 1.0) == pytest.approx(1.0)
    assert econ.gpu_hours(3600 * 100e12, 100e12, 0.5) == pytest.approx(2.0)


def test_training_cost_and_plan_for_llama65b():
    mfu = econ.implied_mfu(LLAMA65B_FLOPS, 1_022_362, 312e12)
    assert econ.training_cost(LLAMA65B_FLOPS, "A100", mfu) == pytest.approx(1_022_362 * 2.0, rel=1e-9)
    assert econ.training_cost(LLAMA65B_FLOPS, "A100", mfu, price_per_gpu_hour=3.0) == pytest.approx(3_067_086, rel=1e-6)
    plan = econ.training_plan(65.2e9, 1.4e12, "A100", mfu, n_gpus=2048)
    assert plan["days"] == pytest.approx(21, abs=0.5)  # "approximately 21 days" on 2,048 A100s
    assert plan["Chinchilla verdict"] == "about compute-optimal"
    assert plan["tokens per parameter"] == pytest.approx(21.47, abs=0.01)


# ------------------------------------------------------------------ serving
def test_inference_cost_by_hand():
    assert econ.inference_flops_per_token(7e9) == 14e9
    # 2 · 7e9 · 1e6 FLOPs / (989e12 · 0.25) s = 56.62 s = 0.01573 h at $2/h
    assert econ.inference_cost_per_million_tokens(7e9, "H100", 0.25) == pytest.approx(0.031457, rel=1e-4)
    assert econ.inference_cost_per_million_tokens(70e9, "H100", 0.25, 4.0) == pytest.approx(0.62914, rel=1e-4)


@pytest.mark.parametrize("precision, gigabytes", [("fp32", 28), ("bf16", 14), ("fp16", 14), ("int8", 7), ("int4", 3.5)])
def test_weights_memory_of_a_7b_model(precision, gigabytes):
    assert econ.weights_memory_bytes(7e9, precision) == pytest.approx(gigabytes * 1e9)


def test_gpu_memory_is_counted_in_decimal_gigabytes_a_cautious_budget():
    """Chapter 01 (sections 1 and Exercise 2): GPUS reads '80 GB' as 80e9 bytes; the card holds 80 GiB ≈ 85.9e9.
    A 70B bf16 model leaves at most about 11 GB on an H200 even if its 141 GB are binary."""
    assert round(80 * 2**30 / 1e9, 1) == 85.9
    for name in ("A100", "H100"):
        assert econ.GPUS[name].memory_bytes == 80e9 < 80 * 2**30
    assert econ.GPUS["H200"].memory_bytes == 141e9
    assert round((141 * 2**30 - econ.weights_memory_bytes(70e9, "bf16")) / 1e9) == 11


# ------------------------------------------------------------------ privacy
@pytest.fixture
def people():
    return pd.DataFrame({"id": ["A-1", "A-2", "A-1"], "name": ["x", "y", "x"], "zip": ["1", "1", "2"],
                         "sex": ["F", "F", "M"]})


def test_pseudonymise_drops_identifiers_and_keeps_joins(people):
    key = b"0123456789abcdef"
    out = econ.pseudonymise(people, "id", ["name"], key=key)
    assert list(out.columns) == ["pseudonym", "zip", "sex"]
    assert out.pseudonym[0] == out.pseudonym[2] != out.pseudonym[1]
    assert out.pseudonym[0] != hashlib.sha256(b"A-1").hexdigest()[:16]  # not a plain, guessable hash
    assert out.pseudonym[0] != econ.pseudonymise(people, "id", ["name"], b"another-secret-key").pseudonym[0]
    assert "A-1" not in out.to_string() and "x" not in set(out.values.ravel())
    assert list(people.columns) == ["id", "name", "zip", "sex"]  # the input is left alone


def test_k_anonymity(people):
    assert econ.k_anonymity(people, ["zip"]) == 1
    assert econ.k_anonymity(people.assign(zip="1"), ["zip"]) == 3


def test_k_anonymity_counts_a_missing_value_as_a_value():
    """groupby drops NaN keys by default, which would hide the one person whose ZIP code is missing."""
    table = pd.DataFrame({"zip": ["100080", "100080", None], "sex": ["M", "M", "F"]})
    assert econ.k_anonymity(table, ["zip", "sex"]) == 1  # the third person is unique
    assert econ.k_anonymity(table, ["zip"]) == 1
    assert econ.k_anonymity(table.assign(sex=[np.nan] * 3), ["sex"]) == 3  # all missing: one group of 3
    both_missing = pd.DataFrame({"zip": ["100080", "100080", None, np.nan], "sex": ["M", "M", "F", "F"]})
    assert econ.k_anonymity(both_missing, ["zip", "sex"]) == 2


def test_k_anonymity_of_an_empty_table_says_so(people):
    with pytest.raises(ValueError, match="needs at least one row, but the table is empty"):
        econ.k_anonymity(people.iloc[:0], ["zip"])


@pytest.mark.parametrize("integer", [np.int64(784), np.int32(784), np.uint16(784), 784])
def test_counts_accept_numpy_integers(integer):
    assert econ.mlp_params([integer, 128, 10]) == 101_770
    assert econ.transformer_params(np.int64(12), integer - 16, np.int64(50257), np.int32(1024)) == 124_439_808
    assert type(econ.mlp_params([integer, 128, 10])) is int
    days = econ.training_plan(7e9, 1e12, "H100", 0.4, n_gpus=np.int64(64))["days"]
    assert days == econ.training_plan(7e9, 1e12, "H100", 0.4, n_gpus=64)["days"]


@pytest.mark.parametrize("value, match", [
    (True, "got True of type bool"), (784.0, "got 784.0 of type float"), (np.float64(784), "of type float64"),
    ("784", "got '784' of type str"), (np.int64(0), "got 0; it counts something"), (-3, "got -3; it counts"),
])
def test_non_integers_are_rejected_with_what_to_pass(value, match):
    with pytest.raises(ValueError, match=match):
        econ.mlp_params([value, 128, 10])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, match", [
    (lambda: econ.transformer_params(0, 768, 50257, 1024), "n_layers must be a positive integer"),
    (lambda: econ.transformer_params(12, -768, 50257, 1024), "d_model must be a positive integer"),
    (lambda: econ.transformer_params(12, 768, 50257.0, 1024), "vocab_size must be a positive integer"),
    (lambda: econ.mlp_params([784]), "at least an input and an output"),
    (lambda: econ.mlp_params([784, 0, 10]), r"layer_sizes\[1\] must be a positive integer"),
    (lambda: econ.keras_decoder(2, 30, 4, 100, 8), "divisible by n_heads"),
    (lambda: econ.training_flops(-1, 300e9), "n_params must be a positive"),
    (lambda: econ.training_flops(175e9, 0), "n_tokens must be a positive"),
    (lambda: econ.training_flops(True, 300e9), "n_params must be a positive"),
    (lambda: econ.chinchilla_optimal(float("nan")), "compute_flops must be a positive, finite"),
    (lambda: econ.gpu_hours(1e20, 312e12, 0), r"mfu .* must be in \(0, 1\]"),
    (lambda: econ.gpu_hours(1e20, 312e12, 1.5), r"mfu .* must be in \(0, 1\]"),
    (lambda: econ.gpu_hours(1e20, 312e12, -0.2), r"mfu .* must be in \(0, 1\]"),
    (lambda: econ.gpu_hours(1e20, 0, 0.5), "peak_flops_per_s must be a positive"),
    (lambda: econ.implied_mfu(1e20, -5, 312e12), "gpu_hours must be a positive"),
    (lambda: econ.training_cost(1e20, "V100", 0.4), "Unknown gpu 'V100'; valid names: L4, A100, H100, H200"),
    (lambda: econ.training_cost(1e20, "A100", 0.4, price_per_gpu_hour=0), "price_per_gpu_hour must be a positive"),
    (lambda: econ.training_plan(7e9, 1e12, "H100", 0.4, n_gpus=0), "n_gpus must be a positive integer"),
    (lambda: econ.inference_cost_per_million_tokens(7e9, "TPU", 0.3), "valid names: L4, A100, H100, H200"),
    (lambda: econ.inference_cost_per_million_tokens(7e9, "H100", 1.01), r"mfu .* must be in \(0, 1\]"),
    (lambda: econ.weights_memory_bytes(7e9, "fp8"), "Unknown precision 'fp8'; valid: fp32, fp16, bf16, int8, int4"),
    (lambda: econ.weights_memory_bytes(0, "bf16"), "n_params must be a positive"),
])
def test_bad_input_names_the_argument_and_the_valid_values(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_pseudonymise_rejects_bad_key_and_columns(people):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        econ.pseudonymise(people, "id", ["name"], b"short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        econ.pseudonymise(people, "id", ["name"], "a string, not bytes!")
    with pytest.raises(ValueError, match=r"\['phone'\] are not in the table; its columns"):
        econ.pseudonymise(people, "id", ["phone"], b"0123456789abcdef")
    with pytest.raises(ValueError, match="must not also be in drop"):
        econ.pseudonymise(people, "id", ["id"], b"0123456789abcdef")
    with pytest.raises(ValueError, match="quasi_identifiers must be columns"):
        econ.k_anonymity(people, ["age"])


# ------------------------------------------------------------------ exercises
STEM = "01_big_models_and_their_economics"


def _training_flops_of(L, d, V, n_ctx, D):
    return 6 * (V * d + n_ctx * d + L * (12 * d**2 + 13 * d) + 2 * d) * D


def _wall_clock_days(N, D, gpu, mfu, n_gpus):
    return 6 * N * D / (econ.GPUS[gpu].peak_flops_per_s * mfu * 3600) / n_gpus / 24


def _most_precise_fit(N, gpu, reserve_gb=0):
    return next((p for p in ("fp32", "bf16", "int8", "int4")
                 if N * econ.BYTES_PER_PARAM[p] + reserve_gb * 1e9 <= econ.GPUS[gpu].memory_bytes), None)


@pytest.mark.parametrize("name, right, wrong", [
    ("training_flops_of", _training_flops_of, lambda L, d, V, n_ctx, D: 6 * 12 * L * d**2 * D),  # 12Ld² only
    ("chinchilla_params", math.sqrt(1e23 / 120), 1e23 / 120),
    ("wall_clock_days", _wall_clock_days, lambda N, D, gpu, mfu, n_gpus: _wall_clock_days(N, D, gpu, mfu, 1)),
    ("serving_cost", 1000 * 2 * 7e9 * 1e6 / (989e12 * 0.25) / 3600 * 2.0, 1000 * 6 * 7e9 * 1e6 / (989e12 * 0.25) / 3600 * 2.0),
    ("most_precise_fit", _most_precise_fit, lambda N, gpu, reserve_gb=0: _most_precise_fit(N, gpu)),  # no reserve
])
def test_exercises_accept_the_hand_computed_answer_only(capsys, name, right, wrong):
    check(f"{STEM}.{name}", right)
    check(f"{STEM}.{name}", wrong)
    ok, bad = capsys.readouterr().out.splitlines()
    assert ok.startswith("✓") and bad.startswith("✗")


# ------------------------------------------------------------------ pay per token or self-host
def test_cost_curves_cross_exactly_at_the_break_even_volume():
    tps = econ.serving_tokens_per_second(7e9, "H100", 0.25)
    assert tps == pytest.approx(989e12 * 0.25 / 14e9, rel=1e-12)
    volume = econ.break_even_tokens_per_month(0.20, 2.0, tps)
    assert volume == pytest.approx(2.0 * 730 / 0.20 * 1e6, rel=1e-12)  # $1,460 a month / $0.20 per million
    assert econ.self_hosting_cost_per_million(volume, 2.0, tps) == pytest.approx(0.20, rel=1e-12)
    assert econ.self_hosting_cost_per_million(0.99 * volume, 2.0, tps) > 0.20  # below: the API is cheaper
    assert econ.self_hosting_cost_per_million(1.01 * volume, 2.0, tps) < 0.20  # above: self-hosting is cheaper


def test_self_hosting_pays_for_a_second_gpu_past_one_gpus_capacity():
    capacity = 100 * 3600 * econ.HOURS_PER_MONTH
    costs = econ.self_hosting_cost_per_million(np.array([capacity, capacity * 1.5]), 2.0, 100)
    assert costs[0] == pytest.approx(2.0 * 730 / (capacity / 1e6))
    assert costs[1] == pytest.approx(2 * 2.0 * 730 / (1.5 * capacity / 1e6))


def test_a_gpu_too_slow_to_beat_the_api_never_breaks_even():
    # 200 tokens/s at $2/h is $2.78 per million at full load: dearer than a $1 API at any volume
    assert econ.break_even_tokens_per_month(1.0, 2.0, 200) == math.inf
    volumes = np.logspace(6, 12, 50)
    assert np.all(econ.self_hosting_cost_per_million(volumes, 2.0, 200) > 1.0)


def test_plot_api_vs_self_hosting_marks_the_break_even(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    found = econ.plot_api_vs_self_hosting(ax, 0.20, 2.0, 17_000)
    assert found == pytest.approx(7.3e9)
    assert ax.get_xscale() == "log" and any("break-even" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)


def _break_even(api_price_per_million, gpu_dollars_per_hour, tokens_per_second):
    volume = gpu_dollars_per_hour * econ.HOURS_PER_MONTH / api_price_per_million * 1e6
    return volume if volume <= tokens_per_second * 3600 * econ.HOURS_PER_MONTH else math.inf


@pytest.mark.parametrize("wrong", [
    lambda api, price, tps: price * econ.HOURS_PER_MONTH / api * 1e6,  # forgets what one GPU can make
    lambda api, price, tps: price / api * 1e6,  # one hour, not a month
    lambda api, price, tps: _break_even(api, price, tps) / 1e6,  # millions of tokens, not tokens
])
def test_break_even_exercise_passes_the_right_function_and_fails_wrong_ones(capsys, wrong):
    check(f"{STEM}.break_even_tokens", _break_even)
    check(f"{STEM}.break_even_tokens", wrong)
    ok, bad = capsys.readouterr().out.splitlines()
    assert ok.startswith("✓") and bad.startswith("✗")
