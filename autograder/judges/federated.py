"""Judges of assignment 6 (federated spam detection with secure aggregation): the hidden inputs,
the reference weighted average and the labels of the held-out emails."""

import string

import numpy as np

from coursekit.checks import federated as checks
from coursekit.checks.common import accuracy_of

from .. import data
from .registry import ACCURACY_STEP, held_out_order, judge, record

ASSIGNMENT = checks.ASSIGNMENT


def weighted_average(client_weights, counts) -> list[np.ndarray]:
    total = sum(counts)
    return [sum(count * np.asarray(weights[i], np.float64) for weights, count in zip(client_weights, counts)) / total
            for i in range(len(client_weights[0]))]


def clients(rng, most: int, largest: int) -> dict:
    """2 to ``most`` clients of a model with a (rows, columns) kernel and a bias, at most ``largest``
    numbers each, with distinct sample counts (so that weighting matters)."""
    rows, columns = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    while rows * columns + columns > largest:
        rows -= 1
    count = int(rng.integers(2, most + 1))
    weights = [[rng.normal(size=(rows, columns)).astype(np.float32), rng.normal(size=columns).astype(np.float32)]
               for _ in range(count)]
    return checks.clients_inputs(weights, rng.choice(np.arange(1, 60), count, replace=False))


def _judge_average(judgement, inputs, evidence) -> None:
    client_weights, counts = checks.clients_of(inputs)
    judgement(client_weights, counts, evidence, weighted_average(client_weights, counts))


@judge("test_federated_average", checks.hand_in_federated_average, draw=lambda rng: clients(rng, 5, 20))
def judge_federated_average(inputs, evidence) -> None:
    client_weights, counts = checks.clients_of(inputs)
    checks.judge_federated_average(client_weights, counts, evidence, weighted_average(client_weights, counts),
                                   weighted_average(client_weights, [1] * len(counts)))


def _made_up_words(rng, count: int) -> list[str]:
    letters = np.array(list(string.ascii_lowercase))
    return sorted({"".join(rng.choice(letters, int(rng.integers(3, 9)))) for _ in range(count)})


def words_inputs(rng) -> dict:
    """An email of made-up words (some capitalised), changes from 1e-7 to 0.5, and candidates: half of
    the email's words, in other cases, and words it does not contain."""
    words = _made_up_words(rng, 14)
    email_words, decoys = words[:8], words[8:]
    email = "Subject: " + " ".join(word.title() if rng.random() < 0.3 else word for word in rng.permutation(email_words))
    candidates = [word.upper() if rng.random() < 0.3 else word for word in rng.permutation(email_words)[:4]] + decoys
    return {"email": email, "magnitudes": np.geomspace(10 ** rng.uniform(-8, -6), 0.5, 12),
            "candidates": rng.permutation(candidates)}


@judge("test_words_in_update", checks.hand_in_words_in_update, draw=words_inputs)
def judge_words_in_update(inputs, evidence) -> None:
    checks.judge_words_in_update(str(inputs["email"]), [str(word) for word in inputs["candidates"]], evidence)


@judge("test_encrypted_aggregation", checks.hand_in_encrypted_aggregation, draw=lambda rng: clients(rng, 4, 8))
def judge_encrypted_aggregation(inputs, evidence) -> None:
    _judge_average(checks.judge_encrypted_aggregation, inputs, evidence)


@judge("test_server_decrypts_only_the_aggregate", checks.hand_in_server_decrypts_only_the_aggregate,
       draw=lambda rng: clients(rng, 4, 8))
def judge_server_decrypts_only_the_aggregate(inputs, evidence) -> None:
    _judge_average(checks.judge_server_decrypts_only_the_aggregate, inputs, evidence)


# --- the trained models on the held-out emails -----------------------------------------------------

HELD_OUT = "the held-out emails"


def held_out_accuracy(probabilities, order) -> float:
    """Accuracy of spam probabilities of the held-out emails in ``order``, at a threshold of 0.5 (needs their labels)."""
    return accuracy_of(np.asarray(probabilities) > 0.5, data.load_enron_spam("test")["label"].to_numpy()[order])


held_out_email_order = held_out_order(lambda: len(data.load_enron_spam("test")))


@judge("test_federated_accuracy", checks.hand_in_federated_accuracy, draw=held_out_email_order)
def judge_federated_accuracy(inputs, evidence) -> str:
    accuracy = held_out_accuracy(evidence["federated"], inputs["order"])
    return checks.judge_federated_accuracy(record("federated_accuracy", accuracy, ACCURACY_STEP), HELD_OUT)


@judge("test_close_to_centralised", checks.hand_in_close_to_centralised, draw=held_out_email_order)
def judge_close_to_centralised(inputs, evidence) -> str:
    federated = record("federated_accuracy", held_out_accuracy(evidence["federated"], inputs["order"]), ACCURACY_STEP)
    centralised = record("centralised_accuracy", held_out_accuracy(evidence["centralised"], inputs["order"]), ACCURACY_STEP)
    record("centralised_minus_federated", centralised - federated)
    return checks.judge_close_to_centralised(federated, centralised, HELD_OUT)
