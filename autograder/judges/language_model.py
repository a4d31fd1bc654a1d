"""Judges of assignment 5 (a character-level language model of Tiny Shakespeare): the hidden
inputs, the reference windows, perplexity and softmax, and the held-out text, on which the grader
scores the model it rebuilds from the notebook's weights."""

import math
import re

import keras
import numpy as np
from keras import layers

from coursekit.checks import language_model as checks
from coursekit.checks.common import sparse_cross_entropy

from .. import data
from ..models import compiled_with, learning_rate, loss_evidence, optimizer_name, rebuilt
from .registry import judge, record

ASSIGNMENT = checks.ASSIGNMENT


def char_lookup_inputs(rng) -> dict:
    """A text over a random set of letters, digits, punctuation and white space, and a character outside it."""
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n,.;:!?'-&"))
    chosen = rng.choice(alphabet, int(rng.integers(8, 30)), replace=False)
    text = "".join(rng.choice(chosen, int(rng.integers(40, 120))))
    return {"text": text, "unknown": str(rng.choice(np.setdiff1d(alphabet, list(text))))}


@judge("test_char_lookups", checks.hand_in_char_lookups, draw=char_lookup_inputs)
def judge_char_lookups(inputs, evidence) -> None:
    text = str(inputs["text"])
    checks.judge_char_lookups(text, evidence, ["[UNK]"] + sorted(set(text)))


