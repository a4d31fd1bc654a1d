"""Checks for assignment 7, contrastive self-supervised learning (SimCLR) on Fashion-MNIST.

Images are float32 (batch, 28, 28, 1) in [0, 1]; projections are (batch, dim) with row i of both
views coming from the same image. The probe collectors predict the Fashion-MNIST test images,
whose labels students never get, and the grader's judges measure the predictions; the probes
train on a labelled subset of the training split fixed here.

Which plausible wrong solution would a graded cell still pass? (Each catch is a wrong solution in
tests/notebooks/test_07_contrastive_learning.py or tests/checks/test_contrastive.py.)
- test_augmentation catches an augmentation that returns the images, contrast clipped to 0-255, and
  one transformation shared by the whole batch.
- test_nt_xent_loss catches projections not normalised, the temperature multiplied, the
  self-similarity left in the softmax, anchors from one view only, a summed loss, and a loss that
  is not differentiable (NumPy inside).
- test_training_step catches a step that updates only the head and the same view twice. Its evidence
  measures the student's own model, so it can be forged by patching the collector: deliberate
  forgery, not a mistake.
- test_linear_probe catches a probe with a hidden layer; with test_beats_random_encoder it measures
  predictions of the Fashion-MNIST test images, so too little pre-training loses both.
"""

import functools

import keras
import numpy as np
import tensorflow as tf

from .. import data
from ..evidence import collector, returns_evidence
from .common import accuracy_of, call, check_output_shape

ASSIGNMENT = "07_contrastive_learning"

# Measured with the reference notebook, `tools/calibrate.py 07 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-23), 650 pre-training steps of 256
# images, accuracy on the 10,000 test images:
#   probe accuracy:               seed 0: 0.7475  seed 1: 0.7572  seed 2: 0.7513  seed 3: 0.7435  seed 4: 0.7560
#   with this check's 600 labels: 0.7429 / 0.7546 / 0.7488 / 0.7335 / 0.7430
#   same probe, random encoder:   0.6762 / 0.6763 / 0.6818 / 0.6831 / 0.6897
#   margin (paired):              0.0667 / 0.0783 / 0.0670 / 0.0504 / 0.0533
# Low end of the students' ranges (keras 3.8.0, tensorflow-cpu 2.18.0, numpy 2.0.0, pandas 2.2.2,
# matplotlib 3.8.4; student/pyproject.toml), `tools/calibrate.py 07 --seeds 0` (2-core CPU, 2026-12-07):
#   probe accuracy: seed 0: 0.7507   with this check's 600 labels: 0.7468   random encoder: 0.6834
#   margin (paired): 0.0634   the training check's loss after 40 steps: 2.845
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


