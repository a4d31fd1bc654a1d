"""Checks for assignment 6, federated spam detection with secure aggregation.

Model weights are lists of NumPy arrays, one per variable, as ``model.get_weights()`` returns
them; encrypted weights are the same lists of arrays of ``phe.EncryptedNumber`` (dtype object).
The models map hashed bag-of-words features (None, num_features) to a spam probability (None, 1);
the accuracy checks featurize and classify the held-out emails themselves, which the notebook
never loads, and the grader judges the predictions with their labels (`judge_held_out`).
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from phe import paillier

from .. import data
from .common import accuracy_of, check_close, check_output_shape, judge_exported, judge_held_out, listed, record, unlisted

# Measured with the reference notebook, `tools/calibrate.py 06 --seeds 0 1 2 3 4`
# (tensorflow-cpu 2.21.0, keras 3.15.1, 2-core CPU, 2026-11-23), accuracy on the 6,637 held-out
# emails; 10 rounds of federated averaging against 10 epochs of centralised training (SGD 0.5):
#   federated:    seed 0: 0.9763  seed 1: 0.9780  seed 2: 0.9777  seed 3: 0.9759  seed 4: 0.9768
#   centralised:  seed 0: 0.9833  seed 1: 0.9836  seed 2: 0.9842  seed 3: 0.9840  seed 4: 0.9813
#   centralised minus federated: 0.0069 / 0.0056 / 0.0065 / 0.0081 / 0.0045
# Each threshold is the worst run minus 0.006, the margin the worst gap plus 0.007. With SGD at
# 1.0 one seed's centralised model ended at 0.965 (a bad last step), hence the smaller rate.
FEDERATED_ACCURACY_THRESHOLD = 0.970
CENTRALISED_ACCURACY_THRESHOLD = 0.975
FEDERATED_MARGIN = 0.015

KEY_BITS = 1024
_COUNTS = (5, 1, 14)
_HIDDEN_EMAIL = "Subject: Q3 merger -- shred the offshore ledger before the auditors arrive"
_DECOYS = ("bonus", "lawsuit", "password", "salary", "viagra", "mortgage", "weekend", "pipeline")


def featurize(texts, num_features: int) -> np.ndarray:
    """The notebook's hashed bag of words: lower-cased, split on whitespace, farmhash buckets."""
    words = tf.strings.split(tf.strings.lower(list(texts)))
    return keras.ops.convert_to_numpy(layers.Hashing(num_features, output_mode="multi_hot")(words))


def _hidden_client_weights() -> list[list[np.ndarray]]:
    rng = np.random.default_rng(6)
    return [[rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)]
            for _ in _COUNTS]


def _weighted_average(client_weights, counts) -> list[np.ndarray]:
    total = sum(counts)
    return [sum(count * np.asarray(weights[i], np.float64) for weights, count in zip(client_weights, counts)) / total
            for i in range(len(client_weights[0]))]


def _weight_list(result, what: str) -> list[np.ndarray]:
    """A list of weight arrays, as evidence; AssertionError if ``result`` is not one."""
    assert isinstance(result, (list, tuple)), (
        f"{what} must be a list with one array per model variable, like model.get_weights()")
    return [np.asarray(array, dtype=np.float64) for array in result]


def _check_weight_list(result, expected: list[np.ndarray], what: str, atol: float = 1e-6) -> None:
    assert len(result) == len(expected), (
        f"{what} must be a list with one array per model variable ({len(expected)}), like model.get_weights()")
    for i, (actual, wanted) in enumerate(zip(result, expected)):
        check_close(actual, wanted, f"{what}, variable {i},", rtol=1e-6, atol=atol)


# --- exercise 1: federated averaging -------------------------------------------------------------

def check_federated_average(federated_average) -> None:
    client_weights = _hidden_client_weights()
    originals = [[array.copy() for array in weights] for weights in client_weights]
    result = _weight_list(federated_average(client_weights, list(_COUNTS)),
                          f"federated_average of 3 clients with sample counts {_COUNTS}")
    assert all(np.array_equal(a, b) for weights, kept in zip(client_weights, originals) for a, b in zip(weights, kept)), (
        "federated_average changed the clients' weight arrays in place; build new arrays")
    single = _weight_list(federated_average(client_weights[:1], [7]), "federated_average of a single client")
    judge_exported("test_federated_average", judge_federated_average, **listed("average", result), **listed("single", single))


