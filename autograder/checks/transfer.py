"""Checks for assignment 3, transfer learning with MobileNetV2 on the course's flower photos.

Every model takes images the way the student's ``make_dataset`` delivers them: float32
(None, size, size, 3), MobileNetV2-preprocessed to [-1, 1], and outputs logits (None, 5) for
``data.FLOWER_CLASSES``. Metric checks predict the 200 held-out photos
(``data.load_flower_photos("test")``, decoded and preprocessed here) and the grader judges the
predictions with their classes (`judge_held_out`).
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import data
from .common import (
    accuracy_of, check_close, check_output_shape, compiled_loss_evidence, judge_compiled_loss, judge_exported, judge_held_out,
    listed, record, sparse_cross_entropy, unlisted,
)

NUM_CLASSES = len(data.FLOWER_CLASSES)
CHECK_IMAGE_SIZE = 96  # small inputs keep the structural checks fast; MobileNetV2 takes any size

# Held-out accuracy (200 photos), reference notebook at 160 px, `tools/calibrate.py 03 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-22):
#   fine-tuned:          seed 0: 0.825  seed 1: 0.820  seed 2: 0.855  seed 3: 0.815  seed 4: 0.800
#   feature extraction:  seed 0: 0.820  seed 1: 0.790  seed 2: 0.805  seed 3: 0.780  seed 4: 0.790
#   from scratch:        seed 0: 0.500  seed 1: 0.500  seed 2: 0.525  seed 3: 0.460  seed 4: 0.470
# Threshold: the worst fine-tuned run minus 2 points (4 photos).
HELD_OUT_ACCURACY_THRESHOLD = 0.78
# The brief: transfer must beat the from-scratch CNN by at least 15 points (measured: 32-36).
TRANSFER_ADVANTAGE_THRESHOLD = 0.15
# Fine-tuning minus feature extraction, measured: +0.005 +0.03 +0.05 +0.035 +0.01 (it never lost).
# Allowed loss: 3 points, about one standard error of an accuracy measured on 200 photos.
FINE_TUNING_MARGIN = 0.03
# "Much lower": at most a tenth of phase 1's learning rate, as in the Keras transfer-learning guide.
FINE_TUNING_RATE_FACTOR = 0.1


def preprocess_photos(paths, image_size: int) -> np.ndarray:
    """The reference preprocessing: decode -> resize (bilinear) -> MobileNetV2's [-1, 1] scaling."""
    images = [tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), (image_size, image_size))
              for path in paths]
    return keras.applications.mobilenet_v2.preprocess_input(np.stack(images)).astype(np.float32)


@functools.lru_cache(maxsize=2)
def held_out_photos(image_size: int) -> np.ndarray:
    return preprocess_photos(data.load_flower_photos("test")[0], image_size)


def held_out_classes(model) -> np.ndarray:
    """``model``'s predicted class of each held-out photo."""
    return np.argmax(model.predict(held_out_photos(model.input_shape[1]), batch_size=50, verbose=0), axis=1)


def held_out_accuracy(classes, name: str) -> float:
    """Accuracy of predicted classes of the held-out photos (needs their labels)."""
    return record(f"held_out_accuracy/{name}", accuracy_of(classes, data.load_flower_photos("test")[1]))


def _sample_photos(count: int = 10) -> tuple[list[str], np.ndarray]:
    paths, labels = data.load_flower_photos("train")
    step = len(paths) // count
    return paths[::step][:count], labels[::step][:count]


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _base_of(model):
    """The MobileNetV2 nested in a transfer model."""
    bases = [layer for layer in _all_layers(model) if isinstance(layer, keras.Model)
             and any(inner.name == "Conv1" for inner in layer.layers)]
    assert bases, ("the model contains no MobileNetV2: call the `base` you were given on the "
                   "(augmented) inputs, base(x, training=False)")
    return bases[0]


# --- the input pipeline --------------------------------------------------------------------------

