"""What the checks of every assignment share."""

import keras
import numpy as np


def call(function, *arguments, **options):
    """``function(*arguments, **options)``, the student's code, saying so when it is not written yet."""
    try:
        return function(*arguments, **options)
    except NotImplementedError:
        raise AssertionError(f"{getattr(function, '__name__', 'this function')} is not written yet: replace "
                             "`raise NotImplementedError()` under `# YOUR CODE HERE` with your code") from None


def accuracy_of(classes, labels) -> float:
    """Share of predicted classes equal to ``labels`` (one prediction per label)."""
    classes, labels = np.asarray(classes), np.asarray(labels)
    assert classes.shape == labels.shape, f"got predictions of shape {classes.shape}; expected {labels.shape}"
    return float(np.mean(classes == labels))


def check_close(actual, expected, what: str, rtol: float = 1e-6, atol: float = 1e-6) -> None:
    actual_array = np.asarray(actual, dtype=np.float64)
    expected_array = np.asarray(expected, dtype=np.float64)
    assert actual_array.shape == expected_array.shape, (
        f"{what} has shape {actual_array.shape}; expected {expected_array.shape}")
    assert np.allclose(actual_array, expected_array, rtol=rtol, atol=atol), (
        f"{what} is {short(actual_array)}; expected {short(expected_array)}")


def check_compiled(model, what: str = "the model") -> None:
    assert getattr(model, "optimizer", None) is not None and getattr(model, "compiled", True), (
        f"{what} is not compiled: call model.compile(optimizer=..., loss=...) before returning it")


def optimizer_of(model) -> tuple[str, float]:
    """(class name, learning rate) of the optimizer ``model`` was compiled with: what the grader reads
    from an exported compile config (`autograder.models.optimizer_name` and `learning_rate`)."""
    return type(model.optimizer).__name__, float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def check_output_shape(model, expected: tuple, what: str = "the model", hint: str = "") -> None:
    actual = tuple(model.output_shape)
    assert actual == tuple(expected), (
        f"{what} output shape is {actual}; expected {tuple(expected)}" + (f": {hint}" if hint else ""))


def compiled_loss_evidence(model, inputs, labels) -> dict:
    """What `model.evaluate` reports on ``inputs``: its loss and the names of what it tracks."""
    measured = model.evaluate(inputs, labels, verbose=0, return_dict=True)
    return {"loss": measured.get("loss", np.nan), "tracked": sorted(measured)}


def judge_compiled_loss(evidence, expected_loss, what: str, rtol: float = 1e-4) -> None:
    """The reported loss equals ``expected_loss``, and accuracy is tracked."""
    check_close(evidence["loss"], expected_loss, what, rtol=rtol)
    assert "accuracy" in evidence["tracked"], (
        f"compile the model with metrics=['accuracy']; it tracks {[str(name) for name in evidence['tracked']]}")


def sparse_cross_entropy(logits, labels) -> float:
    """Mean cross-entropy of integer ``labels`` under ``logits`` (classes on the last axis), by Keras' own loss."""
    return float(keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)).mean())


def short(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array), precision=6, threshold=8)
