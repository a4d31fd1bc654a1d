"""Checks for assignment 3, transfer learning with MobileNetV2 on the course's flower photos.

Every model takes images the way the student's ``make_dataset`` delivers them: float32
(None, size, size, 3), MobileNetV2-preprocessed to [-1, 1], and outputs logits (None, classes).
The held-out collectors predict the 200 held-out photos (``data.load_flower_photos("test")``,
whose classes students never get), and the grader's judges measure the predictions.

Which plausible wrong solution would a graded cell still pass? (Each catch is a wrong solution in
tests/notebooks/test_03_transfer_learning.py or tests/checks/test_transfer.py.)
- test_pipeline catches pixels scaled to [0, 1], every split shuffled, photos shuffled apart from
  their labels, augmentation or cropping in the pipeline, channels or sizes wrong and wrong batching.
  Not caught: shuffling before cache(), which fixes one order for every epoch; a pass of a correct
  pipeline over the check's few photos repeats the previous order too often to fail anyone on it.
- test_augmentation catches an augmentation that does nothing, acts at inference, or leaves [-1, 1]
  (brightness or contrast on the 0-255 scale).
- test_compile_model catches a loss on probabilities and an ignored learning rate.
- test_scratch_cnn and test_feature_extraction_model catch a softmax output, no convolution, a
  pretrained base in the "from scratch" CNN, an unfrozen base and BatchNormalization layers left in
  training mode.
- test_fine_tuning_setup catches the whole base unfrozen, trainable BatchNormalization layers, a
  base left frozen and a model not compiled after unfreezing (its top layers do not change).
- test_fine_tuning_learning_rate catches fine-tuning at phase 1's learning rate.
- The three held-out cells measure predictions of the held-out photos.
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .. import data
from ..evidence import collector, compile_arrays, listed, model_arrays, returns_evidence, unlisted
from .common import (
    call, check_close, check_output_shape, compiled_loss_evidence, judge_compiled_loss, optimizer_of, sparse_cross_entropy,
)

ASSIGNMENT = "03_transfer_learning"
NUM_CLASSES = len(data.FLOWER_CLASSES)
CHECK_IMAGE_SIZE = 96  # small inputs keep the structural checks fast; MobileNetV2 takes any size

# Held-out accuracy (200 photos), reference notebook at 160 px, `tools/calibrate.py 03 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-22):
#   fine-tuned:          seed 0: 0.825  seed 1: 0.820  seed 2: 0.855  seed 3: 0.815  seed 4: 0.800
#   feature extraction:  seed 0: 0.820  seed 1: 0.790  seed 2: 0.805  seed 3: 0.780  seed 4: 0.790
#   from scratch:        seed 0: 0.500  seed 1: 0.500  seed 2: 0.525  seed 3: 0.460  seed 4: 0.470
# Low end of the students' ranges (keras 3.8.0, tensorflow-cpu 2.18.0, numpy 2.0.0, pandas 2.2.2,
# matplotlib 3.8.4; student/pyproject.toml), `tools/calibrate.py 03 --seeds 0` (2-core CPU, 2026-12-07):
#   fine-tuned: seed 0: 0.815   feature extraction: seed 0: 0.810   from scratch: seed 0: 0.525
# Threshold: the worst fine-tuned run minus 2 points (4 photos).
HELD_OUT_ACCURACY_THRESHOLD = 0.78
# The brief: transfer must beat the from-scratch CNN by at least 15 points (measured: 32-36).
TRANSFER_ADVANTAGE_THRESHOLD = 0.15
# Fine-tuning minus feature extraction, measured: +0.005 +0.03 +0.05 +0.035 +0.01 (it never lost).
# Allowed loss: 3 points, about one standard error of an accuracy measured on 200 photos.
FINE_TUNING_MARGIN = 0.03
# "Much lower": at most a tenth of phase 1's learning rate, as in the Keras transfer-learning guide.
FINE_TUNING_RATE_FACTOR = 0.1


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


# --- exercise 1: the input pipeline --------------------------------------------------------------

def training_photos(indices) -> tuple[list[str], np.ndarray]:
    """The training photos at ``indices`` (of `data.load_flower_photos("train")`) and their labels."""
    paths, labels = data.load_flower_photos("train")
    return [paths[i] for i in indices], labels[np.asarray(indices)]


_PUBLIC_PHOTOS = np.arange(0, 800, 80)
"""Ten training photos, two of each class, in class order."""
_PUBLIC_CASES = ((64, 3), (96, 4))
"""(image_size, batch_size) of the visible pipeline check."""
# Channel means of the top-left quarter of those photos decoded, resized (bilinear) and preprocessed
# for MobileNetV2, at each public size, computed by the grader's reference pipeline (a test keeps
# them in step). A quarter, not the whole photo, so that a flip or a crop changes them.
_PUBLIC_QUARTER_MEANS = {
    64: [[-0.6328, -0.6315, -0.6374], [0.0754, 0.0438, -0.1319], [-0.3871, -0.4022, -0.8057], [-0.1705, -0.1705, -0.1705],
         [-0.1093, 0.1941, -0.2976], [0.032, -0.0764, -0.2149], [-0.0814, -0.2329, -0.3342], [0.0628, -0.0553, -0.3876],
         [-0.1438, -0.5943, -0.5573], [0.3531, -0.1681, -0.6074]],
    96: [[-0.6307, -0.63, -0.637], [0.0749, 0.0439, -0.1311], [-0.3925, -0.4064, -0.8088], [-0.1701, -0.1701, -0.1701],
         [-0.0855, 0.212, -0.2849], [0.0337, -0.0745, -0.2126], [-0.0815, -0.2337, -0.3493], [0.0736, -0.0403, -0.3701],
         [-0.1472, -0.5949, -0.5591], [0.3569, -0.1627, -0.5997]],
}


def quarter_means(images) -> np.ndarray:
    """The channel means of each image's top-left quarter."""
    half = images.shape[1] // 2
    return images[:, :half, :half].mean(axis=(1, 2))


