"""Checks for assignment 7, contrastive self-supervised learning (SimCLR) on Fashion-MNIST.

Images are float32 (batch, 28, 28, 1) in [0, 1]; projections are (batch, dim) with row i of both
views coming from the same image. The probe checks predict the Fashion-MNIST test images, which
the notebook never loads, and the grader judges the predictions with the test labels
(`judge_held_out`); they draw their own labelled subset of the training split.
"""

import functools

import keras
import numpy as np
import tensorflow as tf

from .. import data
from .common import accuracy_of, check_output_shape, judge_exported, judge_held_out, record

# Measured with the reference notebook, `tools/calibrate.py 07 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-23), 650 pre-training steps of 256
# images, accuracy on the 10,000 test images:
#   probe accuracy:               seed 0: 0.7475  seed 1: 0.7572  seed 2: 0.7513  seed 3: 0.7435  seed 4: 0.7560
#   with this check's 600 labels: 0.7429 / 0.7546 / 0.7488 / 0.7335 / 0.7430
#   same probe, random encoder:   0.6762 / 0.6763 / 0.6818 / 0.6831 / 0.6897
#   margin (paired):              0.0667 / 0.0783 / 0.0670 / 0.0504 / 0.0533
# The threshold is the worst run minus 0.0135, the margin the worst paired margin minus 0.02.
PROBE_ACCURACY_THRESHOLD = 0.73
RANDOM_ENCODER_MARGIN = 0.03

NUM_CLASSES = len(data.FASHION_MNIST_CLASSES)
LABELS_PER_CLASS = 60  # the check's own labelled subset for the random-encoder comparison
TRAINING_CHECK_BATCH = 128
TRAINING_CHECK_STEPS = 40
# The loss is measured at one temperature whatever the model trains with, and must end below this
# fraction of ln(2B - 1). After 40 steps (seed 0 / 1): SimCLR 3.07 / 3.01; trained at temperature
# 0.2 or 0.5: 3.38 / 3.83; the same view twice: 6.50 / 6.72; untrained: 5.48 / 5.51 (ln 255 = 5.54).
TRAINING_CHECK_TEMPERATURE = 0.1
TRAINING_CHECK_DROP = 0.75

# The mistakes the loss check names when a student's values match one of them instead of NT-Xent
# (switches of `reference_nt_xent`).
_NT_XENT_MISTAKES = {
    "the projections are not L2-normalised: the similarity is the cosine, z_i . z_j / (|z_i| |z_j|)":
        dict(normalise=False),
    "the similarities are multiplied by the temperature; divide them by it": dict(divide=False),
    "an anchor's similarity with itself is left in the softmax: mask the diagonal out (for example "
    "subtract a large number from it)": dict(mask_self=False),
    "only the first view's rows are anchors: every one of the 2B projections is an anchor, and the loss "
    "is their mean": dict(anchors="first view"),
    "the anchors' losses are summed: take their mean": dict(reduction="sum"),
    "the negatives come from the other view only (CLIP style): SimCLR's candidates are all 2B - 1 other "
    "projections, both views": dict(negatives="other view"),
}


@functools.lru_cache(maxsize=2)
def _fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images and labels, read once per process (every check draws from them)."""
    return data.load_fashion_mnist(split)


def _images(split: str, indices=slice(None)) -> np.ndarray:
    images, _ = _fashion_mnist(split)
    return (images[indices, ..., None] / 255.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _labelled_subset() -> tuple[np.ndarray, np.ndarray]:
    """LABELS_PER_CLASS training images of every class, fixed, drawn independently of the notebook's."""
    _, labels = _fashion_mnist("train")
    rng = np.random.default_rng(7)
    indices = np.concatenate([rng.choice(np.flatnonzero(labels == c), LABELS_PER_CLASS, replace=False)
                              for c in range(NUM_CLASSES)])
    return _images("train", indices), labels[indices].astype(np.int64)


# --- exercise 1: two views of every image ---------------------------------------------------------

