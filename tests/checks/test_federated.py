"""Assignment 6's checks: the visible checks and the grader's judges on hidden inputs accept a
correct solution and name the likely mistake of a wrong one."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from keras import layers

from autograder.judges import MEASUREMENTS
from autograder.judges import federated as judges
from coursekit.checks import federated as checks

NUM_FEATURES = 1024


def federated_average(client_weights, sample_counts, weighted=True, normalised=True):
    counts = sample_counts if weighted else [1] * len(sample_counts)
    total = sum(counts) if normalised else 1
    return [sum(count * weights[i] for weights, count in zip(client_weights, counts)) / total
            for i in range(len(client_weights[0]))]


def in_place_average(client_weights, sample_counts):
    result = client_weights[0]
    for i, array in enumerate(federated_average(client_weights, sample_counts)):
        result[i][...] = array
    return result


def test_the_written_out_public_averages_are_right():
    client_weights, counts = checks.clients_of(checks._PUBLIC_CLIENTS)
    for expected, weights in ((checks._PUBLIC_AVERAGE, counts), (checks._PUBLIC_PLAIN_MEAN, [1] * len(counts))):
        for actual, wanted in zip(judges.weighted_average(client_weights, weights), expected):
            np.testing.assert_allclose(actual, wanted)


def test_a_correct_federated_average_passes(hidden_test):
    checks.check_federated_average(federated_average)
    for seed in range(5):
        hidden_test(checks.hand_in_federated_average, federated_average, seed=seed)


@pytest.mark.parametrize("mistake, message", [
    (lambda weights, counts: federated_average(weights, counts, weighted=False),
     r"returned the plain mean of the clients' weights: weight each client by its number of samples"),
    (lambda weights, counts: federated_average(weights, counts, normalised=False),
     r"federated_average of \d clients with sample counts \(\d+, .*\), variable 0, is \[\["),
    (lambda weights, counts: federated_average(weights, counts)[:1], r"must be a list with one array per model variable \(2\)"),
    (in_place_average, r"changed the clients' weight arrays in place"),
])
def test_federated_average_mistakes_are_named(mistake, message, both_fail):
    both_fail(lambda: checks.check_federated_average(mistake), checks.hand_in_federated_average, mistake, match=message)


def words_in_update(update, candidate_words, threshold=0.0, signed=False, python_hash=False):
    change = update[0][:, 0] if signed else np.abs(update[0][:, 0])
    if python_hash:  # salted per process: not the columns the model was trained on
        columns = [hash(word.lower()) % NUM_FEATURES for word in candidate_words]
    else:
        columns = checks.featurize(candidate_words, NUM_FEATURES).argmax(axis=1)
    return [word for word, column in zip(candidate_words, columns) if change[column] > threshold]


@pytest.mark.parametrize("mistake", [
    lambda update, words: words_in_update(update, words, threshold=1e-3),
    lambda update, words: words_in_update(update, words, signed=True),
    lambda update, words: words_in_update(update, words, python_hash=True),
    lambda update, words: words,
])
def test_words_in_update_must_find_every_changed_column_and_nothing_else(mistake, hidden_test, both_fail):
    checks.check_words_in_update(words_in_update, NUM_FEATURES)
    for seed in range(3):
        hidden_test(checks.hand_in_words_in_update, words_in_update, NUM_FEATURES, seed=seed)
    both_fail(lambda: checks.check_words_in_update(mistake, NUM_FEATURES), checks.hand_in_words_in_update, mistake,
              NUM_FEATURES, match=r"non-zero change of either sign, however small")


@pytest.mark.parametrize("num_features", [2, 10**9])
def test_words_in_update_is_not_judged_with_a_handful_of_columns_or_too_many(num_features):
    """With two columns every candidate collides, so returning them all would pass; a billion would
    make the grader hash the candidates into arrays of gigabytes."""
    every_candidate = {"num_features": np.asarray(num_features), "found": np.asarray(checks._PUBLIC_CANDIDATES)}
    with pytest.raises(AssertionError, match=rf"^NUM_FEATURES is {num_features}; the exercise needs 1,024 to 65,536"):
        checks.judge_words_in_update(checks._PUBLIC_EMAIL, checks._PUBLIC_CANDIDATES, every_candidate)


def test_the_update_changes_exactly_the_rows_of_the_emails_words():
    update = checks.update_of(checks._PUBLIC_EMAIL, NUM_FEATURES, checks._PUBLIC_MAGNITUDES)
    rows = set(update[0][:, 0].nonzero()[0])
    assert rows == set(checks.featurize([checks._PUBLIC_EMAIL], NUM_FEATURES)[0].nonzero()[0])
    assert (update[0] > 0).any() and (update[0] < 0).any() and np.abs(update[0][update[0] != 0]).min() < 1e-3


def encrypt_weights(public_key, weights):
    return [np.array([public_key.encrypt(float(value)) for value in np.ravel(array)], dtype=object).reshape(np.shape(array))
            for array in weights]


def aggregate_encrypted(encrypted_client_weights, sample_counts, weighted=True):
    counts = sample_counts if weighted else [1] * len(sample_counts)
    return [sum(weights[i] * (count / sum(counts)) for weights, count in zip(encrypted_client_weights, counts))
            for i in range(len(encrypted_client_weights[0]))]


def decrypt_weights(private_key, encrypted_weights):
    return [np.array([private_key.decrypt(number) for number in np.ravel(array)], dtype=np.float32).reshape(np.shape(array))
            for array in encrypted_weights]


def secure_federated_average(client_weights, sample_counts, public_key, private_key):
    encrypted = [encrypt_weights(public_key, weights) for weights in client_weights]
    return decrypt_weights(private_key, aggregate_encrypted(encrypted, sample_counts))


def decrypt_each_client_then_average(client_weights, sample_counts, public_key, private_key):
    encrypted = [encrypt_weights(public_key, weights) for weights in client_weights]
    return federated_average([decrypt_weights(private_key, weights) for weights in encrypted], sample_counts)


def test_correct_encryption_aggregation_and_decryption_pass(hidden_test):
    checks.check_encrypted_aggregation(encrypt_weights, aggregate_encrypted, decrypt_weights)
    checks.check_server_decrypts_only_the_aggregate(secure_federated_average)
    hidden_test(checks.hand_in_encrypted_aggregation, encrypt_weights, aggregate_encrypted, decrypt_weights)
    hidden_test(checks.hand_in_server_decrypts_only_the_aggregate, secure_federated_average)


@pytest.mark.parametrize("functions, message", [
    ((lambda key, weights: [array.astype(object) for array in weights], aggregate_encrypted, decrypt_weights),
     r"must hold phe EncryptedNumber objects \(public_key.encrypt\(float\(value\)\)\); found \['float'\]"),
    ((encrypt_weights, lambda weights, counts: aggregate_encrypted(weights, counts, weighted=False), decrypt_weights),
     r"aggregate_encrypted of \d clients with sample counts \(\d+, .*\), decrypted, variable 0, is"),
    ((encrypt_weights, aggregate_encrypted, lambda key, weights: [np.zeros(np.shape(array)) for array in weights]),
     r"decrypt_weights' result, variable 0, is"),
])
def test_encryption_mistakes_are_named(functions, message, both_fail):
    both_fail(lambda: checks.check_encrypted_aggregation(*functions), checks.hand_in_encrypted_aggregation, *functions,
              match=message)


def test_a_server_that_decrypts_each_clients_update_is_caught_by_the_recording_key(both_fail):
    with pytest.raises(AssertionError, match=r"^secure_federated_average decrypted 15 numbers, but the aggregate of "
                                             r"these clients holds 5: .* never a client's own update"):
        checks.check_server_decrypts_only_the_aggregate(decrypt_each_client_then_average)
    both_fail(lambda: checks.check_server_decrypts_only_the_aggregate(decrypt_each_client_then_average),
              checks.hand_in_server_decrypts_only_the_aggregate, decrypt_each_client_then_average,
              match=r"^secure_federated_average decrypted \d+ numbers, but the aggregate of these clients holds \d+")


def test_a_server_step_that_decrypts_with_another_key_fails():
    _, other_private_key = checks.paillier.generate_paillier_keypair(n_length=checks.KEY_BITS)

    def aggregate_in_plain(encrypted_client_weights, sample_counts):
        return federated_average([decrypt_weights(other_private_key, weights) for weights in encrypted_client_weights],
                                 sample_counts)

    with pytest.raises((AssertionError, ValueError)):
        checks.check_encrypted_aggregation(encrypt_weights, aggregate_in_plain, decrypt_weights)


# --- the held-out emails (real course data) ------------------------------------------------------

def build_model(num_features, bias=0.0):
    inputs = keras.Input((num_features,))
    outputs = layers.Dense(1, activation="sigmoid", bias_initializer=keras.initializers.Constant(bias),
                           kernel_initializer="zeros")(inputs)
    return keras.Model(inputs, outputs)


@pytest.mark.slow
def test_a_model_that_calls_everything_spam_fails_both_accuracy_checks_with_its_measurement(hidden_test):
    spam_for_everything = build_model(64, bias=5.0)
    # Shown to the nearest point (feedback is no oracle), measured exactly (3,369 spam emails of 6,637).
    with pytest.raises(AssertionError, match=r"^the federated model classifies 51\.00% of the held-out emails correctly"):
        hidden_test(checks.hand_in_federated_accuracy, spam_for_everything)
    assert MEASUREMENTS["federated_accuracy"] == pytest.approx(3369 / 6637)
    with pytest.raises(AssertionError, match=r"^the centralised model classifies 51\.00% of the held-out emails"):
        hidden_test(checks.hand_in_close_to_centralised, spam_for_everything, spam_for_everything)


@pytest.mark.slow
def test_a_federated_model_far_behind_the_centralised_one_is_named(hidden_test):
    from autograder import data
    emails = data.load_enron_spam("train")
    centralised = build_model(4096)  # the notebook's recipe
    centralised.compile(keras.optimizers.SGD(1.0), "binary_crossentropy")
    centralised.fit(checks.featurize(emails.text, 4096), emails.label.to_numpy(), batch_size=32, epochs=10, verbose=0)
    hidden_test(checks.hand_in_close_to_centralised, centralised, centralised)
    assert MEASUREMENTS["centralised_minus_federated"] == 0
    with pytest.raises(AssertionError, match=r"^the federated model \(51\.00%\) trails centralised training \(9\d\.00%\) by"):
        hidden_test(checks.hand_in_close_to_centralised, build_model(4096, bias=5.0), centralised)


def test_the_output_must_be_one_spam_probability():
    inputs = keras.Input((8,))
    with pytest.raises(AssertionError, match=r"the federated model output shape is \(None, 2\); expected \(None, 1\)"):
        checks.hand_in_federated_accuracy(keras.Model(inputs, layers.Dense(2)(inputs)))
