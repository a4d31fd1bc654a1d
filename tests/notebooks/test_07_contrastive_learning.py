"""Assignment 7: the reference earns full marks, the student version nothing, plausible wrong
solutions lose exactly the right points and a different correct one loses none."""

from .harness import AssignmentSuite, Variant

ASSIGNMENT = "07_contrastive_learning"

AUGMENTATION_LAYERS = """        layers.RandomTranslation(0.15, 0.15, fill_mode="constant"),
        layers.RandomZoom((-0.3, 0.1), fill_mode="constant"),
        layers.RandomFlip("horizontal"),
        layers.RandomContrast(0.5, value_range=(0, 1)),"""
NORMALISED = "z = ops.normalize(ops.concatenate([z1, z2], axis=0), axis=1)"
SCALED = "similarities = ops.matmul(z, ops.transpose(z)) / temperature"
MASKED = "similarities = similarities - 1e9 * ops.eye(2 * batch_size)  # an anchor is not its own candidate"
MEAN_LOSS = "return ops.mean(keras.losses.sparse_categorical_crossentropy(partners, similarities, from_logits=True))"
UPDATED = "variables = self.encoder.trainable_variables + self.projection_head.trainable_variables"
CLASSIFIER = "classifier = keras.Sequential([keras.Input(features.shape[1:]), normalization, layers.Dense(NUM_CLASSES)])"
PROBE = f"""    encoder.trainable = False
    features = encoder.predict(images, verbose=0)
    normalization = layers.Normalization()
    normalization.adapt(features)
    {CLASSIFIER}
    classifier.compile(optimizer=keras.optimizers.Adam(PROBE_LEARNING_RATE),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    full_batches = tf.data.Dataset.from_tensors((features, labels)).repeat(steps)
    classifier.fit(full_batches, shuffle=False, verbose=0)  # one epoch of `steps` full-batch steps
    inputs = keras.Input(IMAGE_SHAPE)
    return keras.Model(inputs, classifier(encoder(inputs, training=False)), name="linear_probe")"""

WRONG_SOLUTIONS = {
    "augmentation-that-returns-the-images": Variant(
        ((AUGMENTATION_LAYERS, "        layers.Identity(),"),),
        frozenset({"test_augmentation"})),
    "contrast-clipped-to-0-255": Variant(
        (("layers.RandomContrast(0.5, value_range=(0, 1))", "layers.RandomContrast(0.5)"),),
        frozenset({"test_augmentation"})),
    # The training-step check trains with the student's loss and measures the true NT-Xent, so a
    # loss that cannot teach matching views loses that cell too (measured: 4.77 and 4.64 after 40
    # steps against 3.22 with NT-Xent; the limit is 4.16).
    "projections-not-normalised": Variant(
        ((NORMALISED, "z = ops.concatenate([z1, z2], axis=0)"),),
        frozenset({"test_nt_xent_loss", "test_training_step"})),
    "temperature-multiplied": Variant(
        ((SCALED, SCALED.replace("/ temperature", "* temperature")),),
        frozenset({"test_nt_xent_loss", "test_training_step"})),
    "self-similarity-left-in-the-softmax": Variant(
        ((MASKED, "pass"),),
        frozenset({"test_nt_xent_loss"})),
    "first-view-anchors-only": Variant(
        ((MEAN_LOSS, MEAN_LOSS.replace("(partners, similarities,", "(partners[:batch_size], similarities[:batch_size],")),),
        frozenset({"test_nt_xent_loss"})),
    "train-step-updates-only-the-head": Variant(
        ((UPDATED, "variables = self.projection_head.trainable_variables"),),
        frozenset({"test_training_step"})),
    "the-same-view-twice": Variant(
        (("second_view = self.augmentation(images, training=True)", "second_view = first_view"),),
        frozenset({"test_training_step"})),
    "probe-with-a-hidden-layer": Variant(
        ((CLASSIFIER, CLASSIFIER.replace("normalization, ", "normalization, layers.Dense(256, activation=\"relu\"), ")),),
        frozenset({"test_linear_probe"}), rerun="rest"),
    "pre-training-stopped-after-50-steps": Variant(
        (("epochs=PRETRAINING_STEPS // STEPS_PER_LOG,", "epochs=1,"),),
        frozenset({"test_linear_probe", "test_beats_random_encoder"}), rerun="rest"),
}

# Another reasonable solution: half the batch for twice the steps, a wider projection, and the loss,
# the training step and the probe (trained through the frozen encoder) written another way.
DIFFERENT_BUT_CORRECT = Variant((
    ("BATCH_SIZE = 256", "BATCH_SIZE = 128"),
    ("else 650", "else 1300"),
    ("PROJECTION_DIM = 64", "PROJECTION_DIM = 128"),
    (f"""    {NORMALISED}
    batch_size = ops.shape(z1)[0]
    {SCALED}
    {MASKED}
    partners = ops.concatenate([ops.arange(batch_size) + batch_size, ops.arange(batch_size)], axis=0)
    {MEAN_LOSS}""",
     """    z = tf.math.l2_normalize(tf.concat([z1, z2], axis=0), axis=1)
    n = tf.shape(z1)[0]
    partners = tf.concat([z[n:], z[:n]], axis=0)
    logits = tf.linalg.set_diag(tf.matmul(z, z, transpose_b=True) / temperature, tf.fill([2 * n], -1e9))
    positive = tf.reduce_sum(z * partners, axis=1) / temperature
    return tf.reduce_mean(tf.reduce_logsumexp(logits, axis=1) - positive)"""),
    ("""        first_view = self.augmentation(images, training=True)
        second_view = self.augmentation(images, training=True)
        with tf.GradientTape() as tape:
            z1 = self.projection_head(self.encoder(first_view, training=True), training=True)
            z2 = self.projection_head(self.encoder(second_view, training=True), training=True)
            loss = nt_xent_loss(z1, z2, self.temperature)""",
     """        views = [self.augmentation(images, training=True) for _ in range(2)]
        with tf.GradientTape() as tape:
            z1, z2 = (self.projection_head(self.encoder(view, training=True), training=True) for view in views)
            loss = nt_xent_loss(z1, z2, temperature=self.temperature)"""),
    (PROBE, """    encoder.trainable = False
    normalization = layers.Normalization()
    normalization.adapt(encoder.predict(images, verbose=0))
    inputs = keras.Input(IMAGE_SHAPE)
    probe = keras.Model(inputs, layers.Dense(NUM_CLASSES)(normalization(encoder(inputs, training=False))))
    probe.compile(optimizer=keras.optimizers.Adam(PROBE_LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    probe.fit(images, labels, batch_size=len(images), epochs=steps, verbose=0)
    return probe"""),
), rerun="rest")


class TestContrastiveLearning(AssignmentSuite):
    assignment = ASSIGNMENT
    wrong_solutions = WRONG_SOLUTIONS
    different_but_correct = DIFFERENT_BUT_CORRECT
