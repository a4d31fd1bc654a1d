"""Judges of assignment 4 (IMDB embeddings): the hidden inputs, the reference text
standardization, vectorization and similarities, and the labels of the test reviews."""

import re
import string

import numpy as np

from coursekit.checks import embeddings as checks
from coursekit.checks.common import accuracy_of
from coursekit.evidence import listed

from .. import data
from ..models import compiled_with, loss_evidence, optimizer_name, rebuilt
from .registry import ACCURACY_STEP, held_out_order, judge, record

ASSIGNMENT = checks.ASSIGNMENT
_LETTERS = np.array(list(string.ascii_lowercase))


def reference_standardize(text: str) -> str:
    return re.sub(f"[{re.escape(string.punctuation)}]", "", text.lower().replace("<br />", " "))


def _words(rng, count: int) -> list[str]:
    """``count`` distinct made-up lower-case words (none of them "br")."""
    words = set()
    while len(words) < count:
        word = "".join(rng.choice(_LETTERS, int(rng.integers(3, 8))))
        words.add(word if word != "br" else "brr")
    return sorted(words)


def _decorated(rng, word: str) -> str:
    """The word as a review might write it: capitals, punctuation, a line break or a contraction."""
    shape = rng.integers(6)
    if shape == 0:
        word = word.upper()
    elif shape == 1:
        word = word.title()
    elif shape == 2:
        word = word + str(rng.choice(list("!?.,;:")))
    elif shape == 3:
        word = word + "<br /><br />"
    elif shape == 4:
        word = word[:1] + "'" + word[1:]
    return word


def _review(rng, words) -> str:
    return " ".join(_decorated(rng, word) for word in words).replace("<br /><br /> ", "<br /><br />")


def standardize_inputs(rng) -> dict:
    pool = _words(rng, 12) + ["10/10", "it's", "<b>BAD</b>", "(sic)"]
    texts = [_review(rng, rng.choice(pool, int(rng.integers(3, 9)))) for _ in range(int(rng.integers(4, 8)))]
    return {"texts": np.array(texts + ["no change here"])}


@judge("test_standardize", checks.hand_in_standardize, draw=standardize_inputs)
def judge_standardize(inputs, evidence) -> None:
    texts = [str(text) for text in inputs["texts"]]
    checks.judge_standardize(texts, evidence, [reference_standardize(text) for text in texts])


def vectorizer_inputs(rng) -> dict:
    """Made-up words of distinct frequencies in decorated texts, with line breaks after every few
    words (more of them than of any word, so that a vocabulary which keeps them shows it), a
    vocabulary that keeps only the most frequent words, and probes with known and unknown words."""
    words = _words(rng, int(rng.integers(7, 11)))
    counts = rng.permutation(np.arange(1, len(words) + 1))
    tokens = rng.permutation([word for word, count in zip(words, counts) for _ in range(count)])
    cuts = np.sort(rng.choice(np.arange(1, len(tokens)), 4, replace=False))
    corpus = [" <br /><br /> ".join(_review(rng, part[start:start + 2]) for start in range(0, len(part), 2))
              for part in np.split(tokens, cuts) if len(part)]
    probes = [" ".join(rng.choice(words + ["zzyzx", "qwerty"], int(rng.integers(2, 9)))) for _ in range(3)]
    return {"corpus": np.array(corpus), "vocabulary_size": rng.integers(5, len(words)),
            "sequence_length": rng.integers(3, 8), "probes": np.array(probes)}


@judge("test_vectorizer", checks.hand_in_vectorizer, draw=vectorizer_inputs)
def judge_vectorizer(inputs, evidence) -> None:
    corpus, vocabulary_size, sequence_length, _ = checks.vectorizer_case(inputs)
    checks.judge_vectorizer(corpus, vocabulary_size, sequence_length, evidence)


def model_inputs(rng) -> dict:
    words = int(rng.integers(50, 200))
    return {"words": words, "dimensions": rng.integers(2, 9), "sequences": rng.integers(0, words, size=(32, int(rng.integers(10, 26)))),
            "labels": rng.integers(0, 2, 32)}


MODEL_LAYERS = {"Embedding", "GlobalAveragePooling1D", "Dropout", "Dense", "Activation", "Flatten", "GlobalMaxPooling1D"}
"""What the grader rebuilds of the embedding bags (Flatten and max pooling so that the judge can
name them)."""
MODEL_SIZES = {"input_dim": 50_000, "output_dim": 256}
"""Vocabulary and embedding sizes the grader rebuilds (50,000 x 256 weights take 51 MB)."""


