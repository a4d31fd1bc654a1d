"""Checks for assignment 4, IMDB sentiment with a learned embedding bag.

The student's ``vectorizer`` (a TextVectorization layer) maps review texts to int sequences
(None, sequence_length); the ``model`` maps those to the probability that a review is positive
(None, 1). The test accuracy check vectorizes and classifies the 25,000 IMDB test reviews here,
and the grader judges the predictions with their labels (`judge_held_out`).
"""

import keras
import numpy as np
from keras import layers

from .. import data
from .common import accuracy_of, check_compiled, check_compiled_loss, check_output_shape, judge_held_out, record

# Measured with the reference notebook, `tools/calibrate.py 04 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-22):
#   test accuracy (25,000 test reviews):
#                  seed 0: 0.8681  seed 1: 0.8654  seed 2: 0.8661  seed 3: 0.8660  seed 4: 0.8704
#   sentiment separation (below): 1.998 on every seed (the maximum is 2)
# Accuracy: the worst run minus half a point, above the brief's floor of 0.85. (A variant with a
# 20,000-word vocabulary and a hidden Dense layer measured 0.83-0.84: it overfits in 10 epochs.)
TEST_ACCURACY_THRESHOLD = 0.86
# Mean cosine similarity of same-sentiment word pairs minus opposite-sentiment pairs. Random
# vectors give about 0; that hidden-layer variant 1.75-1.77. 1.0 asks for a clear separation.
SENTIMENT_SEPARATION_THRESHOLD = 1.0

# Clear-cut sentiment words, all among the 2,000 most frequent words of the training reviews.
POSITIVE_WORDS = ("great", "excellent", "wonderful", "best", "perfect", "amazing", "brilliant", "loved", "beautiful", "enjoyed")
NEGATIVE_WORDS = ("bad", "worst", "awful", "boring", "terrible", "waste", "poor", "horrible", "stupid", "worse")

# A small corpus for the vectorizer: word frequencies fall with their number.
_CORPUS = ["one two three four five", "one two three four", "one two three", "one two", "one"]


def check_standardize(standardize) -> None:
    cases = {
        "A <b>GREAT</b> film!": "a bgreatb film",
        "Awful.<br /><br />Just awful...": "awful  just awful",
        "It's 10/10, isn't it?": "its 1010 isnt it",
        "no change here": "no change here",
    }
    outputs = [_as_text(keras.ops.convert_to_numpy(standardize(np.array([text])))[0]) for text in cases]
    for (text, expected), output in zip(cases.items(), outputs):
        assert output == expected, (
            f"standardize({text!r}) gave {output!r}; expected {expected!r}: lowercase, replace '<br />' by a "
            "space, then remove punctuation (string.punctuation), in that order")


def _as_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def check_build_vectorizer(build_vectorizer) -> None:
    vectorizer = build_vectorizer(_CORPUS, vocabulary_size=5, sequence_length=4)
    vocabulary = [str(word) for word in vectorizer.get_vocabulary()]
    assert vocabulary == ["", "[UNK]", "one", "two", "three"], (
        f"adapted on {_CORPUS} with vocabulary_size=5 the vocabulary is {vocabulary}; expected "
        "['', '[UNK]', 'one', 'two', 'three']: pass max_tokens=vocabulary_size (it counts the padding and [UNK] "
        "tokens) and adapt on the given texts only")
    sequences = keras.ops.convert_to_numpy(vectorizer(np.array(["two one", "five four three two one zebra"])))
    assert sequences.shape == (2, 4), (
        f"two texts became sequences of shape {sequences.shape}; expected (2, 4): set "
        "output_sequence_length=sequence_length so that every review is padded or truncated to it")
    assert sequences.tolist() == [[3, 2, 0, 0], [1, 1, 4, 3]], (
        f"['two one', 'five four three two one zebra'] became {sequences.tolist()}; expected [[3, 2, 0, 0], "
        "[1, 1, 4, 3]]: zeros pad at the end, long texts are cut at the end, unknown words map to 1")