def chunks(ids: np.ndarray, sequence_length: int) -> np.ndarray:
    """Consecutive, non-overlapping chunks of sequence_length + 1 ids (inputs and the next id)."""
    return ids[: len(ids) // (sequence_length + 1) * (sequence_length + 1)].reshape(-1, sequence_length + 1)


def expected_windows(ids: np.ndarray, sequence_length: int, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    windows = chunks(ids, sequence_length)
    return [(windows[i * batch_size:(i + 1) * batch_size, :-1], windows[i * batch_size:(i + 1) * batch_size, 1:])
            for i in range(len(windows) // batch_size)]


def dataset_inputs(rng) -> dict:
    """Random ids whose length leaves both an incomplete chunk and an incomplete batch."""
    sequence_length, batch_size = int(rng.integers(5, 16)), int(rng.integers(3, 9))
    chunk_count = batch_size * int(rng.integers(12, 40)) + int(rng.integers(1, batch_size))
    length = chunk_count * (sequence_length + 1) + int(rng.integers(1, sequence_length + 1))
    return {"ids": rng.integers(0, 66, length), "sequence_length": sequence_length, "batch_size": batch_size}


@judge("test_make_dataset", checks.hand_in_make_dataset, draw=dataset_inputs)
def judge_make_dataset(inputs, evidence) -> None:
    ids, sequence_length, batch_size = inputs["ids"], int(inputs["sequence_length"]), int(inputs["batch_size"])
    checks.judge_make_dataset(checks.dataset_cases(inputs), evidence,
                              {"ordered": expected_windows(ids, sequence_length, batch_size)}, chunks(ids, sequence_length))


def model_inputs(rng) -> dict:
    vocabulary_size = int(rng.integers(20, 70))
    shape = (int(rng.integers(4, 17)), int(rng.integers(5, 20)))
    return {"vocabulary_size": vocabulary_size, "embedding_dim": rng.integers(4, 17), "rnn_units": rng.integers(8, 33),
            "learning_rate": 10 ** rng.uniform(-4, -2), "ids": rng.integers(0, vocabulary_size, shape),
            "targets": rng.integers(0, vocabulary_size, shape)}


RNN_MODEL_LAYERS = {"Embedding", "LSTM", "GRU", "SimpleRNN", "Dense", "Activation", "Softmax"}
"""What the grader rebuilds of build_model's models (a softmax included, so that the judge can name it)."""


@judge("test_model", checks.hand_in_model, draw=model_inputs)
def judge_model(inputs, evidence) -> None:
    compiled = compiled_with(evidence, "model")
    model, simple = (rebuilt(evidence, name, RNN_MODEL_LAYERS) for name in ("model", "simple"))
    checks.judge_model(inputs, checks.model_structure(
        model, simple, inputs, lambda model, ids, targets: loss_evidence(compiled, "model", targets, model(ids)),
        (optimizer_name(compiled), learning_rate(compiled))))


@judge("test_perplexity", checks.hand_in_perplexity, draw=lambda rng: {"losses": rng.uniform(0, 5, 5)})
def judge_perplexity(inputs, evidence) -> None:
    losses = inputs["losses"].tolist()
    checks.judge_perplexity(losses, evidence, [(math.exp(loss), loss / math.log(2)) for loss in losses])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def sample_inputs(rng) -> dict:
    """Six logits (none far below the rest, so every frequency is measurable), one temperature below 1 and one above."""
    return {"logits": rng.uniform(-1.5, 2.5, 6), "temperatures": [rng.uniform(0.6, 0.95), rng.uniform(1.5, 3.0)],
            "seed": rng.integers(0, 2**31)}


@judge("test_sample", checks.hand_in_sample, draw=sample_inputs)
def judge_sample(inputs, evidence) -> None:
    logits, temperatures = inputs["logits"], inputs["temperatures"].tolist()
    for i in range(len(temperatures)):
        assert evidence[f"draws_{i}"].shape == (checks.SAMPLE_DRAWS,), (
            f"sample() was called {len(evidence[f'draws_{i}'])} times at a temperature; the hidden test draws {checks.SAMPLE_DRAWS:,}")
    checks.judge_sample(logits, temperatures, evidence, [softmax(logits / temperature) for temperature in temperatures])


def generation_inputs(rng) -> dict:
    """A speaker's name as the play writes it (so the model knows every character) and a length."""
    speakers = sorted(set(re.findall(r"^([A-Z][A-Z ]+:\n)", data.load_shakespeare("train"), flags=re.M)))
    return {"prompt": str(rng.choice(speakers)), "length": rng.integers(30, 80), "seed": rng.integers(0, 2**31)}


@judge("test_generate_text", checks.hand_in_generate_text, draw=generation_inputs)
def judge_generate_text(inputs, evidence) -> None:
    checks.judge_generate_text(str(inputs["prompt"]), int(inputs["length"]), evidence, evidence["vocabulary"],
                               checks.logits_of(verified_model(evidence)))


# --- the trained model on held-out text ----------------------------------------------------------

_RECURRENT_LAYERS = {"LSTM": (layers.LSTM, 4), "GRU": (layers.GRU, 3), "SimpleRNN": (layers.SimpleRNN, 1)}
"""The recurrent layers the grader rebuilds, with the number of gates their weights stack."""


def held_out_loss(model, ids: np.ndarray) -> float:
    """Mean cross-entropy (nats per character) on consecutive windows of the ids of a text."""
    windows = chunks(ids, checks.HELD_OUT_SEQUENCE_LENGTH)
    return sparse_cross_entropy(model.predict(windows[:, :-1], batch_size=64, verbose=0), windows[:, 1:])


def rebuilt_model(evidence):
    """Exercise 3's model (embedding -> LSTM, GRU or SimpleRNN -> logits, Keras' default settings)
    with the exported weights; AssertionError if the weights do not fit it. The shapes are checked
    before anything is built, so no export makes the grader allocate more than it exported."""
    recurrent = str(evidence["recurrent_layer"])
    assert recurrent in _RECURRENT_LAYERS, (
        f"the layer named 'rnn' is a {recurrent}; the grader rebuilds an LSTM, a GRU or a SimpleRNN")
    layer_class, gates = _RECURRENT_LAYERS[recurrent]
    vocabulary_size, embedding_dim = np.shape(evidence["embedding_0"]) if np.ndim(evidence["embedding_0"]) == 2 else (0, 0)
    units = np.shape(evidence["logits_0"])[0] if np.ndim(evidence["logits_0"]) == 2 else 0
    reset_after = recurrent == "GRU" and np.ndim(evidence.get("rnn_2")) == 2
    expected = {"embedding_0": (vocabulary_size, embedding_dim), "rnn_0": (embedding_dim, gates * units),
                "rnn_1": (units, gates * units), "rnn_2": (2, gates * units) if reset_after else (gates * units,),
                "logits_0": (units, vocabulary_size), "logits_1": (vocabulary_size,)}
    shapes = {name: np.shape(array) for name, array in evidence.items() if name.startswith(checks.MODEL_LAYERS)}
    assert shapes == expected and units > 0, (
        f"the grader measures the held-out loss on the model of exercise 3 rebuilt from its weights (an "
        f"Embedding, one {recurrent} and a Dense layer with Keras' default settings); this model's weights "
        f"have the shapes {shapes}, not {expected}")
    ids = keras.Input((None,), dtype="int32")
    x = layers.Embedding(vocabulary_size, embedding_dim)(ids)
    x = layer_class(units, return_sequences=True, **({"reset_after": reset_after} if recurrent == "GRU" else {}))(x)
    model = keras.Model(ids, layers.Dense(vocabulary_size)(x))
    model.set_weights([evidence[name] for name in expected])
    return model


def verified_model(evidence):
    """`rebuilt_model`, checked to compute the logits the notebook's model gave on the probe inputs."""
    model = rebuilt_model(evidence)
    probe = keras.ops.convert_to_numpy(model(checks.probe_ids(len(evidence["vocabulary"])), training=False))
    assert np.shape(evidence["probe_logits"]) == probe.shape and np.allclose(evidence["probe_logits"], probe, rtol=1e-3, atol=1e-3), (
        "the model rebuilt from the notebook's weights does not compute the notebook model's logits: the grader "
        "measures the model of exercise 3 (an Embedding, one recurrent layer and a Dense layer, with Keras' "
        "default settings and nothing else that changes the outputs)")
    return model


LOSS_STEP = 0.01
"""The held-out loss is shown to the nearest 0.01 nats per character (`Rounded`)."""


@judge("test_held_out_loss", checks.hand_in_held_out_loss)
def judge_held_out_loss(inputs, evidence) -> str:
    held_out_text = data.load_shakespeare("test")
    vocabulary = [str(token) for token in evidence["vocabulary"]]
    unknown = sorted(set(held_out_text) - set(vocabulary))
    assert not unknown, f"char_to_id lacks the characters {unknown}: build it from the training text"
    model = verified_model(evidence)
    index = {token: i for i, token in enumerate(vocabulary)}
    loss = record("held_out_loss", held_out_loss(model, np.array([index[c] for c in held_out_text])), LOSS_STEP)
    baseline = record("unigram_baseline_loss", checks.unigram_baseline_loss(data.load_shakespeare("train"), held_out_text))
    return checks.judge_held_out_loss(loss, baseline, "the held-out last 10% of Tiny Shakespeare")
