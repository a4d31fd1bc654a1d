"""Assignment 3's checks: the visible checks and the grader's judges on hidden inputs accept a
correct solution and name the likely mistake of a wrong one.

They read the real flower photos and MobileNetV2 weights of the course data folder (`make setup`).
"""

import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from autograder import data, exports
from autograder.judges import MEASUREMENTS
from autograder.judges.transfer import preprocess_photos
from coursekit.checks import transfer as checks


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


def pipeline(**mistake):
    return lambda paths, labels, size, batch_size=32, training=False: make_dataset(paths, labels, size, batch_size,
                                                                                   training, **mistake)


def photos(count=4):
    return preprocess_photos(data.load_flower_photos("train")[0][::200][:count], checks.CHECK_IMAGE_SIZE)


# --- pipeline and augmentation ---------------------------------------------------------------------

def test_a_correct_pipeline_passes(hidden_test):
    checks.check_pipeline(make_dataset)
    for seed in range(3):
        hidden_test(checks.hand_in_pipeline, make_dataset, seed=seed)


def test_the_public_quarter_means_are_the_reference_pipeline_s():
    paths, _ = checks.training_photos(checks._PUBLIC_PHOTOS)
    for size, means in checks._PUBLIC_QUARTER_MEANS.items():
        assert np.allclose(checks.quarter_means(preprocess_photos(paths, size)), means, atol=1e-4)


def test_pixels_scaled_to_zero_one_are_told_about_mobilenet_preprocessing(both_fail):
    zero_one = pipeline(scale=lambda x: x / 255)
    both_fail(lambda: checks.check_pipeline(zero_one), checks.hand_in_pipeline, zero_one,
              match=r"^pixel values run from 0 to 1; MobileNetV2 expects \[-1, 1\]")


def test_augmentation_in_the_pipeline_is_caught_at_inference(both_fail):
    keras.utils.set_random_seed(0)  # a global seed makes every pass flip the same photos: the images must tell
    flipping = pipeline(augment=lambda image: tf.image.random_flip_left_right(image))
    both_fail(lambda: checks.check_pipeline(flipping), checks.hand_in_pipeline, flipping,
              match="images differ from decode -> resize -> preprocess_input|two passes")


def test_a_pipeline_that_always_shuffles_is_told_to_keep_the_order(both_fail):
    def shuffling(paths, labels, size, batch_size=32, training=False):
        return make_dataset(paths, labels, size, batch_size, training=True)
    both_fail(lambda: checks.check_pipeline(shuffling), checks.hand_in_pipeline, shuffling,
              match="shuffle only when training=True|two passes")


def test_a_pipeline_that_shuffles_photos_and_labels_apart_is_named(both_fail):
    def apart(paths, labels, size, batch_size=32, training=False):
        if training:
            labels = np.random.default_rng().permutation(labels)
        return make_dataset(paths, labels, size, batch_size)
    both_fail(lambda: checks.check_pipeline(apart), checks.hand_in_pipeline, apart,
              match="^with training=True the photos and the labels are shuffled apart")


def test_a_correct_augmentation_passes(hidden_test):
    checks.check_augmentation(augmentation(), photos())
    hidden_test(checks.hand_in_augmentation, augmentation())


def test_an_augmentation_that_does_nothing_is_named(both_fail):
    identity = keras.Sequential([layers.Identity()])
    both_fail(lambda: checks.check_augmentation(identity, photos()), checks.hand_in_augmentation, identity,
              match="augmentation left the images unchanged in training")


def test_contrast_that_assumes_0_to_255_pixels_is_named(both_fail):
    bright = augmentation(layers.RandomBrightness(0.5))
    both_fail(lambda: checks.check_augmentation(bright, photos()), checks.hand_in_augmentation, bright,
              match=r"pass value_range=\(-1, 1\)")


def test_augmentation_that_ignores_training_is_named(both_fail):
    always = keras.Sequential([layers.Lambda(lambda images: tf.image.random_flip_left_right(images, seed=1))])
    both_fail(lambda: checks.check_augmentation(always, photos()), checks.hand_in_augmentation, always,
              match=r"^the augmentation's output at inference \(training=False\) is")