def check_pipeline(make_dataset, image_size: int = 160) -> None:
    """Ten photos at ``image_size`` in batches of 4, then at 64 px in batches of 3: decoded,
    resized and scaled like the reference, labels in order, the same every pass, shuffled only
    for training."""
    paths, labels = _sample_photos()
    evidence = {}
    for case, (size, batch_size) in enumerate(((image_size, 4), (64, 3))):
        dataset = make_dataset(paths, labels, size, batch_size=batch_size, training=False)
        assert isinstance(dataset, tf.data.Dataset), f"make_dataset returned {type(dataset).__name__}; expected a tf.data.Dataset"
        batches = list(dataset.as_numpy_iterator())
        assert all(isinstance(batch, tuple) and len(batch) == 2 for batch in batches), (
            "each element of the dataset should be an (images, labels) pair")
        training = make_dataset(paths, labels, size, batch_size=batch_size, training=True)
        evidence |= {f"size_{case}": size, f"batch_size_{case}": batch_size, f"batches_{case}": len(batches),
                     f"images_{case}": np.concatenate([batch[0] for batch in batches]),
                     f"labels_{case}": np.concatenate([batch[1] for batch in batches]),
                     f"again_{case}": np.concatenate([batch[0] for batch in dataset.as_numpy_iterator()]),
                     f"training_labels_{case}": np.concatenate([batch[1] for batch in training.as_numpy_iterator()])}
    judge_exported("test_pipeline", judge_pipeline, **evidence)


def judge_pipeline(arrays) -> None:
    paths, labels = _sample_photos()
    for case in (0, 1):
        size, batch_size, images = int(arrays[f"size_{case}"]), int(arrays[f"batch_size_{case}"]), arrays[f"images_{case}"]
        assert arrays[f"batches_{case}"] == -(-len(paths) // batch_size), (
            f"{len(paths)} photos in batches of {batch_size} gave {int(arrays[f'batches_{case}'])} batches; expected "
            f"{-(-len(paths) // batch_size)}: batch the dataset with batch_size (after map and cache)")
        assert images.shape == (len(paths), size, size, 3), (
            f"images have shape {images.shape}; expected {(len(paths), size, size, 3)}: "
            "decode with channels=3 and resize to (image_size, image_size)")
        assert images.dtype == np.float32, f"images are {images.dtype}; expected float32"
        low, high = float(images.min()), float(images.max())
        assert low < -0.5 and -1.001 <= low and high <= 1.001, (
            f"pixel values run from {low:.3g} to {high:.3g}; MobileNetV2 expects [-1, 1]: apply "
            "keras.applications.mobilenet_v2.preprocess_input to the 0-255 pixels (it computes x / 127.5 - 1)")
        assert np.array_equal(arrays[f"labels_{case}"], labels), (
            "the labels do not match the photos in order: shuffle only when training=True")
        difference = float(np.mean(np.abs(images - preprocess_photos(paths, size))))
        assert difference < 0.02, (
            f"images differ from decode -> resize -> preprocess_input by {difference:.3f} on average: resize the "
            "whole photo (no crop), keep RGB order, and leave augmentation to the model")
        assert np.array_equal(arrays[f"again_{case}"], images), (
            "two passes over make_dataset(..., training=False) give different images: randomness "
            "(augmentation, shuffling) belongs to training only")
        assert sorted(arrays[f"training_labels_{case}"]) == sorted(labels), (
            "make_dataset(..., training=True) does not yield every photo exactly once per pass")


# --- augmentation --------------------------------------------------------------------------------

def _augmentation_inputs() -> np.ndarray:
    return preprocess_photos(_sample_photos(4)[0], CHECK_IMAGE_SIZE)


def check_augmentation(augmentation) -> None:
    images = _augmentation_inputs()
    judge_exported("test_augmentation", judge_augmentation,
                   at_inference=keras.ops.convert_to_numpy(augmentation(images, training=False)),
                   augmented=keras.ops.convert_to_numpy(augmentation(images, training=True)))


def judge_augmentation(arrays) -> None:
    images, augmented = _augmentation_inputs(), arrays["augmented"]
    check_close(arrays["at_inference"], images, "the augmentation's output at inference (training=False)", atol=1e-5)
    assert augmented.shape == images.shape, (
        f"augmentation changed the shape {images.shape} to {augmented.shape}: augmentations must keep the image size")
    assert not np.allclose(augmented, images, atol=1e-3), (
        "augmentation left the images unchanged in training (training=True): add random layers such as "
        "RandomFlip and RandomRotation")
    low, high = float(augmented.min()), float(augmented.max())
    shift = abs(float(augmented.mean() - images.mean()))
    assert -1.05 <= low and high <= 1.05 and shift < 0.15, (
        f"augmentation moved the pixels to [{low:.3g}, {high:.3g}] (mean shifted by {shift:.3g}); they should stay "
        "in [-1, 1]: pass value_range=(-1, 1) to layers such as RandomContrast or RandomBrightness, which assume 0-255")


def _outputs_at_inference(model) -> dict:
    """The model's outputs for four photos, twice, at inference."""
    images = held_out_photos(model.input_shape[1])[:4]
    return {name: keras.ops.convert_to_numpy(model(images, training=False)) for name in ("first", "second")}