def judge_federated_average(arrays) -> None:
    client_weights = _hidden_client_weights()
    result = unlisted(arrays, "average")
    unweighted = _weighted_average(client_weights, (1,) * len(_COUNTS))
    if len(result) == len(unweighted) and all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(result, unweighted)):
        raise AssertionError(
            f"with sample counts {_COUNTS}, federated_average returned the plain mean of the clients' weights: "
            "weight each client by its number of samples, sum(n_k * w_k) / sum(n_k)")
    _check_weight_list(result, _weighted_average(client_weights, _COUNTS),
                       f"federated_average of 3 clients with sample counts {_COUNTS}")
    _check_weight_list(unlisted(arrays, "single"), client_weights[0], "federated_average of a single client")


# --- exercise 2: which words a client's update gives away -----------------------------------------

def hidden_update(num_features: int) -> tuple[list[np.ndarray], list[str]]:
    """An update like a client's after training on a hidden email, and the email's words
    (lower-cased): exactly their kernel rows changed, with both signs and some tiny changes."""
    words = sorted(set(_HIDDEN_EMAIL.lower().split()))
    columns = featurize([_HIDDEN_EMAIL], num_features)[0].nonzero()[0]
    kernel = np.zeros((num_features, 1), np.float32)
    magnitudes = np.geomspace(1e-7, 0.5, len(columns)).astype(np.float32)
    kernel[columns, 0] = magnitudes * np.where(np.arange(len(columns)) % 2, 1, -1)
    return [kernel, np.array([-0.03], np.float32)], words


def _candidates(words: list[str]) -> list[str]:
    return [*_DECOYS, "Merger", *words[::2]]


def check_words_in_update(words_in_update, num_features: int) -> None:
    update, words = hidden_update(num_features)
    found = words_in_update(update, _candidates(words))
    assert found is not None and not isinstance(found, str), "words_in_update must return a list of candidate words"
    judge_exported("test_words_in_update", judge_words_in_update, num_features=num_features,
                   found=np.array([str(word) for word in found], dtype=str))


def judge_words_in_update(arrays) -> None:
    update, words = hidden_update(int(arrays["num_features"]))
    candidates = _candidates(words)
    changed = set(update[0][:, 0].nonzero()[0])
    candidate_columns = featurize(candidates, int(arrays["num_features"])).argmax(axis=1)
    expected = {word for word, column in zip(candidates, candidate_columns) if column in changed}
    found = {str(word) for word in arrays["found"]}
    missed, extra = sorted(expected - found), sorted(found - expected)
    assert not missed and not extra, (
        f"for an update whose kernel changed in {len(changed)} rows, words_in_update returned {sorted(found)}; "
        f"expected {sorted(expected)} (missed {missed}, wrongly included {extra}). A candidate was used when its "
        "column (featurize([word]), as the model saw it) has a non-zero change of either sign, however small, "
        "in the kernel update (update[0]); the bias says nothing about words")


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


def check_encrypted_aggregation(encrypt_weights, aggregate_encrypted, decrypt_weights) -> None:
    """Encrypting with the check's own key, aggregating ciphertexts and decrypting, each against
    the plain computation. The server's step gets ciphertexts from this key, whose private half it
    never sees: it can only add and scale them."""
    public_key, private_key = _keypair()
    client_weights = _hidden_client_weights()
    encrypted = encrypt_weights(public_key, client_weights[0])
    _check_encrypted(encrypted, public_key, "encrypt_weights' result")
    aggregate = aggregate_encrypted([_encrypted(public_key, weights) for weights in client_weights], list(_COUNTS))
    _check_encrypted(aggregate, public_key, "aggregate_encrypted's result")
    judge_exported("test_encrypted_aggregation", judge_encrypted_aggregation,
                   **listed("encrypted", _decrypted(private_key, encrypted)),
                   **listed("aggregate", _decrypted(private_key, aggregate)),
                   **listed("decrypted", _weight_list(decrypt_weights(private_key, encrypted), "decrypt_weights' result")))


def judge_encrypted_aggregation(arrays) -> None:
    client_weights = _hidden_client_weights()
    _check_weight_list(unlisted(arrays, "encrypted"), client_weights[0], "encrypt_weights' result, decrypted", atol=1e-9)
    _check_weight_list(unlisted(arrays, "aggregate"), _weighted_average(client_weights, _COUNTS),
                       f"aggregate_encrypted of 3 clients with sample counts {_COUNTS}, decrypted", atol=1e-9)
    _check_weight_list(unlisted(arrays, "decrypted"), client_weights[0], "decrypt_weights' result")


