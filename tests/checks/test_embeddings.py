"""Assignment 4's checks: the visible checks and the grader's judges on hidden inputs accept a
correct solution and name the likely mistake of a wrong one."""

import os
import re
import string

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from autograder import exports
from autograder.judges import MEASUREMENTS
from coursekit.checks import embeddings as checks

SEEDS = range(5)


def standardize(texts, line_breaks=True):
    texts = tf.strings.lower(texts)
    if line_breaks:
        texts = tf.strings.regex_replace(texts, "<br />", " ")
    return tf.strings.regex_replace(texts, f"[{re.escape(string.punctuation)}]", "")


def build_vectorizer(texts, vocabulary_size, sequence_length, **mistake):
    settings = {"max_tokens": vocabulary_size, "standardize": standardize, "output_sequence_length": sequence_length}
    vectorizer = layers.TextVectorization(**{**settings, **mistake})
    vectorizer.adapt(texts)
    return vectorizer


def build_model(vocabulary_size, embedding_dim, pooling=layers.GlobalAveragePooling1D, activation="sigmoid",
                loss="binary_crossentropy"):
    inputs = keras.Input((None,) if pooling is layers.GlobalAveragePooling1D else (20,), dtype="int64")
    x = pooling()(layers.Embedding(vocabulary_size, embedding_dim)(inputs))
    model = keras.Model(inputs, layers.Dense(1, activation=activation)(x))
    model.compile("adam", loss, metrics=["accuracy"])
    return model


def cosine_similarity(u, v):
    return float(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v))


def nearest_neighbours(word, embeddings, words, k=8, include_word=False, by_dot_product=False):
    vectors = embeddings if by_dot_product else embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarities = vectors @ vectors[words.index(word)]
    if not include_word:
        similarities[words.index(word)] = -np.inf
    return [words[i] for i in np.argsort(-similarities)[:k]]


# --- text to sequences -------------------------------------------------------------------------

def test_a_correct_standardize_passes(hidden_test):
    checks.check_standardize(standardize)
    for seed in SEEDS:
        hidden_test(checks.hand_in_standardize, standardize, seed=seed)


def test_kept_line_breaks_are_named(both_fail):
    def keeps_breaks(texts):
        return standardize(texts, line_breaks=False)
    with pytest.raises(AssertionError, match=r"^standardize\('Awful.<br /><br />Just awful...'\) gave 'awfulbr br just awful'"):
        checks.check_standardize(keeps_breaks)
    both_fail(lambda: checks.check_standardize(keeps_breaks), checks.hand_in_standardize, keeps_breaks,
              match=r"^standardize\(.*\) gave .*; expected .*: lowercase, replace '<br />' by a space")


def test_a_standardize_that_answers_the_public_cases_from_a_table_fails_on_hidden_texts(hidden_test):
    table = checks._PUBLIC_STANDARDIZED

    def looked_up(texts):
        return tf.constant([table.get(text.decode(), "") for text in texts.numpy()])
    checks.check_standardize(looked_up)
    with pytest.raises(AssertionError, match=r"^standardize\("):
        hidden_test(checks.hand_in_standardize, looked_up)


TRAIN_TEXTS = ["a good film", "a bad film", "good good"]


def test_a_correct_vectorizer_passes_and_was_adapted_on_the_training_texts(hidden_test):
    checks.check_vectorizer(build_vectorizer, standardize, build_vectorizer(TRAIN_TEXTS, 6, 4), TRAIN_TEXTS)
    for seed in SEEDS:
        hidden_test(checks.hand_in_vectorizer, build_vectorizer, standardize, build_vectorizer(TRAIN_TEXTS, 6, 4),
                    TRAIN_TEXTS, seed=seed)


def test_a_vectorizer_is_judged_by_the_students_own_standardize_so_a_wrong_one_costs_only_its_own_test(hidden_test):
    def keeps_breaks(texts):
        return standardize(texts, line_breaks=False)

    def build_with_it(texts, vocabulary_size, sequence_length):
        return build_vectorizer(texts, vocabulary_size, sequence_length, standardize=keeps_breaks)
    checks.check_vectorizer(build_with_it, keeps_breaks, build_with_it(TRAIN_TEXTS, 6, 4), TRAIN_TEXTS)
    hidden_test(checks.hand_in_vectorizer, build_with_it, keeps_breaks, build_with_it(TRAIN_TEXTS, 6, 4), TRAIN_TEXTS)


