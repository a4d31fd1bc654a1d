"""Assignment 6: the reference earns full marks, the student version nothing, plausible wrong
solutions lose exactly the right points and a different correct one loses none."""

from .harness import AssignmentSuite, Variant

ASSIGNMENT = "06_federated_spam"

AVERAGE = """    total = float(sum(sample_counts))
    return [sum(count * weights[i] for weights, count in zip(client_weights, sample_counts)) / total
            for i in range(len(client_weights[0]))]"""
CHANGED_ROWS = "changed_rows = np.any(update[0] != 0, axis=1)"
CANDIDATE_COLUMNS = "columns = featurize(candidate_words).argmax(axis=1)"
SERVER_SCALE = "sum(weights[i] * (count / total) for weights, count in zip(encrypted_client_weights, sample_counts))"
SECURE = """    encrypted = [encrypt_weights(public_key, weights) for weights in client_weights]
    return decrypt_weights(private_key, aggregate_encrypted(encrypted, sample_counts))"""

WRONG_SOLUTIONS = {
    "plain-mean-of-the-clients": Variant(
        (("count * weights[i] for weights, count in zip(client_weights, sample_counts)) / total",
          "weights[i] for weights in client_weights) / len(client_weights)"),),
        frozenset({"test_federated_average"})),
    "weighted-sum-never-divided": Variant(
        (("for weights, count in zip(client_weights, sample_counts)) / total", "for weights, count in zip(client_weights, sample_counts))"),),
        frozenset({"test_federated_average"})),
    "only-words-whose-weight-grew": Variant(
        ((CHANGED_ROWS, "changed_rows = np.any(update[0] > 0, axis=1)"),),
        frozenset({"test_words_in_update"})),
    "candidates-hashed-with-pythons-salted-hash": Variant(
        ((CANDIDATE_COLUMNS, "columns = [hash(word.lower()) % NUM_FEATURES for word in candidate_words]"),),
        frozenset({"test_words_in_update"})),
    "small-changes-ignored": Variant(
        ((CHANGED_ROWS, "changed_rows = np.any(np.abs(update[0]) > 1e-3, axis=1)"),),
        frozenset({"test_words_in_update"})),
    # secure_federated_average uses the three helpers, so a broken helper loses its cell too.
    "server-averages-without-sample-counts": Variant(
        ((SERVER_SCALE, SERVER_SCALE.replace("(count / total)", "(1 / len(sample_counts))")),),
        frozenset({"test_encrypted_aggregation", "test_server_decrypts_only_the_aggregate"})),
    "plain-floats-instead-of-ciphertexts": Variant(
        (("np.array([public_key.encrypt(float(value)) for value in np.ravel(array)], dtype=object)",
          "np.array([float(value) for value in np.ravel(array)], dtype=object)"),),
        frozenset({"test_encrypted_aggregation", "test_server_decrypts_only_the_aggregate"})),
    "server-decrypts-each-client": Variant(
        ((SECURE, "    encrypted = [encrypt_weights(public_key, weights) for weights in client_weights]\n"
                  "    return federated_average([decrypt_weights(private_key, weights) for weights in encrypted], sample_counts)"),),
        frozenset({"test_server_decrypts_only_the_aggregate"})),
    "centralised-model-trained-on-one-mailbox": Variant(
        (("centralised_history = centralised_model.fit(x_all, y_all,", "centralised_history = centralised_model.fit(*clients[\"enron1\"],"),),
        frozenset({"test_close_to_centralised"}), rerun="rest"),
    "a-single-round-of-federated-averaging": Variant(
        (("for round_number in range(1, ROUNDS + 1):", "for round_number in range(1, 2):"),),
        frozenset({"test_federated_accuracy", "test_close_to_centralised"}), rerun="rest"),
}

# Another reasonable solution: twice as many hash buckets, half as many rounds of two local epochs
# each, and the functions written with NumPy's own tools.
DIFFERENT_BUT_CORRECT = Variant((
    ("NUM_FEATURES = 4096", "NUM_FEATURES = 8192"),
    ("ROUNDS = 10", "ROUNDS = 5"),
    ("LOCAL_EPOCHS = 1", "LOCAL_EPOCHS = 2"),
    (AVERAGE, "    return [np.average(np.stack([weights[i] for weights in client_weights]), axis=0, weights=sample_counts)\n"
              "            for i in range(len(client_weights[0]))]"),
    ("""    client_weights = [train_locally(model, global_weights, x, y) for x, y in clients.values()]
    return aggregate(client_weights, [len(y) for _, y in clients.values()])""",
     """    client_weights, sample_counts = [], []
    for x, y in clients.values():
        client_weights.append(train_locally(model, global_weights, x, y))
        sample_counts.append(len(x))
    return aggregate(client_weights, sample_counts)"""),
    (f"    {CHANGED_ROWS}\n    {CANDIDATE_COLUMNS}\n"
     "    return [word for word, column in zip(candidate_words, columns) if changed_rows[column]]",
     "    changed = set(np.flatnonzero(update[0][:, 0]))\n"
     "    columns = tf.strings.to_hash_bucket_fast(tf.strings.lower(candidate_words), NUM_FEATURES).numpy()\n"
     "    return [word for word, column in zip(candidate_words, columns) if column in changed]"),
    ("""    return [np.array([public_key.encrypt(float(value)) for value in np.ravel(array)], dtype=object).reshape(np.shape(array))
            for array in weights]""",
     """    encrypt = np.vectorize(lambda value: public_key.encrypt(float(value)), otypes=[object])
    return [encrypt(np.asarray(array, dtype=np.float64)) for array in weights]"""),
    (f"""    total = float(sum(sample_counts))
    return [{SERVER_SCALE}
            for i in range(len(encrypted_client_weights[0]))]""",
     """    shares = np.asarray(sample_counts, dtype=np.float64) / np.sum(sample_counts)
    aggregate = [array * shares[0] for array in encrypted_client_weights[0]]
    for weights, share in zip(encrypted_client_weights[1:], shares[1:]):
        aggregate = [total + array * share for total, array in zip(aggregate, weights)]
    return aggregate"""),
    ("""    return [np.array([private_key.decrypt(number) for number in np.ravel(array)], dtype=np.float32).reshape(np.shape(array))
            for array in encrypted_weights]""",
     """    decrypt = np.vectorize(private_key.decrypt, otypes=[np.float64])
    return [decrypt(array) for array in encrypted_weights]"""),
), rerun="rest")


class TestFederatedSpam(AssignmentSuite):
    assignment = ASSIGNMENT
    wrong_solutions = WRONG_SOLUTIONS
    different_but_correct = DIFFERENT_BUT_CORRECT