def _judge_outputs_at_inference(arrays, what: str) -> None:
    assert np.allclose(arrays["first"], arrays["second"], atol=1e-5), (
        f"{what} gives different outputs for the same photos at inference (training=False): augmentation and "
        "dropout must act only in training; do not force training=True when calling a layer")
    outputs = arrays["first"]
    probabilities_like = np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1, atol=1e-3)
    assert not probabilities_like, (
        f"{what} outputs rows that sum to 1 (a softmax); compile_model's loss expects logits: "
        "leave the last Dense layer without an activation")


# --- models and compilation ----------------------------------------------------------------------

_COMPILE_WEIGHTS = [np.arange(15, dtype=np.float32).reshape(3, 5) / 10, np.zeros(5, np.float32)]
_COMPILE_INPUTS = np.array([[1.0, -1.0, 0.5], [0.2, 0.3, -0.4]], np.float32)
_COMPILE_LABELS = np.array([4, 0])


def check_compile_model(compile_model) -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(NUM_CLASSES)])
    model.set_weights(_COMPILE_WEIGHTS)
    result = compile_model(model, 0.0123)
    assert result is None or result is model, "compile_model should compile the model it is given"
    judge_exported("test_compile_model", judge_compile_model,
                   learning_rate=float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
                   **compiled_loss_evidence(model, _COMPILE_INPUTS, _COMPILE_LABELS))


def judge_compile_model(arrays) -> None:
    learning_rate = float(arrays["learning_rate"])
    assert np.isclose(learning_rate, 0.0123), (
        f"compile_model(model, 0.0123) set a learning rate of {learning_rate:g}; use the learning_rate argument")
    logits = _COMPILE_INPUTS.astype(np.float64) @ _COMPILE_WEIGHTS[0] + _COMPILE_WEIGHTS[1]
    judge_compiled_loss(arrays, sparse_cross_entropy(logits, _COMPILE_LABELS),
                        "the compiled loss on logits (hint: SparseCategoricalCrossentropy(from_logits=True))")


def check_scratch_cnn(build_scratch_cnn) -> None:
    model = build_scratch_cnn(CHECK_IMAGE_SIZE, NUM_CLASSES)
    check_output_shape(model, (None, NUM_CLASSES), "the from-scratch CNN")
    assert model.input_shape == (None, CHECK_IMAGE_SIZE, CHECK_IMAGE_SIZE, 3), (
        f"build_scratch_cnn({CHECK_IMAGE_SIZE}, {NUM_CLASSES}) takes inputs {model.input_shape}; expected "
        f"(None, {CHECK_IMAGE_SIZE}, {CHECK_IMAGE_SIZE}, 3)")
    assert any(isinstance(layer, layers.Conv2D) for layer in _all_layers(model)), "the CNN has no Conv2D layer"
    assert not any(isinstance(layer, keras.Model) and layer.name.startswith("mobilenetv2") for layer in _all_layers(model)), (
        "the from-scratch CNN contains MobileNetV2: it should learn from the photos alone")
    judge_exported("test_scratch_cnn", judge_scratch_cnn, **_outputs_at_inference(model))


def judge_scratch_cnn(arrays) -> None:
    _judge_outputs_at_inference(arrays, "the from-scratch CNN")


def check_feature_extraction_model(build_transfer_model) -> None:
    base = data.load_mobilenet_v2_base(CHECK_IMAGE_SIZE)
    model = build_transfer_model(base, NUM_CLASSES)
    check_output_shape(model, (None, NUM_CLASSES), "the transfer model")
    assert _base_of(model) is base, "the model should use the `base` it was given, not build another"
    assert not base.trainable, (
        "the base is trainable: in phase 1 only the new head learns; set base.trainable = False")
    base_weights = {id(weight) for weight in base.weights}
    head = [weight for weight in model.trainable_weights if id(weight) not in base_weights]
    assert head and len(head) == len(model.trainable_weights), (
        f"{len(model.trainable_weights) - len(head)} of the base's weights are trainable and the head has "
        f"{len(head)}: freeze the whole base and give the model a new Dense head")
    check_batch_norm_in_inference_mode(model)
    judge_exported("test_feature_extraction_model", judge_feature_extraction_model, **_outputs_at_inference(model))


def judge_feature_extraction_model(arrays) -> None:
    _judge_outputs_at_inference(arrays, "the transfer model")


