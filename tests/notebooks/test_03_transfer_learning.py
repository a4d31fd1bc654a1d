"""Assignment 3: the reference earns full marks, the student version nothing, plausible wrong
solutions lose exactly the right points and a different correct one loses none.

(`validate` and `demo` run these same notebooks through the same pipeline; that pipeline is tested
end to end on assignment 1, which trains in seconds.)"""

from .harness import AssignmentSuite, Variant

ASSIGNMENT = "03_transfer_learning"

PREPROCESS = "return keras.applications.mobilenet_v2.preprocess_input(image), label"
SCRATCH_OUTPUT = 'outputs = layers.Dense(num_classes)(x)\n    return keras.Model(inputs, outputs, name="scratch_cnn")'
UNFREEZE = "layer.trainable = index >= first and not isinstance(layer, layers.BatchNormalization)"

WRONG_SOLUTIONS = {
    "pixels-scaled-to-zero-one": Variant(
        ((PREPROCESS, "return image / 255.0, label"),),
        frozenset({"test_pipeline"})),
    "every-split-shuffled": Variant(
        (("    if training:\n        dataset = dataset.shuffle(len(paths))", "    dataset = dataset.shuffle(len(paths))"),),
        frozenset({"test_pipeline"})),
    "photos-and-labels-shuffled-apart": Variant(
        (("    dataset = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels)))",
          "    paths = list(np.random.permutation(list(paths))) if training else list(paths)\n"
          "    dataset = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels)))"),),
        frozenset({"test_pipeline"})),
    "augmentation-skipped": Variant(
        (('return keras.Sequential([', 'return layers.Identity()\n    return keras.Sequential(['),),
        frozenset({"test_augmentation"})),
    "brightness-on-the-0-255-scale": Variant(
        (("layers.RandomZoom(0.1),", "layers.RandomZoom(0.1),\n        layers.RandomBrightness(0.2),"),),
        frozenset({"test_augmentation"})),
    "loss-on-probabilities": Variant(
        (("loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)", 'loss="sparse_categorical_crossentropy"'),),
        frozenset({"test_compile_model"})),
    "scratch-cnn-ends-in-softmax": Variant(
        ((SCRATCH_OUTPUT, SCRATCH_OUTPUT.replace("Dense(num_classes)", 'Dense(num_classes, activation="softmax")')),),
        frozenset({"test_scratch_cnn"})),
    # An attack, not a mistake: the kernel's checks are patched to hide the softmax; the grader
    # rebuilds the exported model and measures it.
    "scratch-cnn-softmax-hidden-from-patched-checks": Variant(
        ((SCRATCH_OUTPUT, "checks.judge_scratch_cnn = checks.scratch_cnn_structure = lambda *arguments: {}\n    "
          + SCRATCH_OUTPUT.replace("Dense(num_classes)", 'Dense(num_classes, activation="softmax")')),),
        frozenset({"test_scratch_cnn"})),
    "base-not-frozen-in-phase-1": Variant(
        (("    base.trainable = False\n    inputs = keras.Input", "    inputs = keras.Input"),),
        frozenset({"test_feature_extraction_model"})),
    "batch-norm-trainable-in-fine-tuning": Variant(
        ((UNFREEZE, "layer.trainable = index >= first"),),
        frozenset({"test_fine_tuning_setup"})),
    "whole-base-unfrozen": Variant(
        ((UNFREEZE, "layer.trainable = not isinstance(layer, layers.BatchNormalization)"),),
        frozenset({"test_fine_tuning_setup"})),
}

# Another reasonable solution: other augmentations, a deeper scratch CNN with batch norm, a
# hidden layer in the head, fine-tuning fewer blocks at a lower rate.
DIFFERENT_BUT_CORRECT = Variant((
    ('FINE_TUNE_FROM = "block_12_expand"', 'FINE_TUNE_FROM = "block_14_expand"'),
    ("FINE_TUNING_LEARNING_RATE = 1e-4", "FINE_TUNING_LEARNING_RATE = 5e-5"),
    ('layers.RandomFlip("horizontal"),\n        layers.RandomRotation(0.1),\n        layers.RandomZoom(0.1),',
     'layers.RandomFlip("horizontal"),\n        layers.RandomTranslation(0.1, 0.1),\n'
     '        layers.RandomContrast(0.2, value_range=(-1, 1)),'),
    ("    for filters in (16, 32, 64):\n        x = layers.Conv2D(filters, 3, padding=\"same\", activation=\"relu\")(x)",
     "    for filters in (16, 32, 64, 128):\n        x = layers.Conv2D(filters, 3, padding=\"same\", use_bias=False)(x)\n"
     "        x = layers.Activation(\"relu\")(layers.BatchNormalization(momentum=0.9)(x))"),
    ("    x = base(x, training=False)\n    x = layers.GlobalAveragePooling2D()(x)\n",
     "    x = base(x, training=False)\n    x = layers.GlobalAveragePooling2D()(x)\n"
     "    x = layers.Dense(128, activation=\"relu\")(x)\n"),
), rerun="rest")


class TestTransferLearning(AssignmentSuite):
    assignment = ASSIGNMENT
    wrong_solutions = WRONG_SOLUTIONS
    different_but_correct = DIFFERENT_BUT_CORRECT