def test_the_vocabulary_is_ordered_as_keras_orders_it():
    texts = ["b a c b a c d e e f", "z y"]
    vectorizer = layers.TextVectorization(max_tokens=8, standardize=None)
    vectorizer.adapt(texts)
    assert checks.adapted_vocabulary(texts, 8) == [str(word) for word in vectorizer.get_vocabulary()]


@pytest.mark.parametrize("mistake, message", [
    ({"max_tokens": None}, r"^adapted on \d+ texts with vocabulary_size=\d+ the vocabulary is \['', '\[UNK\]'"),
    ({"output_sequence_length": None}, r"^\d+ texts became sequences of shape \(\d+, \d+\); expected \(\d+, \d+\)"),
    ({"standardize": "lower_and_strip_punctuation"}, r"the vocabulary holds \[.*\], which your standardize never writes: "
                                                     r"pass standardize=standardize \(your function\)"),
])
def test_vectorizer_mistakes_are_named(mistake, message, both_fail):
    def mistaken(*args, **kwargs):
        return build_vectorizer(*args, **kwargs, **mistake)
    both_fail(lambda: checks.check_vectorizer(mistaken, standardize, mistaken(TRAIN_TEXTS, 6, 4), TRAIN_TEXTS),
              checks.hand_in_vectorizer, mistaken, standardize, mistaken(TRAIN_TEXTS, 6, 4), TRAIN_TEXTS, match=message)


def test_a_vocabulary_that_saw_the_test_reviews_is_called_leakage(both_fail):
    leaky = build_vectorizer(TRAIN_TEXTS + ["awful awful awful plot"], 5, 4)
    both_fail(lambda: checks.check_vectorizer(build_vectorizer, standardize, leaky, TRAIN_TEXTS), checks.hand_in_vectorizer,
              build_vectorizer, standardize, leaky, TRAIN_TEXTS,
              match=r"^the vectorizer's vocabulary differs from one adapted on the training reviews alone \(2 words differ")


# --- the model ---------------------------------------------------------------------------------

def test_a_correct_model_passes(hidden_test):
    checks.check_model(build_model, build_model(100, 4), 100, 4)
    for seed in SEEDS:
        hidden_test(checks.hand_in_model, build_model, build_model(100, 4), 100, 4, seed=seed)


@pytest.mark.parametrize("mistake, message", [
    ({"pooling": layers.Flatten}, "^the model does not average its word vectors: an embedding bag uses GlobalAveragePooling1D"),
    ({"activation": None}, r"^the model outputs values from -?\d.* expected probabilities"),
])
def test_model_mistakes_are_named(mistake, message, both_fail):
    def mistaken(*sizes):
        return build_model(*sizes, **mistake)
    both_fail(lambda: checks.check_model(mistaken, build_model(100, 4, **mistake), 100, 4), checks.hand_in_model,
              mistaken, build_model(100, 4, **mistake), 100, 4, match=message)


def test_a_model_with_the_wrong_vocabulary_size_is_named():
    with pytest.raises(AssertionError, match=r"^the Embedding layer maps 50 tokens to 4 dimensions; expected 100 tokens"):
        checks.check_model(build_model, build_model(50, 4), 100, 4)


def test_a_model_that_masks_the_padding_is_rebuilt_and_passes(hidden_test):
    def masking(vocabulary_size, embedding_dim):
        inputs = keras.Input((None,), dtype="int64")
        x = layers.GlobalAveragePooling1D()(layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True)(inputs))
        model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        return model
    hidden_test(checks.hand_in_model, masking, masking(100, 4), 100, 4)


def test_a_model_larger_than_the_grader_rebuilds_is_refused_before_it_is_built(hidden_test):
    with pytest.raises(exports.ExportError, match=r"declares output_dim 300, past the 256 the grader rebuilds"):
        hidden_test(checks.hand_in_model, build_model, build_model(100, 300), 100, 300)


