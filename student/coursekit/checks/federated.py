"""Checks for assignment 6, federated spam detection with secure aggregation.

Model weights are lists of NumPy arrays, one per variable, as ``model.get_weights()`` returns
them; encrypted weights are the same lists of arrays of ``phe.EncryptedNumber`` (dtype object).
The models map hashed bag-of-words features (None, num_features) to a spam probability (None, 1);
the accuracy collectors featurize and classify the held-out emails, whose labels students never
get, and the grader's judges measure the predictions.

Which plausible wrong solution would a graded cell still pass? (Each catch is a wrong solution in
tests/notebooks/test_06_federated_spam.py or tests/checks/test_federated.py.)
- test_federated_average catches a plain mean of the clients, a weighted sum never divided and
  weights changed in place.
- test_words_in_update catches only the words whose weight grew, Python's salted hash and small
  changes ignored; it judges with the notebook's NUM_FEATURES, which must lie in HASH_BUCKETS (with
  a handful of columns every candidate collides, and returning them all would pass).
- test_encrypted_aggregation and test_server_decrypts_only_the_aggregate catch plain floats instead
  of ciphertexts, sample counts ignored and a server that decrypts each client. The decryption
  count comes from the kernel (the key is the notebook's), so a notebook that patches the key's
  counter could fake it: that takes deliberate forgery, not a mistake.
- test_federated_accuracy and test_close_to_centralised measure predictions of the held-out emails:
  a single round, and a centralised model trained on one mailbox, lose them.
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from phe import paillier

from .. import data
from ..evidence import collector, listed, returns_evidence, unlisted
from .common import call, check_close, check_output_shape

ASSIGNMENT = "06_federated_spam"

# Measured with the reference notebook, `tools/calibrate.py 06 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-23), accuracy on the 6,637 held-out
# emails; 10 rounds of federated averaging against 10 epochs of centralised training (SGD 0.5):
#   federated:    seed 0: 0.9763  seed 1: 0.9780  seed 2: 0.9777  seed 3: 0.9759  seed 4: 0.9768
#   centralised:  seed 0: 0.9833  seed 1: 0.9836  seed 2: 0.9842  seed 3: 0.9840  seed 4: 0.9813
#   centralised minus federated: 0.0069 / 0.0056 / 0.0065 / 0.0081 / 0.0045
# Low end of the students' ranges (keras 3.8.0, tensorflow-cpu 2.18.0, numpy 2.0.0, pandas 2.2.2,
# matplotlib 3.8.4; student/pyproject.toml), `tools/calibrate.py 06 --seeds 0` (2-core CPU, 2026-12-07):
#   federated: seed 0: 0.9763   centralised: seed 0: 0.9833   centralised minus federated: 0.0069
# Each threshold is the worst run minus 0.006, the margin the worst gap plus 0.007. With SGD at
# 1.0 one seed's centralised model ended at 0.965 (a bad last step), hence the smaller rate.
FEDERATED_ACCURACY_THRESHOLD = 0.970
CENTRALISED_ACCURACY_THRESHOLD = 0.975
FEDERATED_MARGIN = 0.015

KEY_BITS = 1024


def featurize(texts, num_features: int) -> np.ndarray:
    """The notebook's hashed bag of words: lower-cased, split on whitespace, farmhash buckets."""
    words = tf.strings.split(tf.strings.lower(list(texts)))
    return keras.ops.convert_to_numpy(layers.Hashing(num_features, output_mode="multi_hot")(words))


def _weight_list(result, what: str) -> list[np.ndarray]:
    """A list of weight arrays, as evidence; AssertionError if ``result`` is not one."""
    assert isinstance(result, (list, tuple)), (
        f"{what} must be a list with one array per model variable, like model.get_weights()")
    return [np.asarray(array, dtype=np.float64) for array in result]


def check_weight_list(result, expected, what: str, atol: float = 1e-6) -> None:
    assert len(result) == len(expected), (
        f"{what} must be a list with one array per model variable ({len(expected)}), like model.get_weights()")
    for i, (actual, wanted) in enumerate(zip(result, expected)):
        check_close(actual, wanted, f"{what}, variable {i},", rtol=1e-6, atol=atol)


def clients_of(inputs) -> tuple[list[list[np.ndarray]], list[int]]:
    """(client weights, sample counts) of a judge's inputs, variable j of client i being ``client_i_j``:
    copies, which the student's code may change without changing the inputs."""
    counts = [int(count) for count in inputs["counts"]]
    return [[array.copy() for array in unlisted(inputs, f"client_{i}")] for i in range(len(counts))], counts


