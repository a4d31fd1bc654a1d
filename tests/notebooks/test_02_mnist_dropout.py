"""Assignment 2: the reference earns full marks, the student version nothing, plausible wrong
solutions lose exactly the right points and a different correct one loses none.

(`validate` and `demo` run these same notebooks through the same pipeline; that pipeline is tested
end to end on assignment 1, which trains in seconds.)"""

from .harness import AssignmentSuite, Variant

ASSIGNMENT = "02_mnist_dropout"

KEEP_MASK = "keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate"
SCALED_SURVIVORS = "return ops.where(keep, inputs / (1 - self.rate), ops.zeros_like(inputs))"

WRONG_SOLUTIONS = {
    "pixels-not-scaled": Variant(
        (("return images.astype(np.float32) / 255.0", "return images.astype(np.float32)"),),
        frozenset({"test_scaling"})),
    "survivors-not-rescaled": Variant(
        ((SCALED_SURVIVORS, "return ops.where(keep, inputs, ops.zeros_like(inputs))"),),
        frozenset({"test_dropout_in_training"})),
    "survivors-scaled-down-instead-of-up": Variant(
        ((SCALED_SURVIVORS, "return ops.where(keep, inputs * (1 - self.rate), ops.zeros_like(inputs))"),),
        frozenset({"test_dropout_in_training"})),
    "rate-used-as-keep-probability": Variant(
        ((KEEP_MASK, KEEP_MASK.replace(">= self.rate", "< self.rate")),),
        frozenset({"test_dropout_in_training"})),
    "dropout-active-at-inference": Variant(
        (("if not training or self.rate == 0:", "if self.rate == 0:"),),
        frozenset({"test_dropout_at_inference"})),
    # The grader rebuilds build_mlp's models from their configs: without the rate it cannot check the MLP.
    "config-without-the-rate": Variant(
        (('return {**super().get_config(), "rate": self.rate, "seed": self.seed}', "return super().get_config()"),),
        frozenset({"test_dropout_at_inference", "test_mlp"})),
    "keras-dropout-instead-of-own-layer": Variant(
        (("x = InvertedDropout(dropout_rate)(x)", "x = layers.Dropout(dropout_rate)(x)"),),
        frozenset({"test_mlp"})),
    # An attack, not a mistake: the kernel's checks are patched to hide the Keras layer; the grader
    # rebuilds the exported model and finds it.
    "keras-dropout-hidden-from-patched-checks": Variant(
        (("x = InvertedDropout(dropout_rate)(x)", "x = layers.Dropout(dropout_rate)(x)"),
         ('model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
          'model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
          '    checks.judge_mlp = checks.mlp_structure = lambda *arguments: {}')),
        frozenset({"test_mlp"})),
    "logits-without-softmax": Variant(
        (('outputs = layers.Dense(10, activation="softmax")(x)', "outputs = layers.Dense(10)(x)"),),
        frozenset({"test_mlp"})),
    "early-stopping-on-the-training-loss": Variant(
        (('monitor="val_loss"', 'monitor="loss"'),),
        frozenset({"test_early_stopping"})),
    "early-stopping-maximises-the-validation-loss": Variant(
        (('monitor="val_loss"', 'monitor="val_loss", mode="max"'),),
        frozenset({"test_early_stopping"})),
    "early-stopping-keeps-the-last-weights": Variant(
        (("restore_best_weights=True", "restore_best_weights=False"),),
        frozenset({"test_early_stopping"})),
    "one-epoch-of-training": Variant(
        (("epochs=MAX_EPOCHS,", "epochs=1,"),),
        frozenset({"test_test_accuracy"}), rerun="rest"),
}

# Another reasonable solution: a float mask multiplied in, wider layers, early stopping on accuracy.
DIFFERENT_BUT_CORRECT = Variant((
    (SCALED_SURVIVORS, "return inputs * ops.cast(keep, inputs.dtype) / (1 - self.rate)"),
    ("HIDDEN_UNITS = 512", "HIDDEN_UNITS = 384"),
    ('monitor="val_loss"', 'monitor="val_accuracy", mode="max"'),
), rerun="rest")


class TestMnistDropout(AssignmentSuite):
    assignment = ASSIGNMENT
    wrong_solutions = WRONG_SOLUTIONS
    different_but_correct = DIFFERENT_BUT_CORRECT

