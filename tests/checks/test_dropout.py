"""Assignment 2's checks: the visible checks and the grader's judges on hidden inputs accept a
correct solution and name the likely mistake of a wrong one."""

import gzip
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from keras import layers, ops

from autograder import exports
from coursekit.checks import dropout as checks

SEEDS = range(5)


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


class MaskSharedByTheBatch(InvertedDropout):
    def mask(self, inputs):
        return keras.random.uniform(ops.shape(inputs)[-1:], seed=self.seed_generator) >= self.rate


class WholeRowsDropped(InvertedDropout):
    def mask(self, inputs):
        rows = keras.random.uniform((*ops.shape(inputs)[:-1], 1), seed=self.seed_generator) >= self.rate
        return ops.broadcast_to(rows, ops.shape(inputs))


class AlwaysOn(InvertedDropout):
    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


class NoConfig(InvertedDropout):
    def get_config(self):
        return layers.Layer.get_config(self)


def test_a_correct_layer_passes_the_visible_checks_and_every_hidden_case(hidden_test):
    checks.check_dropout_in_training(InvertedDropout)
    checks.check_dropout_at_inference(InvertedDropout)
    for seed in SEEDS:
        hidden_test(checks.hand_in_dropout_in_training, InvertedDropout, seed=seed)
        hidden_test(checks.hand_in_dropout_at_inference, InvertedDropout, seed=seed)


def test_survivors_that_are_not_scaled_up_are_named(both_fail):
    with pytest.raises(AssertionError, match=r"^with rate=0.25 surviving units were multiplied by 1; expected 1/\(1-rate\) = 1.333"):
        checks.check_dropout_in_training(NotRescaled)
    both_fail(lambda: checks.check_dropout_in_training(NotRescaled), checks.hand_in_dropout_in_training, NotRescaled,
              match=r"surviving units were multiplied by 1; expected 1/\(1-rate\)")


def test_a_mask_shared_by_every_row_of_the_batch_is_named(both_fail):
    both_fail(lambda: checks.check_dropout_in_training(MaskSharedByTheBatch), checks.hand_in_dropout_in_training,
              MaskSharedByTheBatch, match="^every row of the batch dropped the same units: draw the mask over the inputs' whole shape")


def test_whole_rows_dropped_at_once_are_named(both_fail):
    both_fail(lambda: checks.check_dropout_in_training(WholeRowsDropped), checks.hand_in_dropout_in_training,
              WholeRowsDropped, match=r"^some rows lost 100% of their units and some 0%, with rate=0\.\d+: draw each unit's mask on its own")


def test_a_rate_used_as_keep_probability_is_named(both_fail):
    with pytest.raises(AssertionError, match=r"^with rate=0.25 the layer zeroed 7\d\.\d% of the units in training; expected 25\.0%\. Is `rate` the probability of dropping \(not of keeping\) a unit\?$"):
        checks.check_dropout_in_training(RateKeeps)
    both_fail(lambda: checks.check_dropout_in_training(RateKeeps), checks.hand_in_dropout_in_training, RateKeeps,
              match=r"Is `rate` the probability of dropping \(not of keeping\) a unit\?$")


def test_a_mask_that_never_changes_is_named(both_fail):
    both_fail(lambda: checks.check_dropout_in_training(FixedMask), checks.hand_in_dropout_in_training, FixedMask,
              match="two training calls dropped exactly the same units: draw a new random mask")


def test_dropout_at_inference_is_named(both_fail):
    both_fail(lambda: checks.check_dropout_at_inference(AlwaysOn), checks.hand_in_dropout_at_inference, AlwaysOn,
              match="^with training=False the layer changed its inputs")


def test_a_config_without_the_rate_is_named(both_fail):
    both_fail(lambda: checks.check_dropout_at_inference(NoConfig), checks.hand_in_dropout_at_inference, NoConfig,
              match=r"^get_config\(\) of a layer with rate=[\d.]+ does not include that 'rate'")


def test_an_unwritten_layer_says_so():
    class Unwritten(InvertedDropout):
        def call(self, inputs, training=None):
            raise NotImplementedError()
    with pytest.raises(AssertionError, match=r"is not written yet: replace `raise NotImplementedError\(\)`"):
        checks.check_dropout_in_training(Unwritten)