def clients_inputs(client_weights, counts) -> dict:
    """The inverse of `clients_of`."""
    return {"counts": list(counts), **{key: value for i, weights in enumerate(client_weights)
                                       for key, value in listed(f"client_{i}", weights).items()}}


# --- exercise 1: federated averaging -------------------------------------------------------------

_PUBLIC_CLIENTS = clients_inputs([[np.array([[0.0, 2.0], [1.0, -1.0]]), np.array([0.5])],
                                  [np.array([[4.0, 6.0], [3.0, 1.0]]), np.array([-0.5])],
                                  [np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([2.5])]], [3, 1, 4])
# Written out: sum(n_k * w_k) / sum(n_k) of the public clients, and their plain mean.
_PUBLIC_AVERAGE = [np.array([[1.0, 2.0], [1.25, 0.25]]), np.array([1.375])]
_PUBLIC_PLAIN_MEAN = [np.array([[5 / 3, 3.0], [5 / 3, 1 / 3]]), np.array([2.5 / 3])]


def _clients_text(counts) -> str:
    return f"{len(counts)} clients with sample counts {tuple(counts)}"


@returns_evidence
def average_evidence(federated_average, client_weights, counts) -> dict:
    originals = [[array.copy() for array in weights] for weights in client_weights]
    result = _weight_list(call(federated_average, client_weights, list(counts)), f"federated_average of {_clients_text(counts)}")
    assert all(np.array_equal(a, b) for weights, kept in zip(client_weights, originals) for a, b in zip(weights, kept)), (
        "federated_average changed the clients' weight arrays in place; build new arrays")
    single = _weight_list(federated_average(client_weights[:1], [7]), "federated_average of a single client")
    return {**listed("average", result), **listed("single", single)}


def judge_federated_average(client_weights, counts, evidence, expected, plain_mean) -> None:
    result = unlisted(evidence, "average")
    if len(result) == len(plain_mean) and all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(result, plain_mean)):
        raise AssertionError(
            f"with sample counts {tuple(counts)}, federated_average returned the plain mean of the clients' weights: "
            "weight each client by its number of samples, sum(n_k * w_k) / sum(n_k)")
    check_weight_list(result, expected, f"federated_average of {_clients_text(counts)}")
    check_weight_list(unlisted(evidence, "single"), client_weights[0], "federated_average of a single client")


def check_federated_average(federated_average) -> None:
    client_weights, counts = clients_of(_PUBLIC_CLIENTS)
    judge_federated_average(client_weights, counts, average_evidence(federated_average, client_weights, counts),
                            _PUBLIC_AVERAGE, _PUBLIC_PLAIN_MEAN)


@collector
def hand_in_federated_average(inputs, federated_average) -> dict:
    return average_evidence(federated_average, *clients_of(inputs))


# --- exercise 2: which words a client's update gives away -----------------------------------------

def update_of(email: str, num_features: int, magnitudes) -> list[np.ndarray]:
    """An update like a client's after training on ``email``: exactly the kernel rows of its words
    changed, by ``magnitudes`` (both signs, some tiny), in the order of the columns."""
    columns = featurize([email], num_features)[0].nonzero()[0]
    kernel = np.zeros((num_features, 1), np.float32)
    kernel[columns, 0] = np.resize(np.asarray(magnitudes, np.float32), len(columns)) * np.where(np.arange(len(columns)) % 2, 1, -1)
    return [kernel, np.array([-0.03], np.float32)]


@returns_evidence
def words_evidence(words_in_update, email: str, magnitudes, candidates, num_features: int) -> dict:
    found = call(words_in_update, update_of(email, num_features, magnitudes), list(candidates))
    assert found is not None and not isinstance(found, str), "words_in_update must return a list of candidate words"
    return {"num_features": num_features, "found": np.array([str(word) for word in found], dtype=str)}


HASH_BUCKETS = (1024, 65_536)
"""The NUM_FEATURES words_in_update is judged with: with fewer columns most words collide (every
candidate would be found), and more would cost the grader too much memory."""


def judge_words_in_update(email: str, candidates, evidence) -> None:
    num_features = int(evidence["num_features"])
    assert HASH_BUCKETS[0] <= num_features <= HASH_BUCKETS[1], (
        f"NUM_FEATURES is {num_features}; the exercise needs {HASH_BUCKETS[0]:,} to {HASH_BUCKETS[1]:,} hash columns")
    changed = set(featurize([email], num_features)[0].nonzero()[0])
    candidate_columns = featurize(candidates, num_features).argmax(axis=1)
    expected = {word for word, column in zip(candidates, candidate_columns) if column in changed}
    found = {str(word) for word in evidence["found"]}
    missed, extra = sorted(expected - found), sorted(found - expected)
    assert not missed and not extra, (
        f"for an update whose kernel changed in {len(changed)} rows, words_in_update returned {sorted(found)}; "
        f"expected {sorted(expected)} (missed {missed}, wrongly included {extra}). A candidate was used when its "
        "column (featurize([word]), as the model saw it) has a non-zero change of either sign, however small, "
        "in the kernel update (update[0]); the bias says nothing about words")