def check_batch_norm_in_inference_mode(model) -> None:
    """A training-mode call must leave every BatchNormalization layer's moving statistics alone."""
    norms = [layer for layer in _all_layers(model) if isinstance(layer, layers.BatchNormalization)]
    saved = [[keras.ops.convert_to_numpy(v) for v in (norm.moving_mean, norm.moving_variance)] for norm in norms]
    images = held_out_photos(model.input_shape[1])[:4]
    model(images, training=True)
    changed = []
    for norm, (mean, variance) in zip(norms, saved):
        if not np.array_equal(keras.ops.convert_to_numpy(norm.moving_mean), mean):
            changed.append(norm.name)
        norm.moving_mean.assign(mean)
        norm.moving_variance.assign(variance)
    assert not changed, (
        f"a training step updated the statistics of {len(changed)} BatchNormalization layers ({changed[0]}, ...): "
        "keep them in inference mode with layer.trainable = False (in Keras 3 fit() runs a trainable "
        "BatchNormalization layer in training mode even when the base was called with training=False)")


# --- fine-tuning ---------------------------------------------------------------------------------

UNFREEZE_CHECK_LAYER = "block_13_expand"


def check_fine_tuning(unfreeze_top_layers, fine_tuned_model, first_layer_name: str) -> None:
    """`unfreeze_top_layers` on a fresh base, and the trained model's base against the pretrained one."""
    base = data.load_mobilenet_v2_base(CHECK_IMAGE_SIZE)
    base.trainable = False
    unfreeze_top_layers(base, UNFREEZE_CHECK_LAYER)
    evidence = {"base_trainable": base.trainable, "layers_trainable": [layer.trainable for layer in base.layers]}
    judge_unfrozen(evidence)
    fine_tuned_base = _base_of(fine_tuned_model)
    judge_exported("test_fine_tuning_setup", judge_fine_tuning, **evidence, first_layer_name=first_layer_name,
                   image_size=fine_tuned_base.input_shape[1],
                   **listed("weights", (keras.ops.convert_to_numpy(weight) for layer in fine_tuned_base.layers
                                        for weight in layer.weights)))


def judge_fine_tuning(arrays) -> None:
    judge_unfrozen(arrays)
    judge_fine_tuned_base(arrays)


def judge_unfrozen(arrays) -> None:
    """After unfreeze_top_layers(base, UNFREEZE_CHECK_LAYER): the layers from it on train, except
    BatchNormalization layers; the layers below it stay frozen."""
    assert arrays["base_trainable"], ("the base is still frozen: set base.trainable = True first (a frozen model "
                                      "keeps all its layers frozen), then freeze the lower layers again")
    base = _mobilenet_v2_layers()
    assert len(arrays["layers_trainable"]) == len(base), "unfreeze_top_layers changed the layers of the base"
    first = [layer.name for layer in base].index(UNFREEZE_CHECK_LAYER)
    for index, (layer, trainable) in enumerate(zip(base, arrays["layers_trainable"])):
        if not layer.weights:
            continue
        if isinstance(layer, layers.BatchNormalization):
            assert not trainable, (
                f"BatchNormalization layer {layer.name} is trainable: keep every BatchNormalization layer frozen "
                "(trainable = False) so that it stays in inference mode")
        elif index < first:
            assert not trainable, (
                f"layer {layer.name}, below {UNFREEZE_CHECK_LAYER}, is trainable: unfreeze only the top layers, from "
                f"{UNFREEZE_CHECK_LAYER} on")
        else:
            assert trainable, f"layer {layer.name}, from {UNFREEZE_CHECK_LAYER} on, is still frozen"


@functools.lru_cache(maxsize=1)
def _mobilenet_v2_layers() -> list:
    """MobileNetV2's layers (without weights loaded: only names, kinds and weight counts are used)."""
    return keras.applications.MobileNetV2(input_shape=(CHECK_IMAGE_SIZE, CHECK_IMAGE_SIZE, 3), include_top=False,
                                          weights=None).layers


