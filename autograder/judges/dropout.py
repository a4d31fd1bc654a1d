"""Judges of assignment 2 (MNIST, inverted dropout, early stopping): the hidden inputs, the
reference scaling and the MNIST test labels."""

import keras
import numpy as np

from coursekit.checks import dropout as checks
from coursekit.checks.common import accuracy_of
from coursekit.evidence import listed

from .. import data
from ..models import compiled_with, optimizer_name, rebuilt
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


MLP_LAYERS = {"Flatten", "Reshape", "Dense", "Dropout", "Activation", "Softmax"}
"""What the grader rebuilds of build_mlp's models besides the notebook's dropout layer (Keras' own
Dropout included, so that the judge can say it is the wrong one)."""


class StandInDropout(keras.layers.Layer):
    """The grader's own layer in place of the notebook's dropout layer in a rebuilt MLP: it keeps the
    rate and, like the notebook's (test_dropout_at_inference judges that), passes its inputs
    through at inference, which is all the judge measures."""

    def __init__(self, rate=None, seed=None, **kwargs):
        super().__init__(**{key: kwargs[key] for key in ("name", "dtype", "trainable") if key in kwargs})
        self.rate = np.nan if rate is None else float(rate)  # a config without the rate: the judge says so

    def call(self, inputs, training=None):
        return inputs


def rebuilt_mlp_structure(evidence, i: int, images) -> dict:
    """`checks.mlp_structure` of the model the notebook exported for setting ``i``, rebuilt here."""
    name = f"mlp_{i}"
    compiled = compiled_with(evidence, name)
    model = rebuilt(evidence, name, MLP_LAYERS, stand_ins={str(evidence["dropout_class"]): StandInDropout})
    return checks.mlp_structure(model, StandInDropout, optimizer_name(compiled), images)


@judge("test_mlp", checks.hand_in_mlp, draw=mlp_inputs)
def judge_mlp(inputs, evidence) -> None:
    settings = checks.mlp_settings(inputs)
    checks.judge_mlp(settings, inputs["images"],
                     [rebuilt_mlp_structure(evidence, i, inputs["images"]) for i in range(len(settings))])


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


def training_labels(images) -> np.ndarray:
    """The labels, in the grader's own copy of MNIST, of training images the notebook handed in
    (scaled to [0, 1]), found by their pixels."""
    images = np.asarray(images)
    assert images.ndim == 3 and images.shape[1:] == (28, 28) and len(images) and images.dtype.kind == "f", (
        f"the training images handed in are {images.dtype} of shape {images.shape}; expected scaled images (n, 28, 28)")
    pixels, labels = data.load_mnist("train")
    label_of = {image.tobytes(): label for image, label in zip(pixels, labels)}
    found = [label_of.get(image.tobytes()) for image in np.rint(np.clip(images, 0, 1) * 255).astype(np.uint8)]
    assert None not in found, (f"{found.count(None)} of the {len(images)} training images handed in are not MNIST "
                               "training images scaled to [0, 1]")
    return np.asarray(found)


def gap_inputs(rng) -> dict:
    """The test images' order, and a seed that shuffles the training images (so that no two runs
    hand in the same arrays)."""
    return test_set_order(rng) | {"shuffle_seed": rng.integers(0, 2**31)}


@judge("test_dropout_narrows_the_gap", checks.hand_in_gap, draw=gap_inputs)
def judge_gap(inputs, evidence) -> str:
    train_labels = training_labels(evidence["train_images"])

    def gap(model):
        return (accuracy_of(evidence[f"{model}_train"], train_labels)
                - accuracy_on_test_set(evidence[f"{model}_test"], inputs["order"]))
    plain_gap, dropout_gap = record("02/plain_gap", gap("plain"), ACCURACY_STEP), record("02/dropout_gap", gap("dropout"), ACCURACY_STEP)
    record("02/gap_reduction", plain_gap - dropout_gap)
    return checks.judge_gap(plain_gap, dropout_gap, accuracy_of(evidence["plain_train"], train_labels), "test")


@judge("test_test_accuracy", checks.hand_in_test_accuracy, draw=test_set_order)
def judge_test_accuracy(inputs, evidence) -> str:
    accuracy = accuracy_on_test_set(evidence["classes"], inputs["order"])
    return checks.judge_test_accuracy(record("02/test_accuracy", accuracy, ACCURACY_STEP), TEST_SET)