_PUBLIC_EMAIL = "Subject: Q3 merger -- shred the offshore ledger before the auditors arrive"
_PUBLIC_CANDIDATES = ["bonus", "lawsuit", "password", "salary", "viagra", "mortgage", "weekend", "pipeline", "Merger",
                      "q3", "shred", "ledger", "auditors"]
_PUBLIC_MAGNITUDES = np.geomspace(1e-7, 0.5, 12)


def check_words_in_update(words_in_update, num_features: int) -> None:
    evidence = words_evidence(words_in_update, _PUBLIC_EMAIL, _PUBLIC_MAGNITUDES, _PUBLIC_CANDIDATES, num_features)
    judge_words_in_update(_PUBLIC_EMAIL, _PUBLIC_CANDIDATES, evidence)


@collector
def hand_in_words_in_update(inputs, words_in_update, num_features: int) -> dict:
    return words_evidence(words_in_update, str(inputs["email"]), inputs["magnitudes"],
                          [str(word) for word in inputs["candidates"]], num_features)


# --- exercise 3: secure aggregation ----------------------------------------------------------------

class RecordingPrivateKey(paillier.PaillierPrivateKey):
    """A private key that counts the numbers it decrypts (every decryption goes through raw_decrypt)."""

    def __init__(self, public_key, p, q):
        super().__init__(public_key, p, q)
        self.decrypted = 0

    def raw_decrypt(self, ciphertext):
        self.decrypted += 1
        return super().raw_decrypt(ciphertext)


def _keypair():
    """A fresh key of the check's own, whose private half counts what it decrypts."""
    public_key, private_key = paillier.generate_paillier_keypair(n_length=KEY_BITS)
    return public_key, RecordingPrivateKey(public_key, private_key.p, private_key.q)


def _encrypted(public_key, weights) -> list[np.ndarray]:
    return [np.array([public_key.encrypt(float(value)) for value in np.ravel(array)], dtype=object).reshape(np.shape(array))
            for array in weights]


def _decrypted(private_key, encrypted) -> list[np.ndarray]:
    return [np.array([private_key.decrypt(number) for number in np.ravel(array)]).reshape(np.shape(array))
            for array in encrypted]


def _check_encrypted(encrypted, public_key, what: str) -> None:
    assert isinstance(encrypted, (list, tuple)), f"{what} must be a list with one array per model variable"
    numbers = [number for array in encrypted for number in np.ravel(np.asarray(array, dtype=object))]
    assert all(isinstance(number, paillier.EncryptedNumber) for number in numbers), (
        f"{what} must hold phe EncryptedNumber objects (public_key.encrypt(float(value))); found "
        f"{sorted({type(number).__name__ for number in numbers})}")
    assert all(number.public_key == public_key for number in numbers), f"{what} was not encrypted with the given public key"


@returns_evidence
def encryption_evidence(encrypt_weights, aggregate_encrypted, decrypt_weights, client_weights, counts) -> dict:
    """Encrypting with the check's own key, aggregating ciphertexts and decrypting. The server's
    step gets ciphertexts from this key, whose private half it never sees: it can only add and
    scale them."""
    public_key, private_key = _keypair()
    encrypted = call(encrypt_weights, public_key, client_weights[0])
    _check_encrypted(encrypted, public_key, "encrypt_weights' result")
    aggregate = call(aggregate_encrypted, [_encrypted(public_key, weights) for weights in client_weights], list(counts))
    _check_encrypted(aggregate, public_key, "aggregate_encrypted's result")
    decrypted = _weight_list(call(decrypt_weights, private_key, encrypted), "decrypt_weights' result")
    return {**listed("encrypted", _decrypted(private_key, encrypted)), **listed("aggregate", _decrypted(private_key, aggregate)),
            **listed("decrypted", decrypted)}


def judge_encrypted_aggregation(client_weights, counts, evidence, expected) -> None:
    check_weight_list(unlisted(evidence, "encrypted"), client_weights[0], "encrypt_weights' result, decrypted", atol=1e-9)
    check_weight_list(unlisted(evidence, "aggregate"), expected, f"aggregate_encrypted of {_clients_text(counts)}, decrypted",
                      atol=1e-9)
    check_weight_list(unlisted(evidence, "decrypted"), client_weights[0], "decrypt_weights' result")