def test_a_model_compiled_with_another_optimizer_is_named(both_fail):
    def on_sgd(*sizes):
        model = build_model(*sizes)
        model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
        return model
    both_fail(lambda: checks.check_model(on_sgd, build_model(100, 4), 100, 4), checks.hand_in_model, on_sgd,
              build_model(100, 4), 100, 4, match=r"^build_model compiled the model with SGD: compile it with keras.optimizers.Adam")


def test_a_mean_squared_error_loss_is_named(both_fail):
    def on_mse(*sizes):
        return build_model(*sizes, loss="mse")
    both_fail(lambda: checks.check_model(on_mse, build_model(100, 4), 100, 4), checks.hand_in_model, on_mse,
              build_model(100, 4), 100, 4, match=r"^the compiled loss \(hint: binary cross-entropy on probabilities\) is")


# --- the embedding space -----------------------------------------------------------------------

def test_a_correct_cosine_similarity_passes_and_a_dot_product_is_named(hidden_test, both_fail):
    checks.check_cosine_similarity(cosine_similarity)
    for seed in SEEDS:
        hidden_test(checks.hand_in_cosine_similarity, cosine_similarity, seed=seed)
    with pytest.raises(AssertionError, match=r"^cosine_similarity of a vector and a scaled copy of it is .*; expected 1: divide"):
        checks.check_cosine_similarity(np.dot)
    both_fail(lambda: checks.check_cosine_similarity(np.dot), checks.hand_in_cosine_similarity, np.dot,
              match=r"^cosine_similarity of .* is .*; expected .*: divide the dot product by both vectors' lengths")


@pytest.mark.parametrize("mistake, message", [
    ({"include_word": True}, r"^the neighbours of '\w+' include '\w+' itself"),
    ({"by_dot_product": True}, r"^the \d nearest neighbours of '\w+' are \[.*\]; expected \[.*\]: rank by cosine"),
])
def test_nearest_neighbours_mistakes_are_named(mistake, message, both_fail):
    def mistaken(*args):
        return nearest_neighbours(*args, **mistake)
    both_fail(lambda: checks.check_nearest_neighbours(mistaken), checks.hand_in_nearest_neighbours, mistaken, match=message)


def test_correct_nearest_neighbours_pass(hidden_test):
    checks.check_nearest_neighbours(nearest_neighbours)
    for seed in SEEDS:
        hidden_test(checks.hand_in_nearest_neighbours, nearest_neighbours, seed=seed)
    with pytest.raises(AssertionError, match=r"^the 3 nearest neighbours of 'north' are \['northeast', 'up', 'north-northeast'\]"):
        checks.check_nearest_neighbours(lambda *args: nearest_neighbours(*args, by_dot_product=True))


def test_sentiment_separation_is_high_for_a_sentiment_axis_and_near_zero_for_random_vectors():
    words = ["", "[UNK]", *checks.POSITIVE_WORDS, *checks.NEGATIVE_WORDS]
    rng = np.random.default_rng(0)
    axis_like = np.concatenate([np.zeros((2, 8)), rng.normal(1, 0.1, (10, 8)), rng.normal(-1, 0.1, (10, 8))])
    assert checks.sentiment_separation(axis_like, words) > 1.9
    assert abs(checks.sentiment_separation(rng.normal(size=(22, 8)), words)) < 0.3


def test_an_untrained_embedding_fails_the_sentiment_check_with_its_measurement(both_fail):
    vectorizer = build_vectorizer(list(checks.POSITIVE_WORDS + checks.NEGATIVE_WORDS), 30, 4)
    untrained = build_model(30, 16)
    both_fail(lambda: checks.check_embeddings_carry_sentiment(untrained, vectorizer),
              checks.hand_in_embeddings_carry_sentiment, untrained, vectorizer,
              match=r"^positive words are on average only -?0\.\d\d more cosine-similar")
    assert abs(MEASUREMENTS["sentiment_separation"]) < 0.5
