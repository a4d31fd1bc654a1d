"""Assignment 7's checks: each accepts a correct solution and names the likely mistake otherwise."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

from autograder.checks import MEASUREMENTS
from autograder.checks import contrastive as checks


@pytest.fixture(autouse=True)
def seeded():
    """Random encoders and augmentations drawn the same way every run."""
    keras.utils.set_random_seed(0)


def augmentation(contrast_range=(0, 1)):
    return keras.Sequential([layers.RandomTranslation(0.15, 0.15, fill_mode="constant"),
                             layers.RandomZoom((-0.3, 0.1), fill_mode="constant"),
                             layers.RandomFlip("horizontal"),
                             layers.RandomContrast(0.5, value_range=contrast_range)])


def shift_whole_batch(images, training=False):
    """One random shift for every image of the batch."""
    return tf.roll(images, shift=int(np.random.randint(1, 5)), axis=2)


def test_augmentation_accepts_random_views_in_range():
    checks.check_augmentation(augmentation())


@pytest.mark.parametrize("mistake, message", [
    (lambda images, training=False: images, r"two calls gave the same view for 100% of the images"),
    (augmentation(contrast_range=(0, 255)), r"views range from 0\.000 to 1\.\d+; .* value_range=\(0, 1\)"),
    (shift_whole_batch, r"32 copies of one image got the same view 100% of the time: draw the random "
                        r"transformation per image"),
    (keras.Sequential([layers.RandomCrop(24, 24)]), r"augmenting a batch of shape \(64, 28, 28, 1\) gave shape "
                                                    r"\(64, 24, 24, 1\): a view keeps the image's shape"),
])
def test_augmentation_mistakes_are_named(mistake, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_augmentation(mistake)


def nt_xent(z1, z2, temperature, normalise=True, divide=True, mask_self=True, both_views=True, mean=True,
            other_view_only=False):
    """The notebook's NT-Xent in keras.ops, with switches for the usual mistakes."""
    n = ops.shape(z1)[0]
    if normalise:
        z1, z2 = ops.normalize(z1, axis=1), ops.normalize(z2, axis=1)
    scale = (lambda s: s / temperature) if divide else (lambda s: s * temperature)
    if other_view_only:
        logits = ops.concatenate([scale(z1 @ ops.transpose(z2)), scale(z2 @ ops.transpose(z1))], axis=0)
        partners = ops.concatenate([ops.arange(n), ops.arange(n)], axis=0)
    else:
        z = ops.concatenate([z1, z2], axis=0)
        logits = scale(z @ ops.transpose(z)) - (1e9 * ops.eye(2 * n) if mask_self else 0.0)
        partners = ops.concatenate([ops.arange(n) + n, ops.arange(n)], axis=0)
    losses = keras.losses.sparse_categorical_crossentropy(partners, logits, from_logits=True)
    losses = losses if both_views else losses[:n]
    return ops.mean(losses) if mean else ops.sum(losses)


def test_nt_xent_accepts_the_simclr_loss():
    checks.check_nt_xent_loss(nt_xent)


@pytest.mark.parametrize("switch, message", [
    ({"normalise": False}, r"the projections are not L2-normalised"),
    ({"divide": False}, r"the similarities are multiplied by the temperature; divide them by it"),
    ({"mask_self": False}, r"an anchor's similarity with itself is left in the softmax"),
    ({"both_views": False}, r"only the first view's rows are anchors"),
    ({"mean": False}, r"the anchors' losses are summed: take their mean"),
    ({"other_view_only": True}, r"the negatives come from the other view only \(CLIP style\)"),
])
def test_nt_xent_mistakes_are_named(switch, message):
    with pytest.raises(AssertionError, match=r"nt_xent_loss gave [\d.]+ on a hidden batch of 8 pairs at "
                                             r"temperature 0\.1, expected [\d.]+: " + message):
        checks.check_nt_xent_loss(lambda z1, z2, temperature: nt_xent(z1, z2, temperature, **switch))


def test_nt_xent_in_numpy_has_no_gradients():
    def numpy_loss(z1, z2, temperature):
        return np.float32(nt_xent(np.asarray(z1), np.asarray(z2), temperature))

    with pytest.raises(AssertionError, match=r"not differentiable with respect to the projections"):
        checks.check_nt_xent_loss(numpy_loss)