@functools.lru_cache(maxsize=2)
def _fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images and labels (None for the test images in students' data), read once per process."""
    return data.load_fashion_mnist(split)


def images_of(split: str, indices=slice(None)) -> np.ndarray:
    """Fashion-MNIST images of ``split`` at ``indices``, float32 (n, 28, 28, 1) in [0, 1]."""
    images, _ = _fashion_mnist(split)
    return (images[indices, ..., None] / 255.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def labelled_subset() -> tuple[np.ndarray, np.ndarray]:
    """LABELS_PER_CLASS training images of every class, fixed, drawn independently of the notebook's."""
    _, labels = _fashion_mnist("train")
    rng = np.random.default_rng(7)
    indices = np.concatenate([rng.choice(np.flatnonzero(labels == c), LABELS_PER_CLASS, replace=False)
                              for c in range(NUM_CLASSES)])
    return images_of("train", indices), labels[indices].astype(np.int64)


# --- exercise 1: two views of every image ---------------------------------------------------------

def _views(augmentation, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(call(augmentation, tf.constant(images), training=True))


@returns_evidence
def augmentation_evidence(augmentation, images) -> dict:
    return {"first": _views(augmentation, images), "second": _views(augmentation, images),
            "copies": _views(augmentation, np.repeat(images[:1], 32, axis=0))}


def judge_augmentation(images, evidence) -> None:
    first, second, copies = evidence["first"], evidence["second"], evidence["copies"]
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


def check_augmentation(augmentation) -> None:
    """On the first 64 training images."""
    images = images_of("train", np.arange(64))
    judge_augmentation(images, augmentation_evidence(augmentation, images))


@collector
def hand_in_augmentation(inputs, augmentation) -> dict:
    return augmentation_evidence(augmentation, images_of("test", inputs["images"]))


# --- exercise 2: the NT-Xent loss ------------------------------------------------------------------

# The mistakes the loss judge names when a student's value matches one of them instead of NT-Xent.
NT_XENT_MISTAKES = {
    "unnormalised": "the projections are not L2-normalised: the similarity is the cosine, z_i . z_j / (|z_i| |z_j|)",
    "multiplied": "the similarities are multiplied by the temperature; divide them by it",
    "self_in_softmax": "an anchor's similarity with itself is left in the softmax: mask the diagonal out (for example "
                       "subtract a large number from it)",
    "first_view_anchors": "only the first view's rows are anchors: every one of the 2B projections is an anchor, and the "
                          "loss is their mean",
    "summed": "the anchors' losses are summed: take their mean",
    "other_view_negatives": "the negatives come from the other view only (CLIP style): SimCLR's candidates are all 2B - 1 "
                            "other projections, both views",
}


def _loss_value(nt_xent_loss, z1, z2, temperature) -> float:
    value = np.asarray(keras.ops.convert_to_numpy(call(nt_xent_loss, tf.constant(z1), tf.constant(z2), temperature)))
    assert value.size == 1, (
        f"nt_xent_loss returned shape {value.shape}; it returns one number, the mean over the 2B anchors")
    return float(value.reshape(()))


def gradients(loss_function, z1, z2, temperature) -> list[np.ndarray]:
    """The gradients of the loss with respect to both views' projections."""
    z1, z2 = tf.Variable(z1), tf.Variable(z2)
    with tf.GradientTape() as tape:
        loss = loss_function(z1, z2, temperature)
    gradients = tape.gradient(loss, [z1, z2]) if tf.is_tensor(loss) else [None]
    assert all(g is not None for g in gradients), (
        "nt_xent_loss is not differentiable with respect to the projections: compute it with keras.ops or "
        "TensorFlow operations, not NumPy")
    return [keras.ops.convert_to_numpy(g) for g in gradients]


def loss_cases(pair) -> dict:
    """{case: (z1, z2, temperature)} from one pair of projections: the pair, the views swapped, the
    pairs reordered, one view's rows rescaled, and collapsed projections (ln(2B - 1))."""
    z1, z2, temperature = pair
    order = np.roll(np.arange(len(z1)), 3)[::-1]
    scales = np.linspace(0.1, 10.0, len(z1), dtype=np.float32)[:, None]
    same = np.ones((len(z1), 4), np.float32)
    return {"pair": (z1, z2, temperature), "swapped": (z2, z1, temperature), "reordered": (z1[order], z2[order], temperature),
            "rescaled": (z1 * scales, z2, temperature), "collapsed": (same, same, 0.5)}


@returns_evidence
def loss_evidence(nt_xent_loss, cases: dict) -> dict:
    z1, z2, temperature = cases["pair"]
    return {**{case: _loss_value(nt_xent_loss, *arguments) for case, arguments in cases.items()},
            **dict(zip(("gradient_z1", "gradient_z2"), gradients(nt_xent_loss, z1, z2, temperature)))}


def judge_loss_value(value: float, case, expected: float, mistakes: dict) -> None:
    """``mistakes``: {mistake: the value it gives} for the case, where known."""
    z1, _, temperature = case
    if np.isclose(value, expected, rtol=1e-4, atol=1e-5):
        return
    for mistake, mistaken in mistakes.items():
        if np.isclose(value, mistaken, rtol=1e-4, atol=1e-5):
            raise AssertionError(f"nt_xent_loss gave {value:.5f} on a batch of {len(z1)} pairs at temperature "
                                 f"{temperature:.3g}, expected {expected:.5f}: {NT_XENT_MISTAKES[mistake]}")
    raise AssertionError(f"nt_xent_loss gave {value:.5f} on a batch of {len(z1)} pairs at temperature "
                         f"{temperature:.3g}; expected {expected:.5f}")


def judge_nt_xent_properties(cases: dict, evidence) -> None:
    """The loss does not change with the views swapped, the pairs reordered or a projection rescaled;
    collapsed projections give ln(2B - 1)."""
    value = float(evidence["pair"])
    assert np.isclose(float(evidence["swapped"]), value, rtol=1e-5), (
        "nt_xent_loss(z1, z2) differs from nt_xent_loss(z2, z1): both views' rows are anchors, so swapping "
        "the views must not change the loss")
    assert np.isclose(float(evidence["reordered"]), value, rtol=1e-5), (
        "reordering the pairs (the same permutation of z1's and z2's rows) changed the loss: row i of z1 "
        "pairs with row i of z2 wherever it is in the batch")
    assert np.isclose(float(evidence["rescaled"]), value, rtol=1e-4), (
        "scaling a projection changed the loss: L2-normalise the projections before the dot products")
    chance = np.log(2 * len(cases["collapsed"][0]) - 1)
    collapsed = float(evidence["collapsed"])
    assert np.isclose(collapsed, chance, rtol=1e-4), (
        f"when all {2 * len(cases['collapsed'][0])} projections are equal every anchor's candidates are equally likely, "
        f"so the loss is ln(2B - 1) = {chance:.4f}; nt_xent_loss gave {collapsed:.4f}")


def judge_gradients(evidence, expected: list[np.ndarray]) -> None:
    for name, wanted in zip(("z1", "z2"), expected):
        actual = evidence[f"gradient_{name}"]
        assert actual.shape == wanted.shape and np.allclose(actual, wanted, rtol=1e-3, atol=1e-5), (
            f"the gradient of nt_xent_loss with respect to {name} differs from NT-Xent's (largest difference "
            f"{np.max(np.abs(actual - wanted)):.2e}): a stop_gradient, a rounding or a NumPy step in the loss?")


def _public_pair() -> tuple:
    rng = np.random.default_rng(2024)
    z1 = (rng.normal(size=(8, 16)) * rng.uniform(0.3, 3.0, size=(8, 1))).astype(np.float32)
    z2 = ((z1 + 0.7 * rng.normal(size=(8, 16))) * rng.uniform(0.3, 3.0, size=(8, 1))).astype(np.float32)
    return z1, z2, 0.2


# NT-Xent of the public pair, and what each mistake gives on it, written out from the grader's
# reference (a test keeps them in step).
_PUBLIC_LOSS = 0.604932
_PUBLIC_MISTAKES = {"unnormalised": 27.537469, "multiplied": 2.568754, "self_in_softmax": 1.769314,
                    "first_view_anchors": 0.564513, "summed": 9.678916, "other_view_negatives": 0.375527}


def check_nt_xent_loss(nt_xent_loss) -> None:
    cases = loss_cases(_public_pair())
    evidence = loss_evidence(nt_xent_loss, cases)
    judge_loss_value(float(evidence["pair"]), cases["pair"], _PUBLIC_LOSS, _PUBLIC_MISTAKES)
    judge_nt_xent_properties(cases, evidence)


def nt_xent_cases(inputs) -> dict:
    """The cases of an NT-Xent judge's inputs: the loss cases of one pair, and pairs at other temperatures."""
    cases = loss_cases((inputs["z1"], inputs["z2"], float(inputs["temperature"])))
    return cases | {f"temperature_{i}": (inputs[f"z1_{i}"], inputs[f"z2_{i}"], float(temperature))
                    for i, temperature in enumerate(inputs["temperatures"])}


@collector
def hand_in_nt_xent_loss(inputs, nt_xent_loss) -> dict:
    return loss_evidence(nt_xent_loss, nt_xent_cases(inputs))


# --- exercise 3: the training step -----------------------------------------------------------------

def _changed(before: list[np.ndarray], model) -> bool:
    return any(not np.array_equal(old, new) for old, new in zip(before, model.get_weights()))


@returns_evidence
def training_evidence(contrastive_model_class, build_encoder, build_projection_head, build_augmentation,
                      training_images, held_out_images) -> dict:
    """A fresh model, trained by its own fit() on unlabelled images (a step per batch of
    TRAINING_CHECK_BATCH): its projections of two fresh views of other images."""
    encoder = call(build_encoder)
    projection_head = call(build_projection_head, encoder.output_shape[-1])
    augmentation = call(build_augmentation)
    model = call(contrastive_model_class, encoder, projection_head, augmentation)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    encoder_before, head_before = encoder.get_weights(), projection_head.get_weights()
    dataset = tf.data.Dataset.from_tensor_slices(training_images).batch(TRAINING_CHECK_BATCH)
    history = call(model.fit, dataset, epochs=1, shuffle=False, verbose=0)
    assert "loss" in history.history, (
        f"train_step must return {{'loss': ...}} (the tracker's result); fit() reported {sorted(history.history)}")
    assert _changed(encoder_before, encoder), (
        "training did not change the encoder's weights: apply the gradients to the encoder's trainable "
        "variables as well as the projection head's")
    assert _changed(head_before, projection_head), (
        "training did not change the projection head's weights: apply the gradients to its trainable variables too")

    def project(views):
        return keras.ops.convert_to_numpy(projection_head(encoder(views, training=False), training=False))
    return {"first": project(_views(augmentation, held_out_images)), "second": project(_views(augmentation, held_out_images))}


def judge_training_step(evidence, loss: float) -> None:
    """``loss``: NT-Xent (at TRAINING_CHECK_TEMPERATURE) of the exported projections of two views."""
    batch, chance = TRAINING_CHECK_BATCH, np.log(2 * TRAINING_CHECK_BATCH - 1)
    assert loss <= TRAINING_CHECK_DROP * chance, (
        f"after {TRAINING_CHECK_STEPS} training steps of {batch} images, NT-Xent (temperature "
        f"{TRAINING_CHECK_TEMPERATURE}) on two views of held-out images is {loss:.2f}; it starts near "
        f"ln(2B - 1) = {chance:.2f} and should fall below {TRAINING_CHECK_DROP * chance:.2f}. Does train_step "
        "compute the loss of two different views inside the GradientTape and apply its gradients?")


def check_training_step(contrastive_model_class, build_encoder, build_projection_head, build_augmentation) -> None:
    """A fresh model trained 3 steps on the first training images: fit() reports the loss and the
    encoder and the projection head both learn. (How well two views match after a longer run the
    hidden test measures, with the grader's NT-Xent.)"""
    batch = TRAINING_CHECK_BATCH
    training_evidence(contrastive_model_class, build_encoder, build_projection_head, build_augmentation,
                      images_of("train", np.arange(3 * batch)), images_of("train", np.arange(batch)))
    print(f"Target: after {TRAINING_CHECK_STEPS} training steps on hidden images, NT-Xent on two views of other images "
          f"falls below {TRAINING_CHECK_DROP:.0%} of ln(2B - 1) = {TRAINING_CHECK_DROP * np.log(2 * batch - 1):.2f}.")


@collector
def hand_in_training_step(inputs, contrastive_model_class, build_encoder, build_projection_head, build_augmentation) -> dict:
    return training_evidence(contrastive_model_class, build_encoder, build_projection_head, build_augmentation,
                             images_of("train", inputs["training_images"]), images_of("test", inputs["held_out_images"]))


# --- exercise 4: the linear probe ------------------------------------------------------------------

def classes_of(probe, images) -> np.ndarray:
    return np.argmax(probe.predict(images, batch_size=1000, verbose=0), axis=-1)


@returns_evidence
def linearity_evidence(probe, encoder, images) -> dict:
    check_output_shape(probe, (None, NUM_CLASSES), "the linear probe", "one logit per class")
    return {"features": encoder.predict(images, verbose=0), "logits": probe.predict(images, verbose=0)}


def judge_linear(evidence) -> None:
    """The probe's logits are an affine function of the encoder's features."""
    features, logits = np.asarray(evidence["features"], np.float64), np.asarray(evidence["logits"], np.float64)
    assert len(features) == len(logits), f"{len(features)} feature rows for {len(logits)} logit rows"
    design = np.hstack([features, np.ones((len(features), 1))])
    coefficients = np.linalg.lstsq(design, logits, rcond=None)[0]
    residual = np.linalg.norm(design @ coefficients - logits) / np.linalg.norm(logits - logits.mean(axis=0))
    assert residual < 1e-3, (
        f"the probe's logits are not a linear function of the encoder's features (relative residual "
        f"{residual:.3f}): a linear probe is one Dense layer (after an optional Normalization) on the frozen "
        "encoder's output, with no hidden layer and no projection head")


def judge_probe_accuracy(accuracy: float, where: str) -> str:
    assert accuracy >= PROBE_ACCURACY_THRESHOLD, (
        f"the linear probe classifies {accuracy:.2%} of {where} correctly; at least "
        f"{PROBE_ACCURACY_THRESHOLD:.0%} is expected after the notebook's pre-training. Check the augmentation, "
        "the loss and that the probe trains on the pre-trained encoder's features")
    return f"the probe classifies {accuracy:.2%} of {where} (needs {PROBE_ACCURACY_THRESHOLD:.0%})"


def check_linear_probe(probe, encoder, validation_images, validation_labels) -> None:
    """The probe is linear in the encoder's features; the target beside its validation accuracy."""
    judge_linear(linearity_evidence(probe, encoder, validation_images[:1000]))
    accuracy = accuracy_of(classes_of(probe, validation_images), validation_labels)
    print(f"Targets on the test images: at least {PROBE_ACCURACY_THRESHOLD:.0%} for the probe on the pre-trained "
          f"encoder ({accuracy:.2%} of the validation images)...")


@collector
def hand_in_linear_probe(inputs, probe, encoder) -> dict:
    """The probe's predicted class of every test image, and its logits and the encoder's features on 1,000 of them."""
    return {"classes": classes_of(probe, images_of("test", inputs["order"])),
            **linearity_evidence(probe, encoder, images_of("test", slice(1000)))}


def judge_beats_random_encoder(pre_trained: float, random: float, where: str) -> str:
    assert pre_trained - random >= RANDOM_ENCODER_MARGIN, (
        f"with the same {LABELS_PER_CLASS * NUM_CLASSES} labelled images, the probe on the pre-trained encoder "
        f"scores {pre_trained:.2%} on {where} and the same probe on a randomly initialised encoder "
        f"{random:.2%}; pre-training should add at least {RANDOM_ENCODER_MARGIN:.0%}")
    return f"probe accuracy {pre_trained:.2%} on the pre-trained encoder, {random:.2%} on a random one"


@collector
def hand_in_beats_random_encoder(inputs, train_linear_probe, encoder) -> dict:
    """The student's probe training, on this check's labelled images, on the pre-trained encoder and
    on a randomly initialised one of the same architecture: their classes of the test images."""
    images, labels = labelled_subset()
    random_encoder = keras.models.clone_model(encoder)  # the same layers, freshly initialised
    test_images = images_of("test", inputs["order"])
    return {"pre_trained": classes_of(call(train_linear_probe, encoder, images, labels), test_images),
            "random": classes_of(train_linear_probe(random_encoder, images, labels), test_images)}
