"""Assignment 5: the reference earns full marks, the student version nothing, plausible wrong
solutions lose exactly the right points and a different correct one loses none.

(`validate` and `demo` run these same notebooks through the same pipeline; that pipeline is tested
end to end on assignment 1, which trains in seconds.)"""

from .harness import AssignmentSuite, Variant

ASSIGNMENT = "05_shakespeare_lstm"

CHUNKS = "tf.data.Dataset.from_tensor_slices(ids).batch(sequence_length + 1, drop_remainder=True)"
SHUFFLE = "    if shuffle:\n        dataset = dataset.shuffle(10_000)\n"
SCALED = "scaled = np.asarray(logits, dtype=np.float64) / temperature"
DRAW = "return int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))"
NEXT_STEP = "logits, states = step(np.array([[generated[-1]]]), states)"

WRONG_SOLUTIONS = {
    "vocabulary-in-set-order": Variant(
        (("vocabulary = sorted(set(text))", "vocabulary = list(set(text))"),),
        frozenset({"test_char_lookups"})),
    "id-to-char-not-inverted": Variant(
        (("id_to_char = layers.StringLookup(vocabulary=vocabulary, mask_token=None, invert=True)",
          "id_to_char = layers.StringLookup(vocabulary=vocabulary, mask_token=None)"),),
        frozenset({"test_char_lookups"})),
    "chunks-one-id-short": Variant(
        ((CHUNKS, CHUNKS.replace("sequence_length + 1", "sequence_length")),),
        frozenset({"test_make_dataset"})),
    "targets-not-shifted": Variant(
        (("(chunk[:-1], chunk[1:])", "(chunk[:-1], chunk[:-1])"),),
        frozenset({"test_make_dataset"})),
    "partial-last-batch-kept": Variant(
        ((".batch(batch_size, drop_remainder=True)", ".batch(batch_size)"),),
        frozenset({"test_make_dataset"})),
    "characters-shuffled-before-windowing": Variant(
        ((SHUFFLE, ""),
         (f"    dataset = {CHUNKS}\n",
          "    dataset = tf.data.Dataset.from_tensor_slices(ids)\n" + SHUFFLE.replace("10_000", "1_000")
          + "    dataset = dataset.batch(sequence_length + 1, drop_remainder=True)\n")),
        frozenset({"test_make_dataset"})),
    "softmax-output-under-a-logits-loss": Variant(
        (('layers.Dense(vocabulary_size, name="logits")',
          'layers.Dense(vocabulary_size, activation="softmax", name="logits")'),),
        frozenset({"test_model"})),
    "loss-expects-probabilities": Variant(
        (("keras.losses.SparseCategoricalCrossentropy(from_logits=True)", "keras.losses.SparseCategoricalCrossentropy()"),),
        frozenset({"test_model"})),
    "learning-rate-ignored": Variant(
        (("keras.optimizers.Adam(learning_rate)", "keras.optimizers.Adam()"),),
        frozenset({"test_model"})),
    # An attack, not a mistake: the kernel's checks are patched to hide the softmax; the grader
    # rebuilds the exported models and measures them.
    "softmax-output-hidden-from-patched-checks": Variant(
        (('layers.Dense(vocabulary_size, name="logits")',
          'layers.Dense(vocabulary_size, activation="softmax", name="logits")'),
         ("model = keras.Model(ids, logits)",
          "model = keras.Model(ids, logits)\n    checks.judge_model = checks.model_structure = lambda *arguments: {}")),
        frozenset({"test_model"})),
    "recurrent-layer-argument-ignored": Variant(
        (("x, *_ = recurrent_layer(rnn_units,", "x, *_ = layers.LSTM(rnn_units,"),),
        frozenset({"test_model"})),
    "perplexity-in-base-2": Variant(
        (("return float(np.exp(loss))", "return float(2**loss)"),),
        frozenset({"test_perplexity"})),
    # Generation at temperature near 0 must then be greedy too, so it loses that cell as well.
    "temperature-ignored": Variant(
        ((SCALED, "scaled = np.asarray(logits, dtype=np.float64)"),),
        frozenset({"test_sample", "test_generate_text"})),
    "always-the-most-likely-character": Variant(
        ((DRAW, "return int(np.argmax(probabilities))"),),
        frozenset({"test_sample"})),
    "state-not-carried": Variant(
        ((NEXT_STEP, NEXT_STEP.replace("states)", "None)")),),
        frozenset({"test_generate_text"})),
    "unknown-id-not-masked": Variant(
        (("        logits[0] = -np.inf  # never the [UNK] id\n", ""),),
        frozenset({"test_generate_text"})),
    "one-epoch-of-training": Variant(
        (("epochs=EPOCHS, verbose=2", "epochs=1, verbose=2"),),
        frozenset({"test_held_out_loss"}), rerun="rest"),
}

# Another reasonable solution: a GRU on shorter windows with smaller character vectors, windows
# cut with NumPy, inverse-CDF sampling, and the prompt fed one character at a time.
DIFFERENT_BUT_CORRECT = Variant((
    ("SEQUENCE_LENGTH = 100", "SEQUENCE_LENGTH = 64"),
    ("EMBEDDING_DIM = 64", "EMBEDDING_DIM = 32"),
    ("recurrent_layer=layers.LSTM):", "recurrent_layer=layers.GRU):"),
    (f"    dataset = {CHUNKS}\n    dataset = dataset.map(lambda chunk: (chunk[:-1], chunk[1:]))\n{SHUFFLE}",
     "    window = sequence_length + 1\n"
     "    chunks = np.asarray(ids)[: len(ids) // window * window].reshape(-1, window)\n"
     "    dataset = tf.data.Dataset.from_tensor_slices((chunks[:, :-1], chunks[:, 1:]))\n"
     "    if shuffle:\n        dataset = dataset.shuffle(len(chunks))\n"),
    (f"    probabilities = np.exp(scaled - scaled.max())\n    {DRAW}",
     "    probabilities = np.exp(scaled - np.max(scaled))\n"
     "    cumulative = np.cumsum(probabilities / probabilities.sum())\n"
     "    return int(min(np.searchsorted(cumulative, rng.random(), side='right'), len(cumulative) - 1))"),
    ("    logits, states = step(text_to_ids(prompt)[None], None)\n    generated = []\n",
     "    states = None\n    for character_id in text_to_ids(prompt):\n"
     "        logits, states = step(np.array([[character_id]]), states)\n    generated = []\n"),
    ("        logits = logits.numpy()\n        logits[0] = -np.inf  # never the [UNK] id\n"
     "        generated.append(sample(logits, temperature, rng))\n",
     "        masked = np.where(np.arange(len(logits)) == 0, -np.inf, logits.numpy())\n"
     "        generated.append(sample(masked, temperature, rng))\n"),
), rerun="rest")


class TestShakespeareLstm(AssignmentSuite):
    assignment = ASSIGNMENT
    wrong_solutions = WRONG_SOLUTIONS
    different_but_correct = DIFFERENT_BUT_CORRECT
