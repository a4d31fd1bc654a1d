"""Checks shared by every assignment."""

from collections.abc import Callable

import numpy as np

from .. import data, exports

MEASUREMENTS: dict[str, float] = {}


def record(name: str, value: float) -> float:
    """Remember a measurement (for calibration and reports) and return it."""
    MEASUREMENTS[name] = float(value)
    return float(value)


def judge_held_out(grade_id: str, judge: Callable[[dict], str], **predictions) -> None:
    """Hand ``predictions`` on held-out inputs to the grader, who judges them with the held-out
    labels (``judge(arrays)`` raises AssertionError or returns a summary; it is registered for
    ``grade_id`` in nbgrader_config.py). Where this kernel can read those labels (instructors'
    runs, not the grading sandbox) they are judged here too."""
    arrays = {name: np.asarray(value) for name, value in predictions.items()}
    exports.save(grade_id, **arrays)
    if data.labels_withheld():
        print("The held-out labels are withheld from graded notebooks: the grader measures this test.")
    else:
        print(judge(arrays))


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
        f"{what} is {_short(actual_array)}; expected {_short(expected_array)}")


def check_compiled(model, what: str = "the model") -> None:
    assert getattr(model, "optimizer", None) is not None and getattr(model, "compiled", True), (
        f"{what} is not compiled: call model.compile(optimizer=..., loss=...) before returning it")


def check_compiled_loss(model, inputs, labels, expected_loss, what: str, rtol: float = 1e-4) -> None:
    """The loss that `model.evaluate` reports equals `expected_loss`, and accuracy is tracked."""
    measured = model.evaluate(inputs, labels, verbose=0, return_dict=True)
    check_close(measured["loss"], expected_loss, what, rtol=rtol)
    assert "accuracy" in measured, f"compile the model with metrics=['accuracy']; it tracks {sorted(measured)}"


def check_output_shape(model, expected: tuple, what: str = "the model", hint: str = "") -> None:
    actual = tuple(model.output_shape)
    assert actual == tuple(expected), (
        f"{what} output shape is {actual}; expected {tuple(expected)}" + (f": {hint}" if hint else ""))


def _short(array: np.ndarray) -> str:
    return np.array2string(array, precision=6, threshold=8)