@returns_evidence
def pipeline_evidence(make_dataset, paths, labels, cases) -> dict:
    """For each (image_size, batch_size) case: one pass in order, a second pass, and a training pass."""
    evidence = {}
    for case, (size, batch_size) in enumerate(cases):
        dataset = call(make_dataset, paths, labels, int(size), batch_size=int(batch_size), training=False)
        assert isinstance(dataset, tf.data.Dataset), f"make_dataset returned {type(dataset).__name__}; expected a tf.data.Dataset"
        batches = list(dataset.as_numpy_iterator())
        assert all(isinstance(batch, tuple) and len(batch) == 2 for batch in batches), (
            "each element of the dataset should be an (images, labels) pair")
        training = list(make_dataset(paths, labels, int(size), batch_size=int(batch_size), training=True).as_numpy_iterator())
        evidence |= {f"batches_{case}": len(batches),
                     f"images_{case}": np.concatenate([batch[0] for batch in batches]),
                     f"labels_{case}": np.concatenate([batch[1] for batch in batches]),
                     f"again_{case}": np.concatenate([batch[0] for batch in dataset.as_numpy_iterator()]),
                     f"training_images_{case}": np.concatenate([batch[0] for batch in training]),
                     f"training_labels_{case}": np.concatenate([batch[1] for batch in training])}
    return evidence


def judge_pipeline(labels, cases, evidence, expected) -> None:
    """``expected`` holds, per case, the photos decoded -> resized -> preprocessed (``images_<case>``)
    or the channel means of their top-left quarter (``means_<case>``)."""
    for case, (size, batch_size) in enumerate(cases):
        size, batch_size, images = int(size), int(batch_size), evidence[f"images_{case}"]
        assert evidence[f"batches_{case}"] == -(-len(labels) // batch_size), (
            f"{len(labels)} photos in batches of {batch_size} gave {int(evidence[f'batches_{case}'])} batches; expected "
            f"{-(-len(labels) // batch_size)}: batch the dataset with batch_size (after map and cache)")
        assert images.shape == (len(labels), size, size, 3), (
            f"images have shape {images.shape}; expected {(len(labels), size, size, 3)}: "
            "decode with channels=3 and resize to (image_size, image_size)")
        assert images.dtype == np.float32, f"images are {images.dtype}; expected float32"
        low, high = float(images.min()), float(images.max())
        assert low < -0.5 and -1.001 <= low and high <= 1.001, (
            f"pixel values run from {low:.3g} to {high:.3g}; MobileNetV2 expects [-1, 1]: apply "
            "keras.applications.mobilenet_v2.preprocess_input to the 0-255 pixels (it computes x / 127.5 - 1)")
        assert np.array_equal(evidence[f"labels_{case}"], labels), (
            "the labels do not match the photos in order: shuffle only when training=True")
        if f"images_{case}" in expected:
            difference = float(np.mean(np.abs(images - expected[f"images_{case}"])))
        else:  # public cases
            difference = float(np.max(np.abs(quarter_means(images) - expected[f"means_{case}"])))
        assert difference < 0.02, (
            f"images differ from decode -> resize -> preprocess_input by {difference:.3f} on average: resize the "
            "whole photo (no crop), keep RGB order, and leave augmentation to the model")
        assert np.array_equal(evidence[f"again_{case}"], images), (
            "two passes over make_dataset(..., training=False) give different images: randomness "
            "(augmentation, shuffling) belongs to training only")
        judge_training_pass(images, labels, evidence[f"training_images_{case}"], evidence[f"training_labels_{case}"])