def mlp(units, rate, optimizer, output_activation="softmax", dropout=InvertedDropout, hidden=2):
    inputs = keras.Input((28, 28))
    x = layers.Flatten()(inputs)
    for _ in range(hidden):
        x = layers.Dense(units, activation="relu")(x)
        if rate:
            x = dropout(rate)(x)
    model = keras.Model(inputs, layers.Dense(10, activation=output_activation)(x))
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_mlp(**mistake):
    """build_mlp(units, dropout_rate, optimizer) as the notebook asks, with ``mistake``."""
    return lambda units, dropout_rate, optimizer: mlp(units, dropout_rate, optimizer, **mistake)


def test_a_correct_mlp_passes_with_and_without_dropout(hidden_test):
    checks.check_mlp(build_mlp(), InvertedDropout)
    for seed in SEEDS:
        hidden_test(checks.hand_in_mlp, build_mlp(), InvertedDropout, seed=seed)


def test_an_mlp_with_keras_dropout_is_told_to_use_its_own_layer(both_fail):
    both_fail(lambda: checks.check_mlp(build_mlp(dropout=layers.Dropout), InvertedDropout), checks.hand_in_mlp,
              build_mlp(dropout=layers.Dropout), InvertedDropout,
              match="^the model uses keras.layers.Dropout: use your own InvertedDropout layer$")


def test_an_mlp_that_outputs_logits_is_named(both_fail):
    both_fail(lambda: checks.check_mlp(build_mlp(output_activation=None), InvertedDropout), checks.hand_in_mlp,
              build_mlp(output_activation=None), InvertedDropout,
              match="^the model's outputs are not probabilities: use activation='softmax'")


def test_an_mlp_that_ignores_its_optimizer_argument_is_named(both_fail):
    def fixed_optimizer(units, dropout_rate, optimizer):
        return mlp(units, dropout_rate, "adam")
    both_fail(lambda: checks.check_mlp(fixed_optimizer, InvertedDropout), checks.hand_in_mlp, fixed_optimizer,
              InvertedDropout, match=r"compiled the model with Adam: compile with the optimizer it is given")


def test_an_mlp_with_one_hidden_layer_is_named(both_fail):
    both_fail(lambda: checks.check_mlp(build_mlp(hidden=1), InvertedDropout), checks.hand_in_mlp, build_mlp(hidden=1),
              InvertedDropout, match=r"has hidden Dense layers of \[\d+\] units; expected two of hidden_units=")


def test_an_mlp_whose_dropout_config_lacks_the_rate_cannot_be_checked_by_the_grader(hidden_test):
    with pytest.raises(AssertionError, match=r"^the model's InvertedDropout layers do not say their rate: the grader rebuilds"):
        hidden_test(checks.hand_in_mlp, build_mlp(dropout=NoConfig), NoConfig)


class Doubling(layers.Layer):
    def call(self, inputs):
        return 2 * inputs


def test_an_mlp_with_another_layer_of_the_notebook_s_own_is_not_rebuilt(hidden_test):
    """The grader replaces only the dropout class it is handed; no other class of the notebook runs there."""
    def doubling_mlp(units, dropout_rate, optimizer):
        inputs = keras.Input((28, 28))
        x = Doubling()(InvertedDropout(0.5)(layers.Dense(units)(layers.Flatten()(inputs))))
        model = keras.Model(inputs, layers.Dense(10, activation="softmax")(x))
        model.compile(optimizer, "sparse_categorical_crossentropy")
        return model
    with pytest.raises(exports.ExportError, match=r"uses Doubling \(.*\); the grader rebuilds only .*InvertedDropout"):
        hidden_test(checks.hand_in_mlp, doubling_mlp, InvertedDropout)


def early_stopping(**settings):
    return keras.callbacks.EarlyStopping(**{"monitor": "val_loss", "restore_best_weights": True, **settings})


@pytest.mark.parametrize("monitor", [dict(monitor="val_loss"), dict(monitor="val_accuracy"),
                                     dict(monitor="val_accuracy", mode="max"), dict(monitor="val_loss", mode="min")])
def test_correct_early_stopping_passes(monitor, hidden_test):
    def made(patience):
        return early_stopping(patience=patience, **monitor)
    checks.check_early_stopping(made, made(3), 3)
    for seed in range(3):
        hidden_test(checks.hand_in_early_stopping, made, made(3), seed=seed)


