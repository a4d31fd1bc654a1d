"""Assignment 3's checks: each accepts a correct object and names the likely mistake otherwise.

They read the real flower photos and MobileNetV2 weights of the course data folder (`make setup`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from autograder import data
from autograder.checks import MEASUREMENTS
from autograder.checks import transfer as checks


def make_dataset(paths, labels, image_size, batch_size=32, training=False, scale=None, augment=None):
    """A correct pipeline; `scale` and `augment` inject the mistakes below."""
    def load(path, label):
        image = tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(path), channels=3), (image_size, image_size))
        image = scale(image) if scale else keras.applications.mobilenet_v2.preprocess_input(image)
        return (augment(image) if augment else image), label

    dataset = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels))).map(load)
    if training:
        dataset = dataset.shuffle(len(paths))
    return dataset.batch(batch_size)


def augmentation(*extra):
    return keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), *extra])


def compile_model(model, learning_rate, from_logits=True):
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits), metrics=["accuracy"])


def build_transfer_model(base, num_classes, freeze=True):
    base.trainable = not freeze
    inputs = keras.Input(base.input_shape[1:])
    x = augmentation()(inputs)
    x = layers.GlobalAveragePooling2D()(base(x, training=False))
    return keras.Model(inputs, layers.Dense(num_classes)(layers.Dropout(0.2)(x)))


def unfreeze_top_layers(base, first_layer_name, keep_batch_norm_frozen=True, unfreeze_all=False):
    base.trainable = True
    first = 0 if unfreeze_all else [layer.name for layer in base.layers].index(first_layer_name)
    for index, layer in enumerate(base.layers):
        frozen_norm = keep_batch_norm_frozen and isinstance(layer, layers.BatchNormalization)
        layer.trainable = index >= first and not frozen_norm


# --- pipeline and augmentation ---------------------------------------------------------------------

def test_a_correct_pipeline_passes():
    checks.check_pipeline(make_dataset, 64)


def test_pixels_scaled_to_zero_one_are_told_about_mobilenet_preprocessing():
    with pytest.raises(AssertionError, match=r"^pixel values run from 0 to 1; MobileNetV2 expects \[-1, 1\]"):
        checks.check_pipeline(lambda *a, **k: make_dataset(*a, **k, scale=lambda x: x / 255), 64)


def test_augmentation_in_the_pipeline_is_caught_at_inference():
    flip = lambda image: tf.image.random_flip_left_right(image)  # noqa: E731
    with pytest.raises(AssertionError, match="images differ from decode -> resize -> preprocess_input|two passes"):
        checks.check_pipeline(lambda *a, **k: make_dataset(*a, **k, augment=flip), 64)


def test_a_pipeline_that_always_shuffles_is_told_to_keep_the_order():
    with pytest.raises(AssertionError, match="shuffle only when training=True|two passes"):
        checks.check_pipeline(lambda paths, labels, size, batch_size, training: make_dataset(
            paths, labels, size, batch_size, training=True), 64)


def test_a_correct_augmentation_passes():
    checks.check_augmentation(augmentation())


def test_an_augmentation_that_does_nothing_is_named():
    with pytest.raises(AssertionError, match="augmentation left the images unchanged in training"):
        checks.check_augmentation(keras.Sequential([layers.Identity()]))


def test_contrast_that_assumes_0_to_255_pixels_is_named():
    with pytest.raises(AssertionError, match=r"pass value_range=\(-1, 1\)"):
        checks.check_augmentation(augmentation(layers.RandomBrightness(0.5)))


def test_augmentation_that_ignores_training_is_named():
    random_flip = layers.Lambda(lambda images: tf.image.random_flip_left_right(images, seed=1))
    with pytest.raises(AssertionError, match=r"^the augmentation's output at inference \(training=False\) is"):
        checks.check_augmentation(keras.Sequential([random_flip]))


def test_a_model_that_is_random_at_inference_is_named():
    def build(size, n):
        inputs = keras.Input((size, size, 3))
        noise = layers.Lambda(lambda images: images + tf.random.normal(tf.shape(images), stddev=0.1))
        x = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3)(noise(inputs)))
        return keras.Model(inputs, layers.Dense(n)(x))
    with pytest.raises(AssertionError, match="^the from-scratch CNN gives different outputs for the same photos at inference"):
        checks.check_scratch_cnn(build)


# --- models ------------------------------------------------------------------------------------

def test_a_correct_compile_model_passes():
    checks.check_compile_model(compile_model)


def test_a_loss_on_probabilities_is_told_to_use_logits():
    with pytest.raises(AssertionError, match=r"^the compiled loss on logits \(hint: SparseCategoricalCrossentropy\(from_logits=True\)\) is"):
        checks.check_compile_model(lambda model, rate: compile_model(model, rate, from_logits=False))


def test_a_correct_feature_extraction_model_passes():
    checks.check_feature_extraction_model(build_transfer_model)


def test_an_unfrozen_base_in_phase_1_is_named():
    with pytest.raises(AssertionError, match="^the base is trainable: in phase 1 only the new head learns"):
        checks.check_feature_extraction_model(lambda base, n: build_transfer_model(base, n, freeze=False))


def test_a_scratch_cnn_with_a_softmax_is_told_to_output_logits():
    def build(size, n):
        inputs = keras.Input((size, size, 3))
        x = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3)(inputs))
        return keras.Model(inputs, layers.Dense(n, activation="softmax")(x))
    with pytest.raises(AssertionError, match="^the from-scratch CNN outputs rows that sum to 1 \\(a softmax\\)"):
        checks.check_scratch_cnn(build)


def test_trainable_batch_norm_is_caught_by_a_training_call():
    base = data.load_mobilenet_v2_base(checks.CHECK_IMAGE_SIZE)
    model = build_transfer_model(base, 5, freeze=False)
    before = base.get_layer("bn_Conv1").moving_mean.numpy()
    with pytest.raises(AssertionError, match="^a training step updated the statistics of 52 BatchNormalization layers"):
        checks.check_batch_norm_in_inference_mode(model)
    assert np.array_equal(base.get_layer("bn_Conv1").moving_mean.numpy(), before), "the check restores the statistics"


# --- fine-tuning -------------------------------------------------------------------------------

def fine_tuned_model(change_top=True):
    """A transfer model whose base's top layer moved, as fine-tuning moves it (or, unchanged, as if never fine-tuned)."""
    base = data.load_mobilenet_v2_base(checks.CHECK_IMAGE_SIZE)
    model = build_transfer_model(base, 5)
    if change_top:
        kernel = base.get_layer("block_16_project").kernel
        kernel.assign(kernel + 0.01)
    return model