def judge_training_pass(images, labels, training_images, training_labels) -> None:
    """The training pass holds every photo once, each with its own label."""
    assert training_images.shape == images.shape and sorted(training_labels) == sorted(labels), (
        "make_dataset(..., training=True) does not yield every photo exactly once per pass")
    distances = np.abs(training_images.reshape(len(images), 1, -1) - images.reshape(1, len(images), -1)).mean(axis=2)
    matched = distances.argmin(axis=1)
    assert sorted(matched) == list(range(len(images))) and np.array_equal(training_labels, labels[matched]), (
        "with training=True the photos and the labels are shuffled apart: each photo no longer comes with its own "
        "label. Shuffle the dataset of (photo, label) pairs, never the paths and labels separately")


def check_pipeline(make_dataset) -> None:
    """Ten training photos at 64 px in batches of 3, and at 96 px in batches of 4."""
    paths, labels = training_photos(_PUBLIC_PHOTOS)
    evidence = pipeline_evidence(make_dataset, paths, labels, _PUBLIC_CASES)
    judge_pipeline(labels, _PUBLIC_CASES, evidence,
                   {f"means_{case}": np.array(_PUBLIC_QUARTER_MEANS[size]) for case, (size, _) in enumerate(_PUBLIC_CASES)})


def pipeline_cases(inputs) -> list:
    return list(zip(inputs["sizes"].tolist(), inputs["batch_sizes"].tolist()))


@collector
def hand_in_pipeline(inputs, make_dataset) -> dict:
    paths, labels = training_photos(inputs["photos"])
    return pipeline_evidence(make_dataset, paths, labels, pipeline_cases(inputs))


# --- exercise 2: augmentation --------------------------------------------------------------------

@returns_evidence
def augmentation_evidence(augmentation, images) -> dict:
    return {"at_inference": keras.ops.convert_to_numpy(call(augmentation, images, training=False)),
            "augmented": keras.ops.convert_to_numpy(augmentation(images, training=True))}


def judge_augmentation(images, evidence) -> None:
    augmented = evidence["augmented"]
    check_close(evidence["at_inference"], images, "the augmentation's output at inference (training=False)", atol=1e-5)
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


def check_augmentation(augmentation, images) -> None:
    """On a batch of the notebook's own preprocessed photos."""
    images = np.asarray(images, np.float32)
    judge_augmentation(images, augmentation_evidence(augmentation, images))


@collector
def hand_in_augmentation(inputs, augmentation) -> dict:
    return augmentation_evidence(augmentation, inputs["images"])


# --- exercise 3: compiling, and the CNN from scratch ---------------------------------------------

_PUBLIC_COMPILE_CASE = {"weights": np.arange(15, dtype=np.float32).reshape(3, 5) / 10, "bias": np.zeros(5, np.float32),
                        "inputs": np.array([[1.0, -1.0, 0.5], [0.2, 0.3, -0.4]], np.float32), "labels": np.array([4, 0]),
                        "learning_rate": 0.0123}


