"""Assignment 4's checks: each accepts a correct object and names the likely mistake otherwise."""

import os
import re
import string

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from autograder.checks import MEASUREMENTS
from autograder.checks import embeddings as checks


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

def test_a_correct_standardize_passes():
    checks.check_standardize(standardize)


def test_kept_line_breaks_are_named():
    with pytest.raises(AssertionError, match=r"^standardize\('Awful.<br /><br />Just awful...'\) gave 'awfulbr br just awful'"):
        checks.check_standardize(lambda texts: standardize(texts, line_breaks=False))


TRAIN_TEXTS = ["a good film", "a bad film", "good good"]


def test_a_correct_vectorizer_passes_and_was_adapted_on_the_training_texts():
    checks.check_vectorizer(build_vectorizer, build_vectorizer(TRAIN_TEXTS, 6, 4), TRAIN_TEXTS)


@pytest.mark.parametrize("mistake, message", [
    ({"max_tokens": None}, r"^adapted on .* with vocabulary_size=5 the vocabulary is \['', '\[UNK\]', 'one', 'two', 'three', 'four', 'five'\]"),
    ({"output_sequence_length": None}, r"^two texts became sequences of shape \(2, 6\); expected \(2, 4\)"),
])
def test_vectorizer_mistakes_are_named(mistake, message):
    def mistaken(*args, **kwargs):
        return build_vectorizer(*args, **kwargs, **mistake)
    with pytest.raises(AssertionError, match=message):
        checks.check_vectorizer(mistaken, mistaken(TRAIN_TEXTS, 6, 4), TRAIN_TEXTS)


def test_a_vocabulary_that_saw_the_test_reviews_is_called_leakage():
    leaky = build_vectorizer(TRAIN_TEXTS + ["awful awful awful plot"], 5, 4)
    with pytest.raises(AssertionError, match=r"^the vectorizer's vocabulary differs from one adapted on the training reviews alone \(2 words differ"):
        checks.check_vectorizer(build_vectorizer, leaky, TRAIN_TEXTS)


# --- the model ---------------------------------------------------------------------------------

def test_a_correct_model_passes():
    checks.check_model(build_model, build_model(100, 4), 100, 4)


@pytest.mark.parametrize("mistake, message", [
    ({"pooling": layers.Flatten}, "^the model does not average its word vectors: an embedding bag uses GlobalAveragePooling1D"),
    ({"activation": None}, r"^the model outputs values from -?\d.* expected probabilities"),
])
def test_model_mistakes_are_named(mistake, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_model(lambda *sizes: build_model(*sizes, **mistake), build_model(100, 4, **mistake), 100, 4)


def test_a_model_with_the_wrong_vocabulary_size_is_named():
    with pytest.raises(AssertionError, match=r"^the Embedding layer maps 50 tokens to 4 dimensions; expected 100 tokens"):
        checks.check_model(build_model, build_model(50, 4), 100, 4)


def test_a_mean_squared_error_loss_is_named():
    with pytest.raises(AssertionError, match=r"^the compiled loss \(hint: binary cross-entropy on probabilities\) is"):
        checks.check_model(lambda *sizes: build_model(*sizes, loss="mse"), build_model(100, 4), 100, 4)


# --- the embedding space -----------------------------------------------------------------------

def test_a_correct_cosine_similarity_passes_and_a_dot_product_is_named():
    checks.check_cosine_similarity(cosine_similarity)
    with pytest.raises(AssertionError, match=r"^cosine_similarity of a vector and a scaled copy of it is .*; expected 1: divide"):
        checks.check_cosine_similarity(np.dot)


@pytest.mark.parametrize("mistake, message", [
    ({}, None),
    ({"include_word": True}, r"^the neighbours of 'north' include 'north' itself"),
    ({"by_dot_product": True}, r"^the 3 nearest neighbours of 'north' are \['northeast', 'up', 'north-northeast'\]"),
])
def test_nearest_neighbours(mistake, message):
    function = lambda *args: nearest_neighbours(*args, **mistake)  # noqa: E731
    if message is None:
        checks.check_nearest_neighbours(function)
    else:
        with pytest.raises(AssertionError, match=message):
            checks.check_nearest_neighbours(function)


def test_sentiment_separation_is_high_for_a_sentiment_axis_and_near_zero_for_random_vectors():
    words = ["", "[UNK]", *checks.POSITIVE_WORDS, *checks.NEGATIVE_WORDS]
    rng = np.random.default_rng(0)
    axis_like = np.concatenate([np.zeros((2, 8)), rng.normal(1, 0.1, (10, 8)), rng.normal(-1, 0.1, (10, 8))])
    assert checks.sentiment_separation(axis_like, words) > 1.9
    assert abs(checks.sentiment_separation(rng.normal(size=(22, 8)), words)) < 0.3


def test_an_untrained_embedding_fails_the_sentiment_check_with_its_measurement():
    vectorizer = build_vectorizer(list(checks.POSITIVE_WORDS + checks.NEGATIVE_WORDS), 30, 4)
    with pytest.raises(AssertionError, match=r"^positive words are on average only -?0\.\d\d more cosine-similar"):
        checks.check_embeddings_carry_sentiment(build_model(30, 16), vectorizer)
    assert abs(MEASUREMENTS["sentiment_separation"]) < 0.5