def _views(augmentation, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(augmentation(tf.constant(images), training=True))


def check_augmentation(augmentation) -> None:
    images = _images("test", np.arange(64))
    judge_exported("test_augmentation", judge_augmentation, first=_views(augmentation, images),
                   second=_views(augmentation, images), copies=_views(augmentation, np.repeat(images[:1], 32, axis=0)))


def judge_augmentation(arrays) -> None:
    images, first, second, copies = _images("test", np.arange(64)), arrays["first"], arrays["second"], arrays["copies"]
    assert first.shape == second.shape == images.shape, (
        f"augmenting a batch of shape {images.shape} gave shape {first.shape}: a view keeps the image's shape")
    assert np.issubdtype(first.dtype, np.floating), f"a view must hold floats, like its image; got {first.dtype}"
    low, high = float(min(first.min(), second.min())), float(max(first.max(), second.max()))
    assert low >= -1e-6 and high <= 1 + 1e-6, (
        f"views range from {low:.3f} to {high:.3f}; images and views stay in [0, 1] (Keras' RandomContrast "
        "clips to value_range, which is (0, 255) unless you pass value_range=(0, 1))")
    differing = np.mean(np.max(np.abs(first - second), axis=(1, 2, 3)) > 1e-3)
    assert differing >= 0.9, (
        f"two calls gave the same view for {1 - differing:.0%} of the images: each call must draw new random "
        "transformations (and the layers only transform when called with training=True)")
    assert copies.shape == (32, *images.shape[1:]), f"augmenting 32 copies of one image gave shape {copies.shape}"
    varied = np.mean(np.max(np.abs(copies[1:] - copies[0]), axis=(1, 2, 3)) > 1e-3)
    assert varied >= 0.9, (
        f"32 copies of one image got the same view {1 - varied:.0%} of the time: draw the random "
        "transformation per image, not once per batch")


# --- exercise 2: the NT-Xent loss ------------------------------------------------------------------

def reference_nt_xent(z1, z2, temperature: float, normalise=True, divide=True, mask_self=True,
                      anchors="both views", negatives="all", reduction="mean"):
    """NT-Xent in float64 (the keyword arguments switch on the mistakes the check names)."""
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


def _loss_value(nt_xent_loss, z1, z2, temperature) -> float:
    value = np.asarray(keras.ops.convert_to_numpy(nt_xent_loss(tf.constant(z1), tf.constant(z2), temperature)))
    assert value.size == 1, (
        f"nt_xent_loss returned shape {value.shape}; it returns one number, the mean over the 2B anchors")
    return float(value.reshape(()))


def _gradients(loss_function, z1, z2, temperature) -> list[np.ndarray]:
    z1, z2 = tf.Variable(z1), tf.Variable(z2)
    with tf.GradientTape() as tape:
        loss = loss_function(z1, z2, temperature)
    gradients = tape.gradient(loss, [z1, z2]) if tf.is_tensor(loss) else [None]
    assert all(g is not None for g in gradients), (
        "nt_xent_loss is not differentiable with respect to the projections: compute it with keras.ops or "
        "TensorFlow operations, not NumPy")
    return [keras.ops.convert_to_numpy(g) for g in gradients]


def _hidden_projections(rng, batch_size=8, dim=16) -> tuple[np.ndarray, np.ndarray]:
    """Two views' projections: related pairs, rows of different lengths."""
    z1 = rng.normal(size=(batch_size, dim)) * rng.uniform(0.3, 3.0, size=(batch_size, 1))
    z2 = (z1 + 0.7 * rng.normal(size=(batch_size, dim))) * rng.uniform(0.3, 3.0, size=(batch_size, 1))
    return z1.astype(np.float32), z2.astype(np.float32)


def _loss_cases() -> dict:
    """{case: (z1, z2, temperature)}: three temperatures, the views swapped, the pairs reordered,
    one view's rows rescaled, collapsed projections (ln(2B - 1)), and the pair whose gradients count."""
    rng = np.random.default_rng(8)
    cases = {f"temperature_{temperature}": (*_hidden_projections(rng), temperature) for temperature in (0.1, 0.5, 1.0)}
    z1, z2 = _hidden_projections(rng)
    order = rng.permutation(len(z1))
    scales = rng.uniform(0.1, 10.0, size=(len(z1), 1)).astype(np.float32)
    same = np.ones((8, 4), np.float32)
    return cases | {"pair": (z1, z2, 0.2), "swapped": (z2, z1, 0.2), "reordered": (z1[order], z2[order], 0.2),
                    "rescaled": (z1 * scales, z2, 0.2), "collapsed": (same, same, 0.5)}


def check_nt_xent_loss(nt_xent_loss) -> None:
    cases = _loss_cases()
    z1, z2, temperature = cases["pair"]
    judge_exported("test_nt_xent_loss", judge_nt_xent_loss,
                   **{case: _loss_value(nt_xent_loss, *arguments) for case, arguments in cases.items()},
                   **dict(zip(("gradient_z1", "gradient_z2"), _gradients(nt_xent_loss, z1, z2, temperature))))


def judge_nt_xent_loss(arrays) -> None:
    cases = _loss_cases()
    for temperature in (0.1, 0.5, 1.0):
        _judge_loss_value(float(arrays[f"temperature_{temperature}"]), *cases[f"temperature_{temperature}"])
    value = float(arrays["pair"])
    assert np.isclose(float(arrays["swapped"]), value, rtol=1e-5), (
        "nt_xent_loss(z1, z2) differs from nt_xent_loss(z2, z1): both views' rows are anchors, so swapping "
        "the views must not change the loss")
    assert np.isclose(float(arrays["reordered"]), value, rtol=1e-5), (
        "reordering the pairs (the same permutation of z1's and z2's rows) changed the loss: row i of z1 "
        "pairs with row i of z2 wherever it is in the batch")
    assert np.isclose(float(arrays["rescaled"]), value, rtol=1e-4), (
        "scaling a projection changed the loss: L2-normalise the projections before the dot products")
    collapsed = float(arrays["collapsed"])
    assert np.isclose(collapsed, np.log(15), rtol=1e-4), (
        f"when all 16 projections are equal every anchor's 15 candidates are equally likely, so the loss is "
        f"ln(2B - 1) = {np.log(15):.4f}; nt_xent_loss gave {collapsed:.4f}")
    z1, z2, temperature = cases["pair"]
    expected = _gradients(reference_nt_xent, z1.astype(np.float64), z2.astype(np.float64), temperature)
    for name, wanted in zip(("z1", "z2"), expected):
        actual = arrays[f"gradient_{name}"]
        assert actual.shape == wanted.shape and np.allclose(actual, wanted, rtol=1e-3, atol=1e-5), (
            f"the gradient of nt_xent_loss with respect to {name} differs from NT-Xent's (largest difference "
            f"{np.max(np.abs(actual - wanted)):.2e}): a stop_gradient, a rounding or a NumPy step in the loss?")


def _judge_loss_value(value, z1, z2, temperature) -> None:
    expected = float(reference_nt_xent(z1, z2, temperature))
    if np.isclose(value, expected, rtol=1e-4, atol=1e-5):
        return
    for mistake, switches in _NT_XENT_MISTAKES.items():
        if np.isclose(value, float(reference_nt_xent(z1, z2, temperature, **switches)), rtol=1e-4, atol=1e-5):
            raise AssertionError(f"nt_xent_loss gave {value:.5f} on a hidden batch of {len(z1)} pairs at "
                                 f"temperature {temperature}, expected {expected:.5f}: {mistake}")
    raise AssertionError(f"nt_xent_loss gave {value:.5f} on a hidden batch of {len(z1)} pairs at temperature "
                         f"{temperature}; expected {expected:.5f}")


# --- exercise 3: the training step -----------------------------------------------------------------

def _changed(before: list[np.ndarray], model) -> bool:
    return any(not np.array_equal(old, new) for old, new in zip(before, model.get_weights()))


def check_training_step(contrastive_model_class, build_encoder, build_projection_head, build_augmentation) -> None:
    """A fresh model, trained TRAINING_CHECK_STEPS steps by its own fit() on hidden unlabelled images,
    matches the two views of held-out images far better than chance."""
    encoder = build_encoder()
    projection_head = build_projection_head(encoder.output_shape[-1])
    augmentation = build_augmentation()
    model = contrastive_model_class(encoder, projection_head, augmentation)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    encoder_before, head_before = encoder.get_weights(), projection_head.get_weights()
    batch = TRAINING_CHECK_BATCH
    training = _images("train", np.random.default_rng(9).choice(60000, batch * TRAINING_CHECK_STEPS, replace=False))
    history = model.fit(tf.data.Dataset.from_tensor_slices(training).batch(batch), epochs=1, shuffle=False, verbose=0)
    assert "loss" in history.history, (
        f"train_step must return {{'loss': ...}} (the tracker's result); fit() reported {sorted(history.history)}")
    assert _changed(encoder_before, encoder), (
        "training did not change the encoder's weights: apply the gradients to the encoder's trainable "
        "variables as well as the projection head's")
    assert _changed(head_before, projection_head), (
        "training did not change the projection head's weights: apply the gradients to its trainable variables too")
    held_out = _images("test", np.arange(10000 - batch, 10000))
    project = lambda views: keras.ops.convert_to_numpy(projection_head(encoder(views, training=False), training=False))  # noqa: E731
    judge_exported("test_training_step", judge_training_step, first=project(_views(augmentation, held_out)),
                   second=project(_views(augmentation, held_out)))


def judge_training_step(arrays) -> None:
    """NT-Xent of the trained model's projections of two fresh views of held-out images."""
    batch, chance = TRAINING_CHECK_BATCH, np.log(2 * TRAINING_CHECK_BATCH - 1)
    assert arrays["first"].shape == arrays["second"].shape and len(arrays["first"]) == batch, (
        f"the projections of {batch} held-out images have shapes {arrays['first'].shape} and {arrays['second'].shape}")
    loss = record("training_check_loss", float(reference_nt_xent(arrays["first"], arrays["second"], TRAINING_CHECK_TEMPERATURE)))
    assert loss <= TRAINING_CHECK_DROP * chance, (
        f"after {TRAINING_CHECK_STEPS} training steps of {batch} images, NT-Xent (temperature "
        f"{TRAINING_CHECK_TEMPERATURE}) on two views of held-out images is {loss:.2f}; it starts near "
        f"ln(2B - 1) = {chance:.2f} and should fall below {TRAINING_CHECK_DROP * chance:.2f}. Does train_step "
        "compute the loss of two different views inside the GradientTape and apply its gradients?")


# --- exercise 4: the linear probe, re-measured on the test set ------------------------------------

def classes_on_test_set(probe) -> np.ndarray:
    """The probe's predicted class of each test image."""
    return np.argmax(probe.predict(_images("test"), batch_size=1000, verbose=0), axis=-1)


def accuracy_on_test_set(classes: np.ndarray) -> float:
    """Accuracy of predicted classes on the test images (needs the test labels)."""
    return accuracy_of(classes, _fashion_mnist("test")[1])


def check_linear_probe(probe, encoder) -> None:
    """On 1,000 test images, the probe's logits as an affine function of the encoder's features;
    its predicted class of every test image."""
    check_output_shape(probe, (None, NUM_CLASSES), "the linear probe", "one logit per class")
    images = _images("test", slice(1000))
    judge_held_out("test_linear_probe", judge_linear_probe, classes=classes_on_test_set(probe),
                   features=encoder.predict(images, verbose=0), logits=probe.predict(images, verbose=0))


def _judge_linear(features, logits) -> None:
    """The probe's logits are an affine function of the encoder's features."""
    features, logits = np.asarray(features, np.float64), np.asarray(logits, np.float64)
    design = np.hstack([features, np.ones((len(features), 1))])
    coefficients = np.linalg.lstsq(design, logits, rcond=None)[0]
    residual = np.linalg.norm(design @ coefficients - logits) / np.linalg.norm(logits - logits.mean(axis=0))
    assert residual < 1e-3, (
        f"the probe's logits are not a linear function of the encoder's features (relative residual "
        f"{residual:.3f}): a linear probe is one Dense layer (after an optional Normalization) on the frozen "
        "encoder's output, with no hidden layer and no projection head")


def judge_linear_probe(arrays) -> str:
    _judge_linear(arrays["features"], arrays["logits"])
    accuracy = record("probe_accuracy", accuracy_on_test_set(arrays["classes"]))
    assert accuracy >= PROBE_ACCURACY_THRESHOLD, (
        f"the linear probe classifies {accuracy:.2%} of the test images correctly; at least "
        f"{PROBE_ACCURACY_THRESHOLD:.0%} is expected after the notebook's pre-training. Check the augmentation, "
        "the loss and that the probe trains on the pre-trained encoder's features")
    return f"the probe classifies {accuracy:.2%} of the test images (needs {PROBE_ACCURACY_THRESHOLD:.0%})"


def check_beats_random_encoder(train_linear_probe, encoder) -> None:
    """The student's probe training, on this check's labelled images, on the pre-trained encoder and on
    a randomly initialised one of the same architecture: paired test accuracies."""
    images, labels = _labelled_subset()
    random_encoder = keras.models.clone_model(encoder)  # the same layers, freshly initialised
    judge_held_out("test_beats_random_encoder", judge_beats_random_encoder,
                   pre_trained=classes_on_test_set(train_linear_probe(encoder, images, labels)),
                   random=classes_on_test_set(train_linear_probe(random_encoder, images, labels)))


def judge_beats_random_encoder(arrays) -> str:
    pre_trained = record("probe_accuracy_check_labels", accuracy_on_test_set(arrays["pre_trained"]))
    random = record("random_encoder_probe_accuracy", accuracy_on_test_set(arrays["random"]))
    margin = record("margin_over_random_encoder", pre_trained - random)
    assert margin >= RANDOM_ENCODER_MARGIN, (
        f"with the same {LABELS_PER_CLASS * NUM_CLASSES} labelled images, the probe on the pre-trained encoder "
        f"scores {pre_trained:.2%} on the test images and the same probe on a randomly initialised encoder "
        f"{random:.2%}; pre-training should add at least {RANDOM_ENCODER_MARGIN:.0%}")
    return f"probe accuracy {pre_trained:.2%} on the pre-trained encoder, {random:.2%} on a random one"