def compiled_model(compile_model, case):
    """A Dense model with the case's weights, compiled by compile_model."""
    weights = np.asarray(case["weights"], np.float32)
    model = keras.Sequential([keras.Input((weights.shape[0],)), layers.Dense(weights.shape[1])])
    model.set_weights([weights, np.asarray(case["bias"], np.float32)])
    result = call(compile_model, model, float(case["learning_rate"]))
    assert result is None or result is model, "compile_model should compile the model it is given"
    assert getattr(model, "optimizer", None) is not None, "compile_model did not compile the model: call model.compile(...)"
    return model


def judge_compile_model(case, evidence) -> None:
    """``evidence``: the compiled model's optimizer class and learning rate, and `compiled_loss_evidence`
    on the case (in a hidden test, all read by the grader from the exported compile config)."""
    learning_rate, asked = float(evidence["learning_rate"]), float(case["learning_rate"])
    assert str(evidence["optimizer"]) == "Adam", (
        f"compile_model compiled the model with {evidence['optimizer']}: compile it with keras.optimizers.Adam")
    assert np.isclose(learning_rate, asked), (
        f"compile_model(model, {asked:g}) set a learning rate of {learning_rate:g}; use the learning_rate argument")
    judge_compiled_loss(evidence, sparse_cross_entropy(case_logits(case), case["labels"]),
                        "the compiled loss on logits (hint: SparseCategoricalCrossentropy(from_logits=True))")


def case_logits(case) -> np.ndarray:
    """What the case's Dense model outputs for its inputs."""
    return np.asarray(case["inputs"], np.float64) @ np.asarray(case["weights"], np.float64) + np.asarray(case["bias"])


def check_compile_model(compile_model) -> None:
    case = _PUBLIC_COMPILE_CASE
    model = compiled_model(compile_model, case)
    optimizer, learning_rate = optimizer_of(model)
    judge_compile_model(case, {"optimizer": optimizer, "learning_rate": learning_rate,
                               **compiled_loss_evidence(model, np.asarray(case["inputs"], np.float32), case["labels"])})


@collector
def hand_in_compile_model(inputs, compile_model) -> dict:
    """The compiled model exported: the grader reads how it was compiled and computes the loss itself."""
    return model_arrays(compiled_model(compile_model, inputs), "model")


def outputs_at_inference(model, images) -> dict:
    """The model's outputs for ``images``, twice, at inference."""
    return {name: keras.ops.convert_to_numpy(model(images, training=False)) for name in ("first", "second")}


def judge_outputs_at_inference(evidence, num_classes: int, what: str) -> None:
    assert evidence["first"].shape[1:] == (num_classes,), (
        f"{what} built for {num_classes} classes outputs shape {evidence['first'].shape[1:]} per photo; "
        f"expected ({num_classes},): end with Dense(num_classes)")
    assert np.allclose(evidence["first"], evidence["second"], atol=1e-5), (
        f"{what} gives different outputs for the same photos at inference (training=False): augmentation and "
        "dropout must act only in training; do not force training=True when calling a layer")
    outputs = evidence["first"]
    probabilities_like = np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1, atol=1e-3)
    assert not probabilities_like, (
        f"{what} outputs rows that sum to 1 (a softmax); compile_model's loss expects logits: "
        "leave the last Dense layer without an activation")


def scratch_cnn_structure(model, image_size: int, num_classes: int, images) -> dict:
    """What judge_scratch_cnn checks of the model build_scratch_cnn built (in a hidden test, the
    grader's rebuilt copy): its shapes, its outputs at inference and its layers."""
    check_output_shape(model, (None, num_classes), "the from-scratch CNN")
    assert model.input_shape == (None, image_size, image_size, 3), (
        f"build_scratch_cnn({image_size}, {num_classes}) takes inputs {model.input_shape}; expected "
        f"(None, {image_size}, {image_size}, 3)")
    return {**outputs_at_inference(model, images),
            "convolutions": sum(isinstance(layer, layers.Conv2D) for layer in _all_layers(model)),
            "pretrained": any(isinstance(layer, keras.Model) and layer.name.startswith("mobilenetv2")
                              for layer in _all_layers(model))}


def judge_scratch_cnn(num_classes: int, evidence) -> None:
    assert int(evidence["convolutions"]) > 0, "the CNN has no Conv2D layer"
    assert not bool(evidence["pretrained"]), "the from-scratch CNN contains MobileNetV2: it should learn from the photos alone"
    judge_outputs_at_inference(evidence, num_classes, "the from-scratch CNN")