def test_a_correct_fine_tuning_passes():
    checks.check_fine_tuning(unfreeze_top_layers, fine_tuned_model(), "block_13_expand")


@pytest.mark.parametrize("mistake, message", [
    ({"keep_batch_norm_frozen": False}, "^BatchNormalization layer block_13_expand_BN is trainable"),
    ({"unfreeze_all": True}, "^layer Conv1, below block_13_expand, is trainable: unfreeze only the top layers"),
])
def test_unfreezing_mistakes_are_named(mistake, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_fine_tuning(lambda base, name: unfreeze_top_layers(base, name, **mistake), fine_tuned_model(),
                                 "block_13_expand")


def test_a_fine_tuned_base_that_never_changed_is_told_to_unfreeze_and_compile():
    with pytest.raises(AssertionError, match="^fine-tuning changed none of the layers from block_13_expand on: unfreeze them, then compile"):
        checks.check_fine_tuning(unfreeze_top_layers, fine_tuned_model(change_top=False), "block_13_expand")


def test_a_fine_tuned_base_changed_below_the_unfrozen_layers_is_named():
    model = fine_tuned_model()
    kernel = model.get_layer("mobilenetv2_1.00_96").get_layer("Conv1").kernel
    kernel.assign(kernel * 1.01)
    with pytest.raises(AssertionError, match="^fine-tuning changed Conv1, below block_13_expand: it should have stayed frozen"):
        checks.check_fine_tuning(unfreeze_top_layers, model, "block_13_expand")


def test_a_fine_tuning_rate_like_phase_1_is_named():
    models = [build_transfer_model(data.load_mobilenet_v2_base(checks.CHECK_IMAGE_SIZE), 5) for _ in range(2)]
    for model, rate in zip(models, (1e-3, 1e-3)):
        compile_model(model, rate)
    with pytest.raises(AssertionError, match="^fine-tuning used a learning rate of 0.001, phase 1 0.001"):
        checks.check_fine_tuning_learning_rate(*models)
    compile_model(models[1], 1e-4)
    checks.check_fine_tuning_learning_rate(*models)


# --- held-out accuracy -------------------------------------------------------------------------

def test_an_untrained_transfer_model_misses_the_threshold_with_its_measured_accuracy():
    model = build_transfer_model(data.load_mobilenet_v2_base(checks.CHECK_IMAGE_SIZE), 5)
    with pytest.raises(AssertionError, match=r"^the fine-tuned model classifies \d+\.\d% of the 200 held-out photos"):
        checks.check_held_out_accuracy(model)
    assert MEASUREMENTS["held_out_accuracy/fine_tuned"] < 0.5
