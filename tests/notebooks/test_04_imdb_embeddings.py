"""Assignment 4: the reference earns full marks, the student version nothing, plausible wrong
solutions lose exactly the right points and a different correct one loses none.

(`validate` and `demo` run these same notebooks through the same pipeline; that pipeline is tested
end to end on assignment 1, which trains in seconds.)"""

from .harness import AssignmentSuite, Variant

ASSIGNMENT = "04_imdb_embeddings"

VECTORIZER = ("layers.TextVectorization(max_tokens=vocabulary_size, standardize=standardize,\n"
              "                                          output_sequence_length=sequence_length)")
RANKING = "return [words[i] for i in np.argsort(-similarities)[:k]]"

WRONG_SOLUTIONS = {
    "line-breaks-kept": Variant(
        (('without_breaks = tf.strings.regex_replace(lowercase, "<br />", " ")', "without_breaks = lowercase"),),
        frozenset({"test_standardize"}), rerun="rest"),
    "vocabulary-size-ignored": Variant(
        ((VECTORIZER, VECTORIZER.replace("max_tokens=vocabulary_size, ", "")),),
        frozenset({"test_vectorizer"})),
    "vectorizer-ignores-standardize": Variant(
        ((VECTORIZER, VECTORIZER.replace("standardize=standardize,", "")),),
        frozenset({"test_vectorizer"})),
    "reviews-not-padded-to-one-length": Variant(
        ((VECTORIZER, "layers.TextVectorization(max_tokens=vocabulary_size, standardize=standardize)"),),
        frozenset({"test_vectorizer"})),
    "vocabulary-learned-from-the-validation-reviews-too": Variant(
        (("vectorizer = build_vectorizer(train_texts, VOCABULARY_SIZE", "vectorizer = build_vectorizer(train_texts + validation_texts, VOCABULARY_SIZE"),),
        frozenset({"test_vectorizer"}), rerun="rest"),
    "max-pooling-instead-of-average": Variant(
        (("x = layers.GlobalAveragePooling1D()(x)", "x = layers.GlobalMaxPooling1D()(x)"),),
        frozenset({"test_model"})),
    "output-without-sigmoid": Variant(
        (('outputs = layers.Dense(1, activation="sigmoid")(x)', "outputs = layers.Dense(1)(x)"),),
        frozenset({"test_model"})),
    "compiled-with-sgd": Variant(
        (("optimizer=keras.optimizers.Adam(learning_rate)", 'optimizer="sgd"'),),
        frozenset({"test_model"})),
    # An attack, not a mistake: the kernel's checks are patched to hide the missing sigmoid; the
    # grader rebuilds the exported models and measures them.
    "output-without-sigmoid-hidden-from-patched-checks": Variant(
        (('outputs = layers.Dense(1, activation="sigmoid")(x)',
          "outputs = layers.Dense(1)(x)\n    checks.judge_model = checks.model_evidence = lambda *arguments: {}"),),
        frozenset({"test_model"})),
    "cosine-without-the-norms": Variant(
        (("return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))", "return float(np.dot(u, v))"),),
        frozenset({"test_cosine_similarity"})),
    "neighbours-include-the-word": Variant(
        (("    similarities[index] = -np.inf\n", ""),),
        frozenset({"test_nearest_neighbours"})),
    "neighbours-least-similar-first": Variant(
        ((RANKING, RANKING.replace("-similarities", "similarities")),),
        frozenset({"test_nearest_neighbours"})),
    "one-epoch-of-training": Variant(
        (("epochs=EPOCHS, batch_size=BATCH_SIZE", "epochs=1, batch_size=BATCH_SIZE"),),
        frozenset({"test_test_accuracy"}), rerun="rest"),
    "embedding-frozen": Variant(
        (('layers.Embedding(vocabulary_size, embedding_dim, name="embedding")',
          'layers.Embedding(vocabulary_size, embedding_dim, name="embedding", trainable=False)'),),
        frozenset({"test_test_accuracy", "test_embeddings_carry_sentiment"}), rerun="rest"),
}

# Another reasonable solution: wider vectors that ignore the padding (mask_zero), larger batches
# for more epochs, and nearest neighbours computed word by word.
DIFFERENT_BUT_CORRECT = Variant((
    ("EMBEDDING_DIM = 16", "EMBEDDING_DIM = 32"),
    ("BATCH_SIZE = 32", "BATCH_SIZE = 64"),
    ("EPOCHS = 10", "EPOCHS = 15"),
    ('layers.Embedding(vocabulary_size, embedding_dim, name="embedding")',
     'layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding")'),
    ("    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)\n    index = words.index(word)\n"
     "    similarities = unit @ unit[index]\n    similarities[index] = -np.inf\n    " + RANKING,
     "    query = embeddings[words.index(word)]\n"
     "    scored = sorted(((cosine_similarity(query, vector), other) for other, vector in zip(words, embeddings)\n"
     "                     if other != word), reverse=True)\n"
     "    return [other for _, other in scored[:k]]"),
), rerun="rest")


class TestImdbEmbeddings(AssignmentSuite):
    assignment = ASSIGNMENT
    wrong_solutions = WRONG_SOLUTIONS
    different_but_correct = DIFFERENT_BUT_CORRECT
