"""Assignment 7's checks: the visible checks and the grader's judges on hidden inputs accept a
correct solution and name the likely mistake of a wrong one."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

from autograder.judges import MEASUREMENTS
from autograder.judges import contrastive as judges
from coursekit.checks import contrastive as checks


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


def test_augmentation_accepts_random_views_in_range(hidden_test):
    checks.check_augmentation(augmentation())
    hidden_test(checks.hand_in_augmentation, augmentation())


@pytest.mark.parametrize("mistake, message", [
    (lambda images, training=False: images, r"two calls gave the same view for 100% of the images"),
    (augmentation(contrast_range=(0, 255)), r"views range from 0\.000 to 1\.\d+; .* value_range=\(0, 1\)"),
    (shift_whole_batch, r"32 copies of one image got the same view 100% of the time: draw the random "
                        r"transformation per image"),
    (keras.Sequential([layers.RandomCrop(24, 24)]), r"augmenting a batch of shape \(64, 28, 28, 1\) gave shape "
                                                    r"\(64, 24, 24, 1\): a view keeps the image's shape"),
])
def test_augmentation_mistakes_are_named(mistake, message, both_fail):
    both_fail(lambda: checks.check_augmentation(mistake), checks.hand_in_augmentation, mistake, match=message)


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


def test_nt_xent_accepts_the_simclr_loss(hidden_test):
    checks.check_nt_xent_loss(nt_xent)
    for seed in range(4):
        hidden_test(checks.hand_in_nt_xent_loss, nt_xent, seed=seed)


def test_the_written_out_public_values_are_the_reference_s():
    z1, z2, temperature = checks._public_pair()
    assert float(judges.reference_nt_xent(z1, z2, temperature)) == pytest.approx(checks._PUBLIC_LOSS, rel=1e-5)
    assert judges.mistaken_values(z1, z2, temperature) == pytest.approx(checks._PUBLIC_MISTAKES, rel=1e-5)


@pytest.mark.parametrize("switch, message", [
    ({"normalise": False}, r"the projections are not L2-normalised"),
    ({"divide": False}, r"the similarities are multiplied by the temperature; divide them by it"),
    ({"mask_self": False}, r"an anchor's similarity with itself is left in the softmax"),
    ({"both_views": False}, r"only the first view's rows are anchors"),
    ({"mean": False}, r"the anchors' losses are summed: take their mean"),
    ({"other_view_only": True}, r"the negatives come from the other view only \(CLIP style\)"),
])
def test_nt_xent_mistakes_are_named(switch, message, both_fail):
    def mistaken(z1, z2, temperature):
        return nt_xent(z1, z2, temperature, **switch)
    both_fail(lambda: checks.check_nt_xent_loss(mistaken), checks.hand_in_nt_xent_loss, mistaken,
              match=r"^nt_xent_loss gave [\d.]+ on a batch of \d+ pairs at temperature [\d.]+, expected [\d.]+: " + message)


def test_nt_xent_that_answers_the_public_pair_from_the_written_out_value_fails_on_hidden_pairs(hidden_test):
    def memorised(z1, z2, temperature):
        return ops.convert_to_tensor(checks._PUBLIC_LOSS) + 0.0 * ops.sum(z1 * z2) if temperature == 0.2 else nt_xent(
            z1, z2, temperature, normalise=False)
    with pytest.raises(AssertionError, match=r"^nt_xent_loss gave"):
        hidden_test(checks.hand_in_nt_xent_loss, memorised)


def test_nt_xent_in_numpy_has_no_gradients():
    def numpy_loss(z1, z2, temperature):
        return np.float32(nt_xent(np.asarray(z1), np.asarray(z2), temperature))

    with pytest.raises(AssertionError, match=r"not differentiable with respect to the projections"):
        checks.check_nt_xent_loss(numpy_loss)
    with pytest.raises(AssertionError, match=r"not differentiable with respect to the projections"):
        checks.hand_in_nt_xent_loss(numpy_loss)


def test_nt_xent_per_anchor_losses_are_not_a_loss():
    def per_anchor(z1, z2, temperature):
        return ops.stack([nt_xent(z1, z2, temperature)] * 16)

    with pytest.raises(AssertionError, match=r"nt_xent_loss returned shape \(16,\); it returns one number"):
        checks.check_nt_xent_loss(per_anchor)


def test_nt_xent_reference_starts_at_chance():
    same = np.ones((128, 8), np.float32)
    assert np.isclose(float(judges.reference_nt_xent(same, same, 0.1)), np.log(255))


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


def test_training_step_accepts_simclr(hidden_test):
    checks.check_training_step(ContrastiveModel, build_encoder, build_projection_head, augmentation)
    hidden_test(checks.hand_in_training_step, ContrastiveModel, build_encoder, build_projection_head, augmentation)
    assert MEASUREMENTS["training_check_loss"] < checks.TRAINING_CHECK_DROP * np.log(255)


def test_training_step_must_train_the_encoder(both_fail):
    class HeadOnly(ContrastiveModel):
        def __init__(self, *arguments):
            super().__init__(*arguments, train_encoder=False)

    both_fail(lambda: checks.check_training_step(HeadOnly, build_encoder, build_projection_head, augmentation),
              checks.hand_in_training_step, HeadOnly, build_encoder, build_projection_head, augmentation,
              match=r"training did not change the encoder's weights")


def test_training_step_must_apply_its_gradients(hidden_test):
    class NoStep(ContrastiveModel):
        def train_step(self, images):
            self.loss_tracker.update_state(np.log(255))
            return {"loss": self.loss_tracker.result()}

    with pytest.raises(AssertionError, match=r"training did not change the encoder's weights"):
        hidden_test(checks.hand_in_training_step, NoStep, build_encoder, build_projection_head, augmentation)


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
    return checks.labelled_subset()


def test_linear_probe_on_a_random_encoder_is_below_the_threshold(labelled, hidden_test):
    encoder = build_encoder()
    with pytest.raises(AssertionError, match=r"the linear probe classifies [\d.]+% of the test images correctly; "
                                             r"at least \d+% is expected"):
        hidden_test(checks.hand_in_linear_probe, train_probe(encoder, *labelled), encoder)
    assert MEASUREMENTS["probe_accuracy"] < checks.PROBE_ACCURACY_THRESHOLD


def test_a_probe_with_a_hidden_layer_is_not_linear(labelled, both_fail):
    encoder = build_encoder()
    probe = train_probe(encoder, *labelled, hidden_units=32)
    images, labels = labelled
    both_fail(lambda: checks.check_linear_probe(probe, encoder, images, labels), checks.hand_in_linear_probe, probe, encoder,
              match=r"the probe's logits are not a linear function of the encoder's features")


def test_linear_probe_output_has_one_logit_per_class(labelled):
    encoder = build_encoder()
    probe = keras.Model(encoder.input, layers.Dense(2)(encoder.output))
    with pytest.raises(AssertionError, match=r"the linear probe output shape is \(None, 2\); expected \(None, 10\)"):
        checks.check_linear_probe(probe, encoder, *labelled)


def test_a_random_encoder_does_not_beat_itself(hidden_test):
    with pytest.raises(AssertionError, match=r"with the same 600 labelled images, the probe on the pre-trained "
                                             r"encoder scores [\d.]+% .* should add at least 3%"):
        hidden_test(checks.hand_in_beats_random_encoder, train_probe, build_encoder())
    assert MEASUREMENTS["margin_over_random_encoder"] < checks.RANDOM_ENCODER_MARGIN