def scratch_cnn(noise=False, activation=None):
    def build(size, n):
        inputs = keras.Input((size, size, 3))
        x = layers.Lambda(lambda images: images + tf.random.normal(tf.shape(images), stddev=0.1))(inputs) if noise else inputs
        x = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3)(x))
        return keras.Model(inputs, layers.Dense(n, activation=activation)(x))
    return build


def test_a_correct_scratch_cnn_passes(hidden_test):
    checks.check_scratch_cnn(scratch_cnn())
    for seed in range(3):
        hidden_test(checks.hand_in_scratch_cnn, scratch_cnn(), seed=seed)


def test_a_model_that_is_random_at_inference_is_named_and_its_lambda_never_runs_in_the_grader(hidden_test):
    with pytest.raises(AssertionError, match="^the from-scratch CNN gives different outputs for the same photos at inference"):
        checks.check_scratch_cnn(scratch_cnn(noise=True))
    with pytest.raises(exports.ExportError, match="uses Lambda .*; the grader rebuilds only "):
        hidden_test(checks.hand_in_scratch_cnn, scratch_cnn(noise=True))


def test_a_scratch_cnn_with_a_softmax_is_told_to_output_logits(both_fail):
    softmax = scratch_cnn(activation="softmax")
    both_fail(lambda: checks.check_scratch_cnn(softmax), checks.hand_in_scratch_cnn, softmax,
              match="^the from-scratch CNN outputs rows that sum to 1 \\(a softmax\\)")


def test_a_scratch_cnn_with_a_fixed_number_of_classes_is_named(hidden_test):
    def five_classes(size, n):
        return scratch_cnn()(size, 5)
    with pytest.raises(AssertionError, match=r"output shape is \(None, 5\); expected \(None, [346789]\)"):
        hidden_test(checks.hand_in_scratch_cnn, five_classes)


# --- models ------------------------------------------------------------------------------------

def test_a_correct_compile_model_passes(hidden_test):
    checks.check_compile_model(compile_model)
    for seed in range(3):
        hidden_test(checks.hand_in_compile_model, compile_model, seed=seed)


def test_a_loss_on_probabilities_is_told_to_use_logits(both_fail):
    def on_probabilities(model, rate):
        compile_model(model, rate, from_logits=False)
    both_fail(lambda: checks.check_compile_model(on_probabilities), checks.hand_in_compile_model, on_probabilities,
              match=r"^the compiled loss on logits \(hint: SparseCategoricalCrossentropy\(from_logits=True\)\) is")


def test_a_fixed_learning_rate_is_named(both_fail):
    def fixed_rate(model, rate):
        compile_model(model, 1e-3)
    both_fail(lambda: checks.check_compile_model(fixed_rate), checks.hand_in_compile_model, fixed_rate,
              match=r"set a learning rate of 0.001; use the learning_rate argument")