def _public_images(image_size: int, count: int = 4) -> np.ndarray:
    """Smooth random images in [-1, 1] (the checks' public stand-ins for photos)."""
    rng = np.random.default_rng(11)
    coarse = rng.uniform(-1, 1, size=(count, 8, 8, 3)).astype(np.float32)
    return np.clip(tf.image.resize(coarse, (image_size, image_size)).numpy(), -1, 1)


def check_scratch_cnn(build_scratch_cnn) -> None:
    model = call(build_scratch_cnn, CHECK_IMAGE_SIZE, NUM_CLASSES)
    judge_scratch_cnn(NUM_CLASSES, scratch_cnn_structure(model, CHECK_IMAGE_SIZE, NUM_CLASSES, _public_images(CHECK_IMAGE_SIZE)))


@collector
def hand_in_scratch_cnn(inputs, build_scratch_cnn) -> dict:
    """The model exported, for the grader to rebuild and measure on photos the kernel never sees."""
    return model_arrays(call(build_scratch_cnn, int(inputs["image_size"]), int(inputs["num_classes"])), "model")


# --- exercise 4: feature extraction --------------------------------------------------------------

def built_transfer_model(build_transfer_model, num_classes: int):
    """build_transfer_model's model on a fresh pretrained base, checked to use that base."""
    base = data.load_mobilenet_v2_base(CHECK_IMAGE_SIZE)
    model = call(build_transfer_model, base, num_classes)
    assert _base_of(model) is base, "the model should use the `base` it was given, not build another"
    return model


def feature_extraction_structure(model, num_classes: int, images) -> dict:
    """What judge_feature_extraction_model checks of a transfer model (in a hidden test, the
    grader's rebuilt copy): its outputs at inference, what trains, and whether training moves the
    BatchNormalization statistics."""
    check_output_shape(model, (None, num_classes), "the transfer model")
    base = _base_of(model)
    base_weights = {id(weight) for weight in base.weights}
    head = [weight for weight in model.trainable_weights if id(weight) not in base_weights]
    return {**outputs_at_inference(model, images), "base_trainable": base.trainable, "head_weights": len(head),
            "trainable_weights": len(model.trainable_weights),
            "batch_norms_changed": batch_norms_changed_by_training(model, images)}


def judge_feature_extraction_model(num_classes: int, evidence) -> None:
    assert not bool(evidence["base_trainable"]), (
        "the base is trainable: in phase 1 only the new head learns; set base.trainable = False")
    head, trainable = int(evidence["head_weights"]), int(evidence["trainable_weights"])
    assert head and head == trainable, (
        f"{trainable - head} of the base's weights are trainable and the head has {head}: freeze the whole base "
        "and give the model a new Dense head")
    changed = [str(name) for name in evidence["batch_norms_changed"]]
    assert not changed, (
        f"a training step updated the statistics of {len(changed)} BatchNormalization layers ({changed[0]}, ...): "
        "keep them in inference mode with layer.trainable = False (in Keras 3 fit() runs a trainable "
        "BatchNormalization layer in training mode even when the base was called with training=False)")
    judge_outputs_at_inference(evidence, num_classes, "the transfer model")


def batch_norms_changed_by_training(model, images) -> list[str]:
    """The BatchNormalization layers whose moving statistics a training-mode call changes (then restored)."""
    norms = [layer for layer in _all_layers(model) if isinstance(layer, layers.BatchNormalization)]
    saved = [[keras.ops.convert_to_numpy(v) for v in (norm.moving_mean, norm.moving_variance)] for norm in norms]
    model(images, training=True)
    changed = []
    for norm, (mean, variance) in zip(norms, saved):
        if not np.array_equal(keras.ops.convert_to_numpy(norm.moving_mean), mean):
            changed.append(norm.name)
        norm.moving_mean.assign(mean)
        norm.moving_variance.assign(variance)
    return changed


def check_feature_extraction_model(build_transfer_model) -> None:
    model = built_transfer_model(build_transfer_model, NUM_CLASSES)
    judge_feature_extraction_model(NUM_CLASSES, feature_extraction_structure(model, NUM_CLASSES, _public_images(CHECK_IMAGE_SIZE)))


