"""Judges of assignment 7 (SimCLR on Fashion-MNIST): the hidden inputs, the reference NT-Xent and
its usual mistakes, and the labels of the test images."""

import numpy as np
import tensorflow as tf

from coursekit.checks import contrastive as checks
from coursekit.checks.common import accuracy_of

from .. import data
from .registry import ACCURACY_STEP, held_out_order, judge, record

ASSIGNMENT = checks.ASSIGNMENT

MISTAKE_SWITCHES = {"unnormalised": dict(normalise=False), "multiplied": dict(divide=False),
                    "self_in_softmax": dict(mask_self=False), "first_view_anchors": dict(anchors="first view"),
                    "summed": dict(reduction="sum"), "other_view_negatives": dict(negatives="other view")}
"""The switches of `reference_nt_xent` that make each mistake of `checks.NT_XENT_MISTAKES`."""


def reference_nt_xent(z1, z2, temperature: float, normalise=True, divide=True, mask_self=True,
                      anchors="both views", negatives="all", reduction="mean"):
    """NT-Xent in float64 (the keyword arguments switch on the mistakes the judge names)."""
    z1, z2 = tf.cast(z1, tf.float64), tf.cast(z2, tf.float64)
    if normalise:
        z1, z2 = tf.math.l2_normalize(z1, axis=1), tf.math.l2_normalize(z2, axis=1)
    n = tf.shape(z1)[0]
    scale = (lambda s: s / temperature) if divide else (lambda s: s * temperature)
    if negatives == "other view":
        logits = tf.concat([scale(z1 @ tf.transpose(z2)), scale(z2 @ tf.transpose(z1))], axis=0)
        positives = tf.concat([tf.range(n), tf.range(n)], axis=0)
    else:
        z = tf.concat([z1, z2], axis=0)
        logits = scale(z @ tf.transpose(z))
        if mask_self:
            logits -= 1e9 * tf.eye(2 * n, dtype=tf.float64)
        positives = tf.concat([tf.range(n) + n, tf.range(n)], axis=0)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(positives, logits)
    if anchors == "first view":
        losses = losses[:n]
    return tf.reduce_sum(losses) if reduction == "sum" else tf.reduce_mean(losses)


def mistaken_values(z1, z2, temperature) -> dict[str, float]:
    """What each mistake of `checks.NT_XENT_MISTAKES` gives on the pair."""
    return {mistake: float(reference_nt_xent(z1, z2, temperature, **switches)) for mistake, switches in MISTAKE_SWITCHES.items()}


def augmentation_inputs(rng) -> dict:
    return {"images": np.sort(rng.choice(10_000, 64, replace=False))}


@judge("test_augmentation", checks.hand_in_augmentation, draw=augmentation_inputs)
def judge_augmentation(inputs, evidence) -> None:
    checks.judge_augmentation(checks.images_of("test", inputs["images"]), evidence)


def _projections(rng, batch_size: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Two views' projections: related pairs, rows of different lengths."""
    z1 = rng.normal(size=(batch_size, dim)) * rng.uniform(0.3, 3.0, size=(batch_size, 1))
    z2 = (z1 + 0.7 * rng.normal(size=(batch_size, dim))) * rng.uniform(0.3, 3.0, size=(batch_size, 1))
    return z1.astype(np.float32), z2.astype(np.float32)


def nt_xent_inputs(rng) -> dict:
    """A pair of 6-12 rows and its invariances, and pairs at three more temperatures."""
    batch_size, dim = int(rng.integers(6, 13)), int(rng.integers(8, 33))
    z1, z2 = _projections(rng, batch_size, dim)
    temperatures = [rng.uniform(0.05, 0.15), rng.uniform(0.3, 0.7), rng.uniform(0.9, 1.5)]
    others = [_projections(rng, batch_size, dim) for _ in temperatures]
    return {"z1": z1, "z2": z2, "temperature": rng.uniform(0.1, 0.5), "temperatures": temperatures,
            **{f"z1_{i}": pair[0] for i, pair in enumerate(others)}, **{f"z2_{i}": pair[1] for i, pair in enumerate(others)}}


@judge("test_nt_xent_loss", checks.hand_in_nt_xent_loss, draw=nt_xent_inputs)
def judge_nt_xent_loss(inputs, evidence) -> None:
    cases = checks.nt_xent_cases(inputs)
    for name in ["pair"] + [f"temperature_{i}" for i in range(len(inputs["temperatures"]))]:
        z1, z2, temperature = cases[name]
        checks.judge_loss_value(float(evidence[name]), cases[name], float(reference_nt_xent(z1, z2, temperature)),
                                mistaken_values(z1, z2, temperature))
    checks.judge_nt_xent_properties(cases, evidence)
    z1, z2, temperature = cases["pair"]
    checks.judge_gradients(evidence, checks.gradients(reference_nt_xent, z1.astype(np.float64), z2.astype(np.float64),
                                                      temperature))


def training_inputs(rng) -> dict:
    return {"training_images": rng.choice(60_000, checks.TRAINING_CHECK_BATCH * checks.TRAINING_CHECK_STEPS, replace=False),
            "held_out_images": rng.choice(10_000, checks.TRAINING_CHECK_BATCH, replace=False)}


@judge("test_training_step", checks.hand_in_training_step, draw=training_inputs)
def judge_training_step(inputs, evidence) -> None:
    batch = checks.TRAINING_CHECK_BATCH
    assert evidence["first"].shape == evidence["second"].shape and len(evidence["first"]) == batch, (
        f"the projections of {batch} held-out images have shapes {evidence['first'].shape} and {evidence['second'].shape}")
    loss = float(reference_nt_xent(evidence["first"], evidence["second"], checks.TRAINING_CHECK_TEMPERATURE))
    checks.judge_training_step(evidence, record("training_check_loss", loss))


# --- exercise 4: the linear probe, measured on the test images --------------------------------------

TEST_SET = "the test images"


def accuracy_on_test_set(classes: np.ndarray, order: np.ndarray) -> float:
    """Accuracy of predicted classes of the test images in ``order`` (needs the test labels)."""
    return accuracy_of(classes, data.load_fashion_mnist("test")[1][order])


test_set_order = held_out_order(lambda: len(data.load_fashion_mnist("test")[1]))


@judge("test_linear_probe", checks.hand_in_linear_probe, draw=test_set_order)
def judge_linear_probe(inputs, evidence) -> str:
    checks.judge_linear(evidence)
    accuracy = accuracy_on_test_set(evidence["classes"], inputs["order"])
    return checks.judge_probe_accuracy(record("probe_accuracy", accuracy, ACCURACY_STEP), TEST_SET)


@judge("test_beats_random_encoder", checks.hand_in_beats_random_encoder, draw=test_set_order)
def judge_beats_random_encoder(inputs, evidence) -> str:
    pre_trained = record("probe_accuracy_check_labels", accuracy_on_test_set(evidence["pre_trained"], inputs["order"]),
                         ACCURACY_STEP)
    random = record("random_encoder_probe_accuracy", accuracy_on_test_set(evidence["random"], inputs["order"]), ACCURACY_STEP)
    record("margin_over_random_encoder", pre_trained - random)
    return checks.judge_beats_random_encoder(pre_trained, random, TEST_SET)