def test_another_optimizer_is_named(both_fail):
    def with_sgd(model, rate):
        model.compile(keras.optimizers.SGD(rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    both_fail(lambda: checks.check_compile_model(with_sgd), checks.hand_in_compile_model, with_sgd,
              match=r"^compile_model compiled the model with SGD: compile it with keras.optimizers.Adam")


def test_a_correct_feature_extraction_model_passes(hidden_test):
    checks.check_feature_extraction_model(build_transfer_model)
    hidden_test(checks.hand_in_feature_extraction_model, build_transfer_model)


def test_an_unfrozen_base_in_phase_1_is_named(both_fail):
    def unfrozen(base, n):
        return build_transfer_model(base, n, freeze=False)
    both_fail(lambda: checks.check_feature_extraction_model(unfrozen), checks.hand_in_feature_extraction_model, unfrozen,
              match="^the base is trainable: in phase 1 only the new head learns")


def test_trainable_batch_norm_is_caught_by_a_training_call():
    base = data.load_mobilenet_v2_base(checks.CHECK_IMAGE_SIZE)
    model = build_transfer_model(base, 5, freeze=False)
    before = base.get_layer("bn_Conv1").moving_mean.numpy()
    assert len(checks.batch_norms_changed_by_training(model, photos())) == 52
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


def test_a_correct_fine_tuning_passes(hidden_test):
    checks.check_fine_tuning(unfreeze_top_layers, fine_tuned_model(), "block_13_expand")
    hidden_test(checks.hand_in_fine_tuning, unfreeze_top_layers, fine_tuned_model(), "block_13_expand")


@pytest.mark.parametrize("mistake, message", [
    ({"keep_batch_norm_frozen": False}, "^BatchNormalization layer block_\\d+_expand_BN is trainable"),
    ({"unfreeze_all": True}, "^layer Conv1, below block_\\d+_expand, is trainable: unfreeze only the top layers"),
])
def test_unfreezing_mistakes_are_named(mistake, message, both_fail):
    def unfreeze(base, name):
        unfreeze_top_layers(base, name, **mistake)
    both_fail(lambda: checks.check_fine_tuning(unfreeze, fine_tuned_model(), "block_13_expand"), checks.hand_in_fine_tuning,
              unfreeze, fine_tuned_model(), "block_13_expand", match=message)


def test_unfreezing_from_a_fixed_layer_fails_on_the_hidden_layer(hidden_test):
    def from_block_13(base, name):
        unfreeze_top_layers(base, "block_13_expand")
    checks.check_fine_tuning(from_block_13, fine_tuned_model(), "block_13_expand")
    messages = []
    for seed in range(4):  # one of them draws another layer than block 13
        try:
            hidden_test(checks.hand_in_fine_tuning, from_block_13, fine_tuned_model(), "block_13_expand", seed=seed)
        except AssertionError as error:
            messages.append(str(error))
    assert messages and all(re.search("is trainable: unfreeze only the top layers|is still frozen", m) for m in messages)


def test_a_fine_tuned_base_that_never_changed_is_told_to_unfreeze_and_compile():
    with pytest.raises(AssertionError, match="^fine-tuning changed none of the layers from block_13_expand on: unfreeze them, then compile"):
        checks.check_fine_tuning(unfreeze_top_layers, fine_tuned_model(change_top=False), "block_13_expand")


def test_a_fine_tuned_base_changed_below_the_unfrozen_layers_is_named():
    model = fine_tuned_model()
    kernel = model.get_layer("mobilenetv2_1.00_96").get_layer("Conv1").kernel
    kernel.assign(kernel * 1.01)
    with pytest.raises(AssertionError, match="^fine-tuning changed Conv1, below block_13_expand: it should have stayed frozen"):
        checks.check_fine_tuning(unfreeze_top_layers, model, "block_13_expand")


def test_a_fine_tuning_rate_like_phase_1_is_named(both_fail, hidden_test):
    models = [build_transfer_model(data.load_mobilenet_v2_base(checks.CHECK_IMAGE_SIZE), 5) for _ in range(2)]
    for model, rate in zip(models, (1e-3, 1e-3)):
        compile_model(model, rate)
    both_fail(lambda: checks.check_fine_tuning_learning_rate(*models), checks.hand_in_fine_tuning_learning_rate, *models,
              match="^fine-tuning used a learning rate of 0.001, phase 1 0.001")
    compile_model(models[1], 1e-4)
    checks.check_fine_tuning_learning_rate(*models)
    hidden_test(checks.hand_in_fine_tuning_learning_rate, *models)


# --- held-out accuracy -------------------------------------------------------------------------

def test_an_untrained_transfer_model_misses_the_threshold_with_its_measured_accuracy(hidden_test):
    model = build_transfer_model(data.load_mobilenet_v2_base(checks.CHECK_IMAGE_SIZE), 5)
    with pytest.raises(AssertionError, match=r"^the fine-tuned model classifies \d+\.\d% of the 200 held-out photos"):
        hidden_test(checks.hand_in_held_out_accuracy, model)
    assert MEASUREMENTS["held_out_accuracy/fine_tuned"] < 0.5