@collector
def hand_in_feature_extraction_model(inputs, build_transfer_model) -> dict:
    """The model exported (the pretrained base's weights included), for the grader to rebuild."""
    return model_arrays(built_transfer_model(build_transfer_model, int(inputs["num_classes"])), "model")


# --- exercise 5: fine-tuning ---------------------------------------------------------------------

_PUBLIC_UNFREEZE_LAYER = "block_13_expand"


@returns_evidence
def fine_tuning_evidence(unfreeze_top_layers, first_layer_name: str, fine_tuned_model, notebook_first_layer: str) -> dict:
    """`unfreeze_top_layers` on a fresh base, and the weights of the trained model's base."""
    base = data.load_mobilenet_v2_base(CHECK_IMAGE_SIZE)
    base.trainable = False
    call(unfreeze_top_layers, base, first_layer_name)
    fine_tuned_base = _base_of(fine_tuned_model)
    return {"base_trainable": base.trainable, "layers_trainable": [layer.trainable for layer in base.layers],
            "first_layer_name": notebook_first_layer, "image_size": fine_tuned_base.input_shape[1],
            **listed("weights", (keras.ops.convert_to_numpy(weight) for layer in fine_tuned_base.layers
                                 for weight in layer.weights))}


def judge_unfrozen(first_layer_name: str, evidence) -> None:
    """After unfreeze_top_layers(base, first_layer_name): the layers from it on train, except
    BatchNormalization layers; the layers below it stay frozen."""
    assert evidence["base_trainable"], ("the base is still frozen: set base.trainable = True first (a frozen model "
                                        "keeps all its layers frozen), then freeze the lower layers again")
    base = _mobilenet_v2_layers()
    assert len(evidence["layers_trainable"]) == len(base), "unfreeze_top_layers changed the layers of the base"
    first = [layer.name for layer in base].index(first_layer_name)
    for index, (layer, trainable) in enumerate(zip(base, evidence["layers_trainable"])):
        if not layer.weights:
            continue
        if isinstance(layer, layers.BatchNormalization):
            assert not trainable, (
                f"BatchNormalization layer {layer.name} is trainable: keep every BatchNormalization layer frozen "
                "(trainable = False) so that it stays in inference mode")
        elif index < first:
            assert not trainable, (
                f"layer {layer.name}, below {first_layer_name}, is trainable: unfreeze only the top layers, from "
                f"{first_layer_name} on")
        else:
            assert trainable, f"layer {layer.name}, from {first_layer_name} on, is still frozen"


@functools.lru_cache(maxsize=1)
def _mobilenet_v2_layers() -> list:
    """MobileNetV2's layers (without weights loaded: only names, kinds and weight counts are used)."""
    return keras.applications.MobileNetV2(input_shape=(CHECK_IMAGE_SIZE, CHECK_IMAGE_SIZE, 3), include_top=False,
                                          weights=None).layers


def judge_fine_tuned_base(evidence) -> None:
    """The trained model's base against the pretrained MobileNetV2: its top layers changed, and
    nothing else did."""
    first_layer_name = str(evidence["first_layer_name"])
    pretrained = data.load_mobilenet_v2_base(int(evidence["image_size"]))
    names = [layer.name for layer in pretrained.layers]
    assert first_layer_name in names, f"{first_layer_name!r} is not a layer of MobileNetV2"
    weights = unlisted(evidence, "weights")
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


def judge_fine_tuning(first_layer_name: str, evidence) -> None:
    judge_unfrozen(first_layer_name, evidence)
    judge_fine_tuned_base(evidence)


def check_fine_tuning(unfreeze_top_layers, fine_tuned_model, first_layer_name: str) -> None:
    evidence = fine_tuning_evidence(unfreeze_top_layers, _PUBLIC_UNFREEZE_LAYER, fine_tuned_model, first_layer_name)
    judge_fine_tuning(_PUBLIC_UNFREEZE_LAYER, evidence)


@collector
def hand_in_fine_tuning(inputs, unfreeze_top_layers, fine_tuned_model, first_layer_name: str) -> dict:
    return fine_tuning_evidence(unfreeze_top_layers, str(inputs["first_layer_name"]), fine_tuned_model, first_layer_name)