def test_nt_xent_per_anchor_losses_are_not_a_loss():
    def per_anchor(z1, z2, temperature):
        return ops.stack([nt_xent(z1, z2, temperature)] * 16)

    with pytest.raises(AssertionError, match=r"nt_xent_loss returned shape \(16,\); it returns one number"):
        checks.check_nt_xent_loss(per_anchor)


def test_nt_xent_reference_starts_at_chance():
    same = np.ones((128, 8), np.float32)
    assert np.isclose(float(checks.reference_nt_xent(same, same, 0.1)), np.log(255))


def build_encoder():
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        x = layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.GlobalAveragePooling2D()(x))


def build_projection_head(representation_dim):
    return keras.Sequential([keras.Input((representation_dim,)), layers.Dense(representation_dim, activation="relu"),
                             layers.Dense(32)])


class ContrastiveModel(keras.Model):
    def __init__(self, encoder, projection_head, augmentation, temperature=0.1, train_encoder=True):
        super().__init__()
        self.encoder, self.projection_head, self.augmentation = encoder, projection_head, augmentation
        self.temperature, self.train_encoder = temperature, train_encoder
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, images):
        views = [self.augmentation(images, training=True) for _ in range(2)]
        with tf.GradientTape() as tape:
            z1, z2 = (self.projection_head(self.encoder(view, training=True)) for view in views)
            loss = nt_xent(z1, z2, self.temperature)
        variables = self.projection_head.trainable_variables
        if self.train_encoder:
            variables = self.encoder.trainable_variables + variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def test_training_step_accepts_simclr():
    checks.check_training_step(ContrastiveModel, build_encoder, build_projection_head, augmentation)
    assert MEASUREMENTS["training_check_loss"] < checks.TRAINING_CHECK_DROP * np.log(255)


def test_training_step_must_train_the_encoder():
    class HeadOnly(ContrastiveModel):
        def __init__(self, *arguments):
            super().__init__(*arguments, train_encoder=False)

    with pytest.raises(AssertionError, match=r"training did not change the encoder's weights"):
        checks.check_training_step(HeadOnly, build_encoder, build_projection_head, augmentation)


def test_training_step_must_apply_its_gradients():
    class NoStep(ContrastiveModel):
        def train_step(self, images):
            self.loss_tracker.update_state(np.log(255))
            return {"loss": self.loss_tracker.result()}

    with pytest.raises(AssertionError, match=r"training did not change the encoder's weights"):
        checks.check_training_step(NoStep, build_encoder, build_projection_head, augmentation)


def train_probe(encoder, images, labels, hidden_units=0):
    encoder.trainable = False
    inputs = keras.Input((28, 28, 1))
    x = encoder(inputs, training=False)
    if hidden_units:
        x = layers.Dense(hidden_units, activation="relu")(x)
    probe = keras.Model(inputs, layers.Dense(10)(x))
    probe.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    probe.fit(images, labels, batch_size=len(images), epochs=30, verbose=0)
    return probe


@pytest.fixture(scope="module")
def labelled():
    return checks._labelled_subset()


def test_linear_probe_on_a_random_encoder_is_below_the_threshold(labelled):
    encoder = build_encoder()
    with pytest.raises(AssertionError, match=r"the linear probe classifies [\d.]+% of the test images correctly; "
                                             r"at least \d+% is expected"):
        checks.check_linear_probe(train_probe(encoder, *labelled), encoder)
    assert MEASUREMENTS["probe_accuracy"] < checks.PROBE_ACCURACY_THRESHOLD


def test_a_probe_with_a_hidden_layer_is_not_linear(labelled):
    encoder = build_encoder()
    with pytest.raises(AssertionError, match=r"the probe's logits are not a linear function of the encoder's features"):
        checks.check_linear_probe(train_probe(encoder, *labelled, hidden_units=32), encoder)


def test_linear_probe_output_has_one_logit_per_class():
    encoder = build_encoder()
    probe = keras.Model(encoder.input, layers.Dense(2)(encoder.output))
    with pytest.raises(AssertionError, match=r"the linear probe output shape is \(None, 2\); expected \(None, 10\)"):
        checks.check_linear_probe(probe, encoder)


def test_a_random_encoder_does_not_beat_itself():
    with pytest.raises(AssertionError, match=r"with the same 600 labelled images, the probe on the pre-trained "
                                             r"encoder scores [\d.]+% .* should add at least 3%"):
        checks.check_beats_random_encoder(train_probe, build_encoder())
    assert MEASUREMENTS["margin_over_random_encoder"] < checks.RANDOM_ENCODER_MARGIN
