"""How the grader reads a notebook's exported compile settings (`autograder.models`): Keras' own
losses are rebuilt and measured, anything else named in the export is refused, never looked up."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json

import keras
import numpy as np
import pytest

from autograder.exports import ExportError
from autograder.models import compiled_loss, learning_rate, loss_evidence, optimizer_name

LABELS = np.array([0, 2, 1])
LOGITS = np.array([[2.0, 0.1, -1.0], [0.3, 0.2, 1.5], [-0.5, 1.0, 0.0]])
CROSS_ENTROPY = float(np.mean(keras.ops.convert_to_numpy(
    keras.losses.sparse_categorical_crossentropy(LABELS, LOGITS, from_logits=True))))


def compile_config_of(loss, optimizer=None, metrics=("accuracy",)) -> dict:
    """The compile config a notebook's model exports, read back as the grader reads it."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer or keras.optimizers.Adam(0.003), loss, metrics=list(metrics))
    return json.loads(json.dumps(model.get_compile_config(), default=str))


@pytest.mark.parametrize("loss, on_logits", [(keras.losses.SparseCategoricalCrossentropy(from_logits=True), True),
                                             ("sparse_categorical_crossentropy", False),
                                             (keras.losses.sparse_categorical_crossentropy, False)])
def test_keras_own_losses_are_rebuilt_and_measured_on_the_grader_s_outputs(loss, on_logits):
    """A name or a function means probabilities (from_logits=False), as it does in training."""
    measured = loss_evidence(compile_config_of(loss), "model", LABELS, LOGITS)
    assert np.isclose(measured["loss"], CROSS_ENTROPY) == on_logits
    assert measured["tracked"] == ["loss", "accuracy"]


def test_a_loss_of_the_notebook_s_own_is_refused_without_being_looked_up():
    def own_loss(labels, logits):
        return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    with pytest.raises(ExportError, match="compiled with a loss the grader does not rebuild .*own_loss"):
        compiled_loss(compile_config_of(own_loss), "model")


@pytest.mark.parametrize("forged", [
    {"module": "keras.losses", "class_name": "LossFunctionWrapper", "registered_name": None, "config": {"fn": "system"}},
    {"module": "os", "class_name": "function", "registered_name": "function", "config": "system"},
    {"module": "keras.losses", "class_name": "MeanSquaredError", "registered_name": "package>Sneaky", "config": {}},
    {"module": "keras.losses", "class_name": "MeanSquaredError", "registered_name": None, "config": {"name": ["nested"]}},
])
def test_a_forged_loss_config_is_refused(forged):
    with pytest.raises(ExportError, match="compiled with a loss the grader does not rebuild"):
        compiled_loss({"loss": forged}, "model")


def test_the_optimizer_and_its_learning_rate_are_read_from_the_config():
    compiled = compile_config_of("mse", keras.optimizers.SGD(0.25))
    assert (optimizer_name(compiled), learning_rate(compiled)) == ("SGD", 0.25)
    assert np.isnan(learning_rate({"optimizer": "adam"}))