def check_adapted_on_training_texts(vectorizer, build_vectorizer, train_texts) -> None:
    vocabulary = [str(word) for word in vectorizer.get_vocabulary()]
    expected = [str(word) for word in build_vectorizer(train_texts, len(vocabulary), 8).get_vocabulary()]
    differing = sorted(set(vocabulary) ^ set(expected))
    assert vocabulary == expected, (
        f"the vectorizer's vocabulary differs from one adapted on the training reviews alone ({len(differing)} words "
        f"differ, such as {differing[:3]}): adapt it on train_texts only, never on validation or test reviews")


def _embedding_layer(model):
    embeddings = [layer for layer in model.layers if isinstance(layer, layers.Embedding)]
    assert len(embeddings) == 1, f"the model has {len(embeddings)} Embedding layers; expected 1"
    return embeddings[0]


def check_model(model, vocabulary_size: int, embedding_dim: int) -> None:
    embedding = _embedding_layer(model)
    assert (embedding.input_dim, embedding.output_dim) == (vocabulary_size, embedding_dim), (
        f"the Embedding layer maps {embedding.input_dim} tokens to {embedding.output_dim} dimensions; expected "
        f"{vocabulary_size} tokens (the vocabulary size) to {embedding_dim}")
    assert any(isinstance(layer, layers.GlobalAveragePooling1D) for layer in model.layers), (
        "the model does not average its word vectors: an embedding bag uses GlobalAveragePooling1D (not Flatten, "
        "which ties each weight to a position in the review)")
    check_output_shape(model, (None, 1), "the model", "one probability per review, Dense(1, activation='sigmoid')")
    check_compiled(model)
    sequences = np.random.default_rng(0).integers(0, vocabulary_size, size=(64, model.input_shape[1] or 20))
    probabilities = keras.ops.convert_to_numpy(model(sequences, training=False))
    assert np.all((0 <= probabilities) & (probabilities <= 1)), (
        f"the model outputs values from {probabilities.min():.3g} to {probabilities.max():.3g}; expected "
        "probabilities: end with Dense(1, activation='sigmoid')")


def check_untrained_model_loss(model) -> None:
    """The compiled loss is binary cross-entropy on the predicted probabilities (checked on an untrained
    model, whose moderate outputs make probability- and logit-based computations agree)."""
    sequences = np.random.default_rng(0).integers(0, 100, size=(64, model.input_shape[1] or 20))
    probabilities = keras.ops.convert_to_numpy(model(sequences, training=False))
    labels = (np.arange(64) % 2).astype(np.float32)
    expected = keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(labels[:, None], probabilities)).mean()
    check_compiled_loss(model, sequences, labels, expected,
                        "the compiled loss (hint: binary cross-entropy on probabilities)", rtol=1e-3)


# --- the embedding space -------------------------------------------------------------------------

def check_cosine_similarity(cosine_similarity) -> None:
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=8), rng.normal(size=8)
    cases = [
        (u, 3.5 * u, 1.0, "a vector and a scaled copy of it"),
        (u, -u, -1.0, "opposite vectors"),
        (np.array([1.0, 0, 0]), np.array([0, 2.0, 0]), 0.0, "orthogonal vectors"),
        (u, v, float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)), "two random vectors"),
        (np.array([1.0, 2, 2], np.float32), np.array([2.0, 0, 1], np.float32), 4 / 3 / np.sqrt(5), "[1, 2, 2] and [2, 0, 1]"),
    ]
    for a, b, expected, what in cases:
        similarity = float(cosine_similarity(a, b))
        assert np.isclose(similarity, expected, atol=1e-5), (
            f"cosine_similarity of {what} is {similarity:.4g}; expected {expected:.4g}: divide the dot product by "
            "both vectors' lengths (norms)")


