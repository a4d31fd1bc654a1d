"""Assignment 2's checks: each accepts a correct object and names the likely mistake otherwise."""

import gzip
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from keras import layers, ops

from autograder.checks import dropout as checks


class InvertedDropout(layers.Layer):
    """A correct layer; the mistakes below change one thing each."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def mask(self, inputs):
        return keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        return ops.where(self.mask(inputs), inputs / (1 - self.rate), ops.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class NotRescaled(InvertedDropout):
    def call(self, inputs, training=None):
        return ops.where(self.mask(inputs), inputs, ops.zeros_like(inputs)) if training else inputs


class RateKeeps(InvertedDropout):
    def mask(self, inputs):
        return ~super().mask(inputs)


class FixedMask(InvertedDropout):
    def mask(self, inputs):
        return np.random.default_rng(123).uniform(size=tuple(inputs.shape)) >= self.rate


class AlwaysOn(InvertedDropout):
    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


class NoConfig(InvertedDropout):
    def get_config(self):
        return layers.Layer.get_config(self)


def test_a_correct_layer_passes():
    checks.check_dropout_in_training(InvertedDropout)
    checks.check_dropout_at_inference(InvertedDropout)


def test_survivors_that_are_not_scaled_up_are_named():
    with pytest.raises(AssertionError, match=r"^with rate=0.25 surviving units were multiplied by 1; expected 1/\(1-rate\) = 1.333"):
        checks.check_dropout_in_training(NotRescaled)


def test_a_rate_used_as_keep_probability_is_named():
    with pytest.raises(AssertionError, match=r"^with rate=0.25 the layer zeroed 7\d\.\d% of the units in training; expected 25%\. Is `rate` the probability of dropping \(not of keeping\) a unit\?$"):
        checks.check_dropout_in_training(RateKeeps)


def test_a_mask_that_never_changes_is_named():
    with pytest.raises(AssertionError, match="two training calls dropped exactly the same units: draw a new random mask"):
        checks.check_dropout_in_training(FixedMask)


def test_dropout_at_inference_is_named():
    with pytest.raises(AssertionError, match="^with training=False the layer changed its inputs"):
        checks.check_dropout_at_inference(AlwaysOn)


def test_a_config_without_the_rate_is_named():
    with pytest.raises(AssertionError, match=r"get_config\(\) returned .*; it must include 'rate'"):
        checks.check_dropout_at_inference(NoConfig)


def mlp(rate, output_activation="softmax", dropout=InvertedDropout):
    inputs = keras.Input((28, 28))
    x = layers.Dense(16, activation="relu")(layers.Flatten()(inputs))
    if rate:
        x = dropout(rate)(x)
    model = keras.Model(inputs, layers.Dense(10, activation=output_activation)(x))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_mlp(**mistake):
    """build_mlp(units, dropout_rate, optimizer) as the notebook asks, with ``mistake``."""
    return lambda units, dropout_rate, optimizer: mlp(dropout_rate, **mistake)


def test_a_correct_mlp_passes_with_and_without_dropout():
    checks.check_mlp(build_mlp(), InvertedDropout)


def test_an_mlp_with_keras_dropout_is_told_to_use_its_own_layer():
    with pytest.raises(AssertionError, match="^the model uses keras.layers.Dropout: use your own InvertedDropout layer$"):
        checks.check_mlp(build_mlp(dropout=layers.Dropout), InvertedDropout)


def test_an_mlp_that_outputs_logits_is_named():
    with pytest.raises(AssertionError, match="^the model's outputs are not probabilities: use activation='softmax'"):
        checks.check_mlp(build_mlp(output_activation=None), InvertedDropout)


@pytest.mark.parametrize("settings, message", [
    (dict(monitor="loss"), "early stopping monitors 'loss': watch a validation metric"),
    (dict(restore_best_weights=False), "restore_best_weights is off: the model keeps the weights of its last epoch"),
    (dict(patience=0), "patience=0 stops at the first epoch without improvement"),
])
def test_early_stopping_mistakes_are_named(settings, message):
    callback = keras.callbacks.EarlyStopping(**{"monitor": "val_loss", "patience": 3, "restore_best_weights": True, **settings})
    with pytest.raises(AssertionError, match=message):
        checks.check_early_stopping(callback)


def test_unscaled_pixels_are_named():
    with pytest.raises(AssertionError, match="^scaled pixels run from 0 to 255; expected 0 to 1: divide by 255$"):
        checks.check_scaling(lambda images: images.astype(np.float32))


def test_test_accuracy_is_re_measured_on_the_test_images(data_folder):
    images = np.zeros((20, 28, 28), np.uint8)
    labels = np.array([3] * 10 + [5] * 10, np.uint8)
    (data_folder / "mnist").mkdir()
    for name, array in (("t10k-images-idx3-ubyte.gz", images), ("t10k-labels-idx1-ubyte.gz", labels)):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
        (data_folder / "mnist" / name).write_bytes(gzip.compress(header + array.tobytes()))
    always_three = keras.Sequential([keras.Input((28, 28)), layers.Flatten(),
                                     layers.Dense(10, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(
                                         [0, 0, 0, 5, 0, 0, 0, 0, 0, 0]), activation="softmax")])
    assert checks.accuracy_on_test_set(checks.classes_on_test_set(always_three)) == 0.5
    with pytest.raises(AssertionError, match=r"^the model's accuracy on the MNIST test set is 50.00%; it must reach 97.6%"):
        checks.check_test_accuracy(always_three)