def exported_model(evidence, name: str):
    """The model the notebook exported as ``name``, rebuilt here, and its compile config."""
    return rebuilt(evidence, name, MODEL_LAYERS, MODEL_SIZES), compiled_with(evidence, name)


@judge("test_model", checks.hand_in_model, draw=model_inputs)
def judge_model(inputs, evidence) -> None:
    (small, compiled), (trained, _) = exported_model(evidence, "small"), exported_model(evidence, "trained")
    checks.judge_model(inputs, checks.model_evidence(
        small, trained, int(evidence["vocabulary_size"]), int(evidence["embedding_dim"]), inputs,
        lambda model, sequences, labels: loss_evidence(compiled, "small", labels, model(sequences)), optimizer_name(compiled)))


def reference_cosine(u, v) -> float:
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


def cosine_inputs(rng) -> dict:
    """Random pairs, a scaled copy and an opposite pair, of random lengths and dimensions."""
    pairs = []
    for _ in range(4):
        dim = int(rng.integers(2, 11))
        pairs.append((rng.normal(size=dim) * rng.uniform(0.1, 10), rng.normal(size=dim) * rng.uniform(0.1, 10)))
    u = rng.normal(size=int(rng.integers(2, 11)))
    pairs += [(u, u * rng.uniform(0.1, 10)), (u, -u * rng.uniform(0.1, 10))]
    order = rng.permutation(len(pairs))
    return {**listed("u", (pairs[i][0] for i in order)), **listed("v", (pairs[i][1] for i in order))}


@judge("test_cosine_similarity", checks.hand_in_cosine_similarity, draw=cosine_inputs)
def judge_cosine_similarity(inputs, evidence) -> None:
    pairs = checks.cosine_pairs(inputs)
    checks.judge_cosine_similarity(pairs, evidence, [reference_cosine(u, v) for u, v in pairs])


def reference_neighbours(word, embeddings, words, k) -> list[str]:
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarities = unit @ unit[words.index(word)]
    similarities[words.index(word)] = -np.inf
    return [words[i] for i in np.argsort(-similarities)[:k]]


def _ranked_by(scores, word, words, k) -> list[str]:
    scores = scores.astype(np.float64)
    scores[words.index(word)] = -np.inf
    return [words[i] for i in np.argsort(-scores)[:k]]


def neighbours_inputs(rng) -> dict:
    """Words whose vectors have lengths from 0.2 to 5, drawn until ranking by dot product, or by
    (negative) distance, gives another answer than ranking by cosine similarity for each query."""
    words = _words(rng, 12)
    while True:
        embeddings = rng.normal(size=(len(words), int(rng.integers(2, 5)))) * rng.uniform(0.2, 5.0, size=(len(words), 1))
        queries = [(str(rng.choice(words)), int(rng.integers(2, 5))) for _ in range(2)]
        differs = all(
            reference_neighbours(word, embeddings, words, k) != _ranked_by(embeddings @ embeddings[words.index(word)], word, words, k)
            and reference_neighbours(word, embeddings, words, k)
            != _ranked_by(-np.linalg.norm(embeddings - embeddings[words.index(word)], axis=1), word, words, k)
            for word, k in queries)
        if differs:
            return {"embeddings": embeddings, "words": np.array(words), "query_words": np.array([w for w, _ in queries]),
                    "query_k": [k for _, k in queries]}


@judge("test_nearest_neighbours", checks.hand_in_nearest_neighbours, draw=neighbours_inputs)
def judge_nearest_neighbours(inputs, evidence) -> None:
    words, queries = [str(word) for word in inputs["words"]], checks.neighbour_queries(inputs)
    checks.judge_nearest_neighbours(queries, evidence, [reference_neighbours(word, inputs["embeddings"], words, k)
                                                        for word, k in queries])


@judge("test_embeddings_carry_sentiment", checks.hand_in_embeddings_carry_sentiment)
def judge_embeddings_carry_sentiment(inputs, evidence) -> str:
    separation = record("sentiment_separation", checks.sentiment_separation(evidence["embeddings"], evidence["vocabulary"]))
    return checks.judge_embeddings_carry_sentiment(separation)


@judge("test_test_accuracy", checks.hand_in_test_accuracy, draw=held_out_order(lambda: len(data.load_imdb_reviews("test")[1])))
def judge_test_accuracy(inputs, evidence) -> str:
    accuracy = accuracy_of(evidence["probabilities"] > 0.5, np.asarray(data.load_imdb_reviews("test")[1])[inputs["order"]])
    return checks.judge_test_accuracy(record("test_accuracy", accuracy, ACCURACY_STEP), "the 25,000 test reviews")