def judge_fine_tuning_learning_rate(rates) -> None:
    """``rates``: the learning rates the feature-extraction and the fine-tuned models were compiled
    with (in a hidden test, read by the grader from their exported compile configs)."""
    phase_1, fine_tuning = (float(rate) for rate in rates)
    assert fine_tuning <= FINE_TUNING_RATE_FACTOR * phase_1 * (1 + 1e-6), (
        f"fine-tuning used a learning rate of {fine_tuning:g}, phase 1 {phase_1:g}: fine-tune with a much lower rate "
        f"(at most {FINE_TUNING_RATE_FACTOR:g} x phase 1's), or the large updates wreck the pretrained features")


def check_fine_tuning_learning_rate(feature_extraction_model, fine_tuned_model) -> None:
    judge_fine_tuning_learning_rate([optimizer_of(model)[1] for model in (feature_extraction_model, fine_tuned_model)])


@collector
def hand_in_fine_tuning_learning_rate(inputs, feature_extraction_model, fine_tuned_model) -> dict:
    return compile_arrays(feature_extraction_model, "feature_extraction") | compile_arrays(fine_tuned_model, "fine_tuned")


# --- the models on the held-out photos -----------------------------------------------------------

@functools.lru_cache(maxsize=2)
def held_out_photos(image_size: int) -> np.ndarray:
    """The held-out photos decoded, resized and preprocessed for MobileNetV2."""
    images = [tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), (image_size, image_size))
              for path in data.load_flower_photos("test")[0]]
    return keras.applications.mobilenet_v2.preprocess_input(np.stack(images)).astype(np.float32)


def held_out_classes(model, order) -> np.ndarray:
    """``model``'s predicted class of each held-out photo, in the ``order`` the grader drew for this run."""
    photos = held_out_photos(model.input_shape[1])[np.asarray(order)]
    return np.argmax(model.predict(photos, batch_size=50, verbose=0), axis=1)


def judge_held_out_accuracy(accuracy: float, where: str) -> str:
    assert accuracy >= HELD_OUT_ACCURACY_THRESHOLD, (
        f"the fine-tuned model classifies {accuracy:.1%} of {where} correctly; expected at least "
        f"{HELD_OUT_ACCURACY_THRESHOLD:.0%}. Check the phase 1 head and training, and the fine-tuning learning rate")
    return f"the fine-tuned model: {accuracy:.1%} of {where} (needs {HELD_OUT_ACCURACY_THRESHOLD:.0%})"


def judge_transfer_beats_scratch(transfer: float, scratch: float, where: str) -> str:
    assert transfer - scratch >= TRANSFER_ADVANTAGE_THRESHOLD, (
        f"on {where} the transfer model scores {transfer:.1%} and the from-scratch CNN {scratch:.1%}; "
        f"transfer should win by at least {TRANSFER_ADVANTAGE_THRESHOLD * 100:.0f} percentage points")
    return f"{where}: transfer {transfer:.1%}, from scratch {scratch:.1%}"


def judge_fine_tuning_keeps_accuracy(before: float, after: float, where: str) -> str:
    assert after >= before - FINE_TUNING_MARGIN, (
        f"fine-tuning lowered the accuracy on {where} from {before:.1%} to {after:.1%} (allowed: "
        f"{FINE_TUNING_MARGIN * 100:.0f} percentage points): start from phase 1's weights and fine-tune with a much lower learning rate")
    return f"{where}: {before:.1%} after feature extraction, {after:.1%} after fine-tuning"


@collector
def hand_in_held_out_accuracy(inputs, fine_tuned_model) -> dict:
    return {"fine_tuned": held_out_classes(fine_tuned_model, inputs["order"])}


@collector
def hand_in_transfer_beats_scratch(inputs, fine_tuned_model, scratch_model) -> dict:
    return {"fine_tuned": held_out_classes(fine_tuned_model, inputs["order"]),
            "scratch": held_out_classes(scratch_model, inputs["order"])}


@collector
def hand_in_fine_tuning_keeps_accuracy(inputs, feature_extraction_model, fine_tuned_model) -> dict:
    return {"feature_extraction": held_out_classes(feature_extraction_model, inputs["order"]),
            "fine_tuned": held_out_classes(fine_tuned_model, inputs["order"])}

