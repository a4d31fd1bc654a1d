"""Judges of assignment 3 (transfer learning on the flower photos): the hidden inputs, the
reference photo pipeline and the classes of the held-out photos."""

import keras
import numpy as np
import tensorflow as tf

from coursekit.checks import transfer as checks
from coursekit.checks.common import accuracy_of

from .. import data
from ..models import compiled_with, learning_rate, loss_evidence, optimizer_name, rebuilt
from .registry import held_out_order, judge, record

ASSIGNMENT = checks.ASSIGNMENT


def preprocess_photos(paths, image_size: int) -> np.ndarray:
    """The reference pipeline: decode -> resize (bilinear) -> MobileNetV2's [-1, 1] scaling. (The
    students' package preprocesses only the held-out photos: a general copy there would be an
    answer to make_dataset.)"""
    images = [tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), (image_size, image_size))
              for path in paths]
    return keras.applications.mobilenet_v2.preprocess_input(np.stack(images)).astype(np.float32)


def _training_photo_indices(rng, count: int) -> np.ndarray:
    return np.sort(rng.choice(len(data.load_flower_photos("train")[0]), count, replace=False))


def pipeline_inputs(rng) -> dict:
    """7-13 training photos of mixed classes, at two sizes and batch sizes."""
    return {"photos": _training_photo_indices(rng, int(rng.integers(7, 14))),
            "sizes": rng.choice([48, 64, 96, 128], 2, replace=False), "batch_sizes": rng.integers(2, 6, 2)}


@judge("test_pipeline", checks.hand_in_pipeline, draw=pipeline_inputs)
def judge_pipeline(inputs, evidence) -> None:
    paths, labels = checks.training_photos(inputs["photos"])
    cases = checks.pipeline_cases(inputs)
    expected = {f"images_{case}": preprocess_photos(paths, int(size)) for case, (size, _) in enumerate(cases)}
    checks.judge_pipeline(labels, cases, evidence, expected)


def augmentation_inputs(rng) -> dict:
    paths, _ = checks.training_photos(_training_photo_indices(rng, 4))
    return {"images": preprocess_photos(paths, checks.CHECK_IMAGE_SIZE)}


@judge("test_augmentation", checks.hand_in_augmentation, draw=augmentation_inputs)
def judge_augmentation(inputs, evidence) -> None:
    checks.judge_augmentation(inputs["images"], evidence)


def compile_inputs(rng) -> dict:
    features, classes, rows = int(rng.integers(2, 6)), int(rng.integers(3, 8)), int(rng.integers(2, 9))
    return {"weights": rng.normal(size=(features, classes)).astype(np.float32),
            "bias": rng.normal(size=classes).astype(np.float32), "inputs": rng.normal(size=(rows, features)).astype(np.float32),
            "labels": rng.integers(0, classes, rows), "learning_rate": 10 ** rng.uniform(-4, -1)}


@judge("test_compile_model", checks.hand_in_compile_model, draw=compile_inputs)
def judge_compile_model(inputs, evidence) -> None:
    compiled = compiled_with(evidence, "model")
    checks.judge_compile_model(inputs, {"optimizer": optimizer_name(compiled), "learning_rate": learning_rate(compiled),
                                        **loss_evidence(compiled, "model", inputs["labels"], checks.case_logits(inputs))})


def model_inputs(rng) -> dict:
    """Another number of classes, and four photos as the model sees them."""
    paths, _ = checks.training_photos(_training_photo_indices(rng, 4))
    return {"num_classes": rng.integers(3, 9), "image_size": checks.CHECK_IMAGE_SIZE,
            "images": preprocess_photos(paths, checks.CHECK_IMAGE_SIZE)}


MODEL_LAYERS = {"Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "ZeroPadding2D", "Add", "MaxPooling2D",
                "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dropout", "Dense",
                "Activation", "Identity", "Rescaling", "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast",
                "RandomTranslation", "RandomBrightness"}
"""What the grader rebuilds of the notebook's CNNs: MobileNetV2's layers, the usual CNN and head
layers, and Keras' augmentation layers."""


@judge("test_scratch_cnn", checks.hand_in_scratch_cnn, draw=model_inputs)
def judge_scratch_cnn(inputs, evidence) -> None:
    num_classes = int(inputs["num_classes"])
    checks.judge_scratch_cnn(num_classes, checks.scratch_cnn_structure(
        rebuilt(evidence, "model", MODEL_LAYERS), int(inputs["image_size"]), num_classes, inputs["images"]))


@judge("test_feature_extraction_model", checks.hand_in_feature_extraction_model, draw=model_inputs)
def judge_feature_extraction_model(inputs, evidence) -> None:
    num_classes = int(inputs["num_classes"])
    checks.judge_feature_extraction_model(num_classes, checks.feature_extraction_structure(
        rebuilt(evidence, "model", MODEL_LAYERS), num_classes, inputs["images"]))


def unfreeze_inputs(rng) -> dict:
    return {"first_layer_name": f"block_{int(rng.integers(4, 16))}_expand"}


@judge("test_fine_tuning_setup", checks.hand_in_fine_tuning, draw=unfreeze_inputs)
def judge_fine_tuning(inputs, evidence) -> None:
    checks.judge_fine_tuning(str(inputs["first_layer_name"]), evidence)


@judge("test_fine_tuning_learning_rate", checks.hand_in_fine_tuning_learning_rate)
def judge_fine_tuning_learning_rate(inputs, evidence) -> None:
    checks.judge_fine_tuning_learning_rate([learning_rate(compiled_with(evidence, name))
                                            for name in ("feature_extraction", "fine_tuned")])


# --- the models on the held-out photos -----------------------------------------------------------

HELD_OUT = "the 200 held-out photos"
HELD_OUT_STEP = 0.025
"""Accuracies on them are shown to the nearest 2.5 points, five photos (`Rounded`)."""


def held_out_accuracy(inputs, evidence, name: str) -> float:
    """Accuracy of the predicted classes ``name`` of the held-out photos, in the run's order (needs their labels)."""
    labels = data.load_flower_photos("test")[1][inputs["order"]]
    return record(f"held_out_accuracy/{name}", accuracy_of(evidence[name], labels), HELD_OUT_STEP)


held_out_photo_order = held_out_order(lambda: len(data.load_flower_photos("test")[1]))


@judge("test_held_out_accuracy", checks.hand_in_held_out_accuracy, draw=held_out_photo_order)
def judge_held_out_accuracy(inputs, evidence) -> str:
    return checks.judge_held_out_accuracy(held_out_accuracy(inputs, evidence, "fine_tuned"), HELD_OUT)


@judge("test_transfer_beats_scratch", checks.hand_in_transfer_beats_scratch, draw=held_out_photo_order)
def judge_transfer_beats_scratch(inputs, evidence) -> str:
    return checks.judge_transfer_beats_scratch(held_out_accuracy(inputs, evidence, "fine_tuned"),
                                               held_out_accuracy(inputs, evidence, "scratch"), HELD_OUT)


@judge("test_fine_tuning_keeps_accuracy", checks.hand_in_fine_tuning_keeps_accuracy, draw=held_out_photo_order)
def judge_fine_tuning_keeps_accuracy(inputs, evidence) -> str:
    return checks.judge_fine_tuning_keeps_accuracy(held_out_accuracy(inputs, evidence, "feature_extraction"),
                                                   held_out_accuracy(inputs, evidence, "fine_tuned"), HELD_OUT)