def test_the_notebook_s_callback_keeps_its_state_after_the_check():
    callback = early_stopping(patience=3)
    callback.stopped_epoch = 17
    checks.check_early_stopping(lambda patience: early_stopping(patience=patience), callback, 3)
    assert callback.stopped_epoch == 17


@pytest.mark.parametrize("settings, message", [
    (dict(monitor="loss"), "early stopping monitors 'loss': watch a validation metric"),
    (dict(restore_best_weights=False), "restore_best_weights is off: the model keeps the weights of its last epoch"),
    (dict(patience=0), "patience=0 stops at the first epoch without improvement"),
    (dict(patience=1), r"make_early_stopping\(\d+\) waits 1 epochs: use the patience it is given"),
    (dict(mode="max"), r"^on a run whose val_loss was best at epoch \d, early stopping with patience=\d stopped after epoch "
                       r"\d+ and kept epoch 0's weights; expected to stop after epoch \d+ and keep epoch \d's\. Does mode "
                       r"match the metric \(mode='min' for a loss, 'max' for an accuracy, or leave it 'auto'\)\?$"),
    (dict(monitor="val_accuracy", mode="min"), r"on a run whose val_accuracy was best at epoch \d, .* Does mode match"),
])
def test_early_stopping_mistakes_are_named(settings, message, both_fail):
    def made(patience):
        return early_stopping(**{"patience": patience, **settings})
    both_fail(lambda: checks.check_early_stopping(made, made(3), 3), checks.hand_in_early_stopping, made, made(3),
              match=message)


def test_unscaled_pixels_are_named(both_fail):
    def unscaled(images):
        return images.astype(np.float32)
    both_fail(lambda: checks.check_scaling(unscaled), checks.hand_in_scaling, unscaled,
              match="^scaled pixels run from 0 to 255; expected 0 to 1: divide by 255$")


def test_scaled_pixels_pass_on_every_hidden_batch(hidden_test):
    checks.check_scaling(lambda images: images.astype(np.float32) / 255)
    for seed in SEEDS:
        hidden_test(checks.hand_in_scaling, lambda images: images.astype(np.float32) / 255, seed=seed)


def write_mnist(folder, split: str, images, labels) -> None:
    """A stand-in for MNIST's ``split`` ("train" or "t10k") in the course's data folder."""
    (folder / "mnist").mkdir(exist_ok=True)
    for kind, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
        (folder / "mnist" / f"{split}-{kind}.gz").write_bytes(gzip.compress(header + array.tobytes()))


THREES_AND_FIVES = np.array([3] * 10 + [5] * 10, np.uint8)


def always_three():
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(),
                             layers.Dense(10, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(
                                 [0, 0, 0, 5, 0, 0, 0, 0, 0, 0]), activation="softmax")])


def test_test_accuracy_is_re_measured_on_the_test_images(data_folder, hidden_test):
    write_mnist(data_folder, "t10k", np.zeros((20, 28, 28), np.uint8), THREES_AND_FIVES)
    with pytest.raises(AssertionError, match=r"^the model's accuracy on the MNIST test images is 50.00%; it must reach 97.6%"):
        hidden_test(checks.hand_in_test_accuracy, always_three())


@pytest.fixture
def small_mnist(data_folder):
    """Twenty distinct training images, threes then fives, and test images half of each."""
    train_images = np.random.default_rng(0).integers(0, 256, (20, 28, 28)).astype(np.uint8)
    write_mnist(data_folder, "train", train_images, THREES_AND_FIVES)
    write_mnist(data_folder, "t10k", np.zeros((20, 28, 28), np.uint8), THREES_AND_FIVES)
    return train_images.astype(np.float32) / 255


def test_the_gap_is_measured_with_the_grader_s_labels_of_the_training_images(small_mnist, hidden_test):
    """Models that call everything a three are right on the ten threes they are handed (whatever
    labels the notebook holds) and on half of the test images."""
    with pytest.raises(AssertionError, match=r"train-test accuracy gap: 50.0% without dropout, 50.0% with it"):
        hidden_test(checks.hand_in_gap, always_three(), always_three(), small_mnist[:10])


def test_training_images_that_are_not_mnist_s_are_refused(small_mnist, hidden_test):
    with pytest.raises(AssertionError, match=r"^2 of the 10 training images handed in are not MNIST training images"):
        hidden_test(checks.hand_in_gap, always_three(), always_three(), np.concatenate([small_mnist[:8], small_mnist[:2] / 2]))