def check_nearest_neighbours(nearest_neighbours) -> None:
    # Directions in the plane and lengths chosen so that ranking by dot product or by distance
    # gives another order than ranking by cosine similarity.
    words = ["north", "south", "east", "up", "north-northeast", "northeast", "down"]
    angles = np.radians([0, 180, 90, 20, 30, 45, 160])
    lengths = np.array([1, 2, 3, 1, 1, 5, 1])[:, None]
    embeddings = np.stack([np.cos(angles), np.sin(angles)], axis=1) * lengths
    neighbours = list(nearest_neighbours("north", embeddings, words, 3))
    assert "north" not in neighbours, f"the neighbours of 'north' include 'north' itself: {neighbours}"
    assert len(neighbours) == 3, f"asked for k=3 neighbours, got {len(neighbours)}: {neighbours}"
    expected = ["up", "north-northeast", "northeast"]
    assert neighbours == expected, (
        f"the 3 nearest neighbours of 'north' are {neighbours}; expected {expected} (cosine 0.94, 0.87, 0.71): "
        "rank by cosine similarity, most similar first, not by dot product or distance")
    assert list(nearest_neighbours("south", embeddings, words, 1)) == ["down"], (
        "the nearest neighbour of 'south' should be 'down'")


def sentiment_separation(embedding_matrix, vocabulary) -> float:
    """Mean cosine similarity of same-sentiment word pairs minus that of opposite-sentiment pairs."""
    index = {word: i for i, word in enumerate(vocabulary)}
    missing = [word for word in POSITIVE_WORDS + NEGATIVE_WORDS if word not in index]
    assert not missing, f"the vocabulary lacks common words such as {missing[:3]}: was the vectorizer adapted on the reviews?"
    vectors = np.asarray(embedding_matrix, dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    positive = vectors[[index[w] for w in POSITIVE_WORDS]]
    negative = vectors[[index[w] for w in NEGATIVE_WORDS]]

    def mean_within(group):
        similarities = group @ group.T
        return similarities[~np.eye(len(group), dtype=bool)].mean()

    return (mean_within(positive) + mean_within(negative)) / 2 - float((positive @ negative.T).mean())


def check_embeddings_carry_sentiment(model, vectorizer) -> None:
    embedding = _embedding_layer(model)
    separation = record("sentiment_separation",
                        sentiment_separation(keras.ops.convert_to_numpy(embedding.embeddings), vectorizer.get_vocabulary()))
    assert separation >= SENTIMENT_SEPARATION_THRESHOLD, (
        f"positive words are on average only {separation:.2f} more cosine-similar to each other (and negative words "
        f"to each other) than to words of the opposite sentiment; expected at least {SENTIMENT_SEPARATION_THRESHOLD}: "
        "is the Embedding layer trained, and does the model use it?")


# --- test accuracy -------------------------------------------------------------------------------

def check_test_accuracy(vectorizer, model) -> None:
    texts, _ = data.load_imdb_reviews("test")
    # dtype=object: a fixed-width unicode array of 25,000 reviews would take over a gigabyte.
    sequences = keras.ops.convert_to_numpy(vectorizer(np.array(texts, dtype=object)))
    probabilities = model.predict(sequences, batch_size=1024, verbose=0).reshape(-1)
    judge_held_out("test_test_accuracy", judge_test_accuracy, probabilities=probabilities)


def judge_test_accuracy(arrays) -> str:
    labels = data.load_imdb_reviews("test")[1]
    accuracy = record("test_accuracy", accuracy_of(arrays["probabilities"] > 0.5, labels))
    assert accuracy >= TEST_ACCURACY_THRESHOLD, (
        f"the model classifies {accuracy:.2%} of the 25,000 test reviews correctly; expected at least "
        f"{TEST_ACCURACY_THRESHOLD:.0%}")
    return f"{accuracy:.2%} of the 25,000 test reviews (needs {TEST_ACCURACY_THRESHOLD:.0%})"