def check_encrypted_aggregation(encrypt_weights, aggregate_encrypted, decrypt_weights) -> None:
    client_weights, counts = clients_of(_PUBLIC_CLIENTS)
    evidence = encryption_evidence(encrypt_weights, aggregate_encrypted, decrypt_weights, client_weights, counts)
    judge_encrypted_aggregation(client_weights, counts, evidence, _PUBLIC_AVERAGE)


@collector
def hand_in_encrypted_aggregation(inputs, encrypt_weights, aggregate_encrypted, decrypt_weights) -> dict:
    return encryption_evidence(encrypt_weights, aggregate_encrypted, decrypt_weights, *clients_of(inputs))


@returns_evidence
def secure_average_evidence(secure_federated_average, client_weights, counts) -> dict:
    public_key, private_key = _keypair()
    result = _weight_list(call(secure_federated_average, client_weights, list(counts), public_key, private_key),
                          f"secure_federated_average of {_clients_text(counts)}")
    return {"decryptions": private_key.decrypted, **listed("result", result)}


def judge_server_decrypts_only_the_aggregate(client_weights, counts, evidence, expected) -> None:
    check_weight_list(unlisted(evidence, "result"), expected, f"secure_federated_average of {_clients_text(counts)}")
    aggregate_size = sum(np.size(array) for array in client_weights[0])
    assert int(evidence["decryptions"]) == aggregate_size, (
        f"secure_federated_average decrypted {int(evidence['decryptions'])} numbers, but the aggregate of these clients "
        f"holds {aggregate_size}: the server adds the encrypted updates and only the encrypted sum is ever "
        "decrypted, never a client's own update")


def check_server_decrypts_only_the_aggregate(secure_federated_average) -> None:
    client_weights, counts = clients_of(_PUBLIC_CLIENTS)
    evidence = secure_average_evidence(secure_federated_average, client_weights, counts)
    judge_server_decrypts_only_the_aggregate(client_weights, counts, evidence, _PUBLIC_AVERAGE)


@collector
def hand_in_server_decrypts_only_the_aggregate(inputs, secure_federated_average) -> dict:
    return secure_average_evidence(secure_federated_average, *clients_of(inputs))


# --- the trained models on the held-out emails -----------------------------------------------------

@functools.lru_cache(maxsize=2)
def _held_out_features(num_features: int) -> np.ndarray:
    return featurize(data.load_enron_spam("test")["text"], num_features)


def held_out_probabilities(model, what: str, order) -> np.ndarray:
    """``model``'s spam probability of each held-out email (of all six mailboxes), in the ``order``
    the grader drew for this run."""
    check_output_shape(model, (None, 1), what, "one spam probability per email (a sigmoid unit)")
    features = _held_out_features(model.input_shape[-1])[np.asarray(order)]
    return np.asarray(model.predict(features, batch_size=1024, verbose=0)).reshape(-1)


def judge_federated_accuracy(accuracy: float, where: str) -> str:
    assert accuracy >= FEDERATED_ACCURACY_THRESHOLD, (
        f"the federated model classifies {accuracy:.2%} of {where} correctly; at least "
        f"{FEDERATED_ACCURACY_THRESHOLD:.1%} is expected. Check that every round starts each client from the "
        "global weights and that the rounds' averages are weighted by sample counts")
    return f"the federated model: {accuracy:.2%} of {where} (needs {FEDERATED_ACCURACY_THRESHOLD:.1%})"


def judge_close_to_centralised(federated: float, centralised: float, where: str) -> str:
    assert centralised >= CENTRALISED_ACCURACY_THRESHOLD, (
        f"the centralised model classifies {centralised:.2%} of {where} correctly; at least "
        f"{CENTRALISED_ACCURACY_THRESHOLD:.1%} is expected when it trains on all six mailboxes' emails together")
    assert centralised - federated <= FEDERATED_MARGIN, (
        f"the federated model ({federated:.2%}) trails centralised training ({centralised:.2%}) by "
        f"{centralised - federated:.2%}; at most {FEDERATED_MARGIN:.1%} is expected with as many passes over the same emails")
    return f"{where}: federated {federated:.2%}, centralised {centralised:.2%}"


@collector
def hand_in_federated_accuracy(inputs, federated_model) -> dict:
    return {"federated": held_out_probabilities(federated_model, "the federated model", inputs["order"])}


@collector
def hand_in_close_to_centralised(inputs, federated_model, centralised_model) -> dict:
    return {"federated": held_out_probabilities(federated_model, "the federated model", inputs["order"]),
            "centralised": held_out_probabilities(centralised_model, "the centralised model", inputs["order"])}