def judge_fine_tuned_base(arrays) -> None:
    """The trained model's base: its top layers changed, and nothing else did."""
    first_layer_name = str(arrays["first_layer_name"])
    pretrained = data.load_mobilenet_v2_base(int(arrays["image_size"]))
    names = [layer.name for layer in pretrained.layers]
    assert first_layer_name in names, f"{first_layer_name!r} is not a layer of MobileNetV2"
    weights = unlisted(arrays, "weights")
    assert [w.shape for w in weights] == [tuple(w.shape) for layer in pretrained.layers for w in layer.weights], (
        "the fine-tuned model's base does not have MobileNetV2's weights: fine-tune the base you were given")
    first, position, changed_on_top = names.index(first_layer_name), 0, []
    for index, layer in enumerate(pretrained.layers):
        fine_tuned = weights[position:position + len(layer.weights)]
        position += len(layer.weights)
        same = all(np.array_equal(a, keras.ops.convert_to_numpy(b)) for a, b in zip(fine_tuned, layer.weights))
        if isinstance(layer, layers.BatchNormalization):
            assert same, (
                f"fine-tuning changed BatchNormalization layer {layer.name} (its statistics or scale): keep every "
                "BatchNormalization layer frozen, and compile after changing trainable flags")
        elif index < first:
            assert same, f"fine-tuning changed {layer.name}, below {first_layer_name}: it should have stayed frozen"
        elif layer.weights and not same:
            changed_on_top.append(layer.name)
    assert changed_on_top, (
        f"fine-tuning changed none of the layers from {first_layer_name} on: unfreeze them, then compile (a model "
        "that was fitted before keeps training the weights that were trainable then until compile() is called again)")


def check_fine_tuning_learning_rate(feature_extraction_model, fine_tuned_model) -> None:
    judge_exported("test_fine_tuning_learning_rate", judge_fine_tuning_learning_rate,
                   rates=[float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
                          for model in (feature_extraction_model, fine_tuned_model)])


def judge_fine_tuning_learning_rate(arrays) -> None:
    phase_1, fine_tuning = (float(rate) for rate in arrays["rates"])
    assert fine_tuning <= FINE_TUNING_RATE_FACTOR * phase_1 * (1 + 1e-6), (
        f"fine-tuning used a learning rate of {fine_tuning:g}, phase 1 {phase_1:g}: fine-tune with a much lower rate "
        f"(at most {FINE_TUNING_RATE_FACTOR:g} x phase 1's), or the large updates wreck the pretrained features")


# --- held-out accuracy ---------------------------------------------------------------------------

def check_held_out_accuracy(model) -> None:
    judge_held_out("test_held_out_accuracy", judge_held_out_accuracy, fine_tuned=held_out_classes(model))


def judge_held_out_accuracy(arrays) -> str:
    accuracy = held_out_accuracy(arrays["fine_tuned"], "fine_tuned")
    assert accuracy >= HELD_OUT_ACCURACY_THRESHOLD, (
        f"the fine-tuned model classifies {accuracy:.1%} of the 200 held-out photos correctly; expected at least "
        f"{HELD_OUT_ACCURACY_THRESHOLD:.0%}. Check the phase 1 head and training, and the fine-tuning learning rate")
    return f"the fine-tuned model: {accuracy:.1%} of the 200 held-out photos (needs {HELD_OUT_ACCURACY_THRESHOLD:.0%})"


def check_transfer_beats_scratch(transfer_model, scratch_model) -> None:
    judge_held_out("test_transfer_beats_scratch", judge_transfer_beats_scratch,
                   fine_tuned=held_out_classes(transfer_model), scratch=held_out_classes(scratch_model))


def judge_transfer_beats_scratch(arrays) -> str:
    transfer = held_out_accuracy(arrays["fine_tuned"], "fine_tuned")
    scratch = held_out_accuracy(arrays["scratch"], "scratch")
    assert transfer - scratch >= TRANSFER_ADVANTAGE_THRESHOLD, (
        f"on the held-out photos the transfer model scores {transfer:.1%} and the from-scratch CNN {scratch:.1%}; "
        f"transfer should win by at least {TRANSFER_ADVANTAGE_THRESHOLD * 100:.0f} percentage points")
    return f"held-out photos: transfer {transfer:.1%}, from scratch {scratch:.1%}"


def check_fine_tuning_keeps_accuracy(feature_extraction_model, fine_tuned_model) -> None:
    judge_held_out("test_fine_tuning_keeps_accuracy", judge_fine_tuning_keeps_accuracy,
                   feature_extraction=held_out_classes(feature_extraction_model), fine_tuned=held_out_classes(fine_tuned_model))


def judge_fine_tuning_keeps_accuracy(arrays) -> str:
    before = held_out_accuracy(arrays["feature_extraction"], "feature_extraction")
    after = held_out_accuracy(arrays["fine_tuned"], "fine_tuned")
    assert after >= before - FINE_TUNING_MARGIN, (
        f"fine-tuning lowered held-out accuracy from {before:.1%} to {after:.1%} (allowed: "
        f"{FINE_TUNING_MARGIN * 100:.0f} percentage points): start from phase 1's weights and fine-tune with a much lower learning rate")
    return f"held-out photos: {before:.1%} after feature extraction, {after:.1%} after fine-tuning"