def check_server_decrypts_only_the_aggregate(secure_federated_average) -> None:
    public_key, private_key = _keypair()
    client_weights = _hidden_client_weights()
    result = _weight_list(secure_federated_average(client_weights, list(_COUNTS), public_key, private_key),
                          f"secure_federated_average of 3 clients with sample counts {_COUNTS}")
    judge_exported("test_server_decrypts_only_the_aggregate", judge_server_decrypts_only_the_aggregate,
                   decryptions=private_key.decrypted, **listed("result", result))


def judge_server_decrypts_only_the_aggregate(arrays) -> None:
    client_weights = _hidden_client_weights()
    _check_weight_list(unlisted(arrays, "result"), _weighted_average(client_weights, _COUNTS),
                       f"secure_federated_average of 3 clients with sample counts {_COUNTS}")
    aggregate_size = sum(array.size for array in client_weights[0])
    assert int(arrays["decryptions"]) == aggregate_size, (
        f"secure_federated_average decrypted {int(arrays['decryptions'])} numbers, but the aggregate of these clients "
        f"holds {aggregate_size}: the server adds the encrypted updates and only the encrypted sum is ever "
        "decrypted, never a client's own update")


# --- the trained models, re-measured on the held-out emails --------------------------------------

@functools.lru_cache(maxsize=2)
def _held_out_features(num_features: int) -> np.ndarray:
    return featurize(data.load_enron_spam("test")["text"], num_features)


def held_out_probabilities(model, what: str) -> np.ndarray:
    """``model``'s spam probability of each held-out email (of all six mailboxes)."""
    check_output_shape(model, (None, 1), what, "one spam probability per email (a sigmoid unit)")
    features = _held_out_features(model.input_shape[-1])
    return np.asarray(model.predict(features, batch_size=1024, verbose=0)).reshape(-1)


def held_out_accuracy(probabilities) -> float:
    """Accuracy of spam probabilities of the held-out emails, at a threshold of 0.5 (needs their labels)."""
    return accuracy_of(np.asarray(probabilities) > 0.5, data.load_enron_spam("test")["label"].to_numpy())


def check_federated_accuracy(federated_model) -> None:
    judge_held_out("test_federated_accuracy", judge_federated_accuracy,
                   federated=held_out_probabilities(federated_model, "the federated model"))


def judge_federated_accuracy(arrays) -> str:
    accuracy = record("federated_accuracy", held_out_accuracy(arrays["federated"]))
    assert accuracy >= FEDERATED_ACCURACY_THRESHOLD, (
        f"the federated model classifies {accuracy:.2%} of the held-out emails correctly; at least "
        f"{FEDERATED_ACCURACY_THRESHOLD:.1%} is expected. Check that every round starts each client from the "
        "global weights and that the rounds' averages are weighted by sample counts")
    return f"the federated model: {accuracy:.2%} of the held-out emails (needs {FEDERATED_ACCURACY_THRESHOLD:.1%})"


def check_close_to_centralised(federated_model, centralised_model) -> None:
    judge_held_out("test_close_to_centralised", judge_close_to_centralised,
                   federated=held_out_probabilities(federated_model, "the federated model"),
                   centralised=held_out_probabilities(centralised_model, "the centralised model"))


def judge_close_to_centralised(arrays) -> str:
    federated = held_out_accuracy(arrays["federated"])
    centralised = record("centralised_accuracy", held_out_accuracy(arrays["centralised"]))
    assert centralised >= CENTRALISED_ACCURACY_THRESHOLD, (
        f"the centralised model classifies {centralised:.2%} of the held-out emails correctly; at least "
        f"{CENTRALISED_ACCURACY_THRESHOLD:.1%} is expected when it trains on all six mailboxes' emails together")
    gap = record("centralised_minus_federated", centralised - federated)
    assert gap <= FEDERATED_MARGIN, (
        f"the federated model ({federated:.2%}) trails centralised training ({centralised:.2%}) by "
        f"{gap:.2%}; at most {FEDERATED_MARGIN:.1%} is expected with as many passes over the same emails")
    return f"held-out emails: federated {federated:.2%}, centralised {centralised:.2%}"
