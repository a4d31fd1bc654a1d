"""The guarded fixture assignment's data and its judges (run by the grader, outside the sandbox).
The test data come from a seed the notebook never sees; the hidden tests save their evidence
under their grade ids."""

import numpy as np

from autograder.judges import judge

ASSIGNMENT = "00_guarded"
TRUE_WEIGHTS, TRUE_BIAS, NOISE = np.array([1.5, -2.0, 0.5]), 3.0, 0.1
HIDDEN_SEED = 90210
MSE_THRESHOLD = 0.05


def _split(seed: int, size: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, 3))
    return x, x @ TRUE_WEIGHTS + TRUE_BIAS + rng.normal(scale=NOISE, size=size)


def write_public_data(path) -> None:
    """What students get: training and validation sets (the test set stays with the grader)."""
    (x_train, y_train), (x_valid, y_valid) = _split(1, 200), _split(2, 100)
    np.savez(path, x_train=x_train, y_train=y_train, x_valid=x_valid, y_valid=y_valid)


def _hidden_test_mse(weights: np.ndarray) -> float:
    assert weights.shape == (4,), f"exported weights have shape {weights.shape}, expected (4,)"
    x_test, y_test = _split(HIDDEN_SEED, 200)
    return float(np.mean((x_test @ weights[:-1] + weights[-1] - y_test) ** 2))


@judge("test_mse", "test_mse")
def judge_mse(inputs, evidence) -> None:
    a, b = np.random.default_rng(7).normal(size=(2, 50))
    assert np.isclose(evidence["value"], np.mean((a - b) ** 2)), "mean_squared_error gives a wrong value"


def _judge_weights(inputs, evidence) -> None:
    mse = _hidden_test_mse(evidence["weights"])
    assert mse < MSE_THRESHOLD, f"test MSE {mse:.3f} (needs < {MSE_THRESHOLD})"


judge("test_fit", "test_fit")(_judge_weights)
judge("test_keras_model", "test_keras_model")(_judge_weights)
