"""Judges of assignment 2 (MNIST, inverted dropout, early stopping): the hidden inputs, the
reference scaling and the MNIST test labels."""

import numpy as np

from coursekit.checks import dropout as checks
from coursekit.checks.common import accuracy_of
from coursekit.evidence import listed

from .. import data
from .registry import ACCURACY_STEP, held_out_order, judge, record

ASSIGNMENT = checks.ASSIGNMENT


def scaling_inputs(rng) -> dict:
    images = rng.integers(0, 256, size=(int(rng.integers(2, 6)), 28, 28)).astype(np.uint8)
    images[0, 0, 0], images[-1, -1, -1] = 0, 255
    return {"images": images}


@judge("test_scaling", checks.hand_in_scaling, draw=scaling_inputs)
def judge_scaling(inputs, evidence) -> None:
    images = inputs["images"]
    checks.judge_scaling(images, evidence["scaled"], images.astype(np.float32) / 255.0)


def training_inputs(rng) -> dict:
    """Two rates and inputs of 100,000 units each: a dropped share more than 0.01 away from the rate
    is then over six standard deviations out, and the mean over five."""
    rates = rng.uniform(0.1, 0.6, 2)
    shapes = [(int(rows), 100_000 // int(rows)) for rows in rng.choice([100, 200, 400, 500], 2)]
    shapes[1] = (10, shapes[1][0] // 10, shapes[1][1])
    return {"rates": rates, **listed("inputs", (rng.uniform(0.5, 2.0, size=shape).astype(np.float32) for shape in shapes))}


@judge("test_dropout_in_training", checks.hand_in_dropout_in_training, draw=training_inputs)
def judge_dropout_in_training(inputs, evidence) -> None:
    checks.judge_dropout_in_training(checks.training_cases(inputs), evidence)


def inference_inputs(rng) -> dict:
    return {"rate": rng.uniform(0.1, 0.8), "inputs": rng.normal(size=(int(rng.integers(4, 32)), 64)).astype(np.float32)}


@judge("test_dropout_at_inference", checks.hand_in_dropout_at_inference, draw=inference_inputs)
def judge_dropout_at_inference(inputs, evidence) -> None:
    checks.judge_dropout_at_inference(float(inputs["rate"]), inputs["inputs"], evidence)


def mlp_inputs(rng) -> dict:
    """One setting with dropout and one without, other sizes and optimizers."""
    optimizers = rng.permutation(list(checks.OPTIMIZERS))[:2]
    return {"units": rng.integers(8, 65, 2), "rates": [rng.uniform(0.1, 0.6), 0.0], "optimizers": optimizers,
            "images": rng.uniform(size=(int(rng.integers(4, 12)), 28, 28)).astype(np.float32)}


@judge("test_mlp", checks.hand_in_mlp, draw=mlp_inputs)
def judge_mlp(inputs, evidence) -> None:
    checks.judge_mlp(checks.mlp_settings(inputs), inputs["images"], evidence)


def early_stopping_inputs(rng) -> dict:
    """A patience, and a run of 40 epochs whose validation loss is lowest at an epoch from 2 to 8."""
    return {"patience": rng.integers(2, 10), "losses": checks.validation_losses(int(rng.integers(2, 9)), 40, rng)}


@judge("test_early_stopping", checks.hand_in_early_stopping, draw=early_stopping_inputs)
def judge_early_stopping(inputs, evidence) -> None:
    checks.judge_early_stopping(int(inputs["patience"]), inputs["losses"], evidence)


# --- held-out measurements --------------------------------------------------------------------

TEST_SET = "the MNIST test images"


def accuracy_on_test_set(classes: np.ndarray, order: np.ndarray) -> float:
    """Accuracy of predicted digits of the MNIST test images in ``order`` (needs the test labels)."""
    return accuracy_of(classes, data.load_mnist("test")[1][order])


test_set_order = held_out_order(lambda: len(data.load_mnist("test")[1]))


@judge("test_dropout_narrows_the_gap", checks.hand_in_gap, draw=test_set_order)
def judge_gap(inputs, evidence) -> str:
    def gap(model):
        return (accuracy_of(evidence[f"{model}_train"], evidence["train_labels"])
                - accuracy_on_test_set(evidence[f"{model}_test"], inputs["order"]))
    plain_gap, dropout_gap = record("02/plain_gap", gap("plain"), ACCURACY_STEP), record("02/dropout_gap", gap("dropout"), ACCURACY_STEP)
    record("02/gap_reduction", plain_gap - dropout_gap)
    return checks.judge_gap(plain_gap, dropout_gap, accuracy_of(evidence["plain_train"], evidence["train_labels"]), "test")


@judge("test_test_accuracy", checks.hand_in_test_accuracy, draw=test_set_order)
def judge_test_accuracy(inputs, evidence) -> str:
    accuracy = accuracy_on_test_set(evidence["classes"], inputs["order"])
    return checks.judge_test_accuracy(record("02/test_accuracy", accuracy, ACCURACY_STEP), TEST_SET)
