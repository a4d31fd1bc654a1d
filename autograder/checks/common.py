"""Checks shared by every assignment."""

from collections.abc import Callable

import keras
import numpy as np

from .. import data, exports

MEASUREMENTS: dict[str, float] = {}


def record(name: str, value: float) -> float:
    """Remember a measurement (for calibration and reports) and return it."""
    MEASUREMENTS[name] = float(value)
    return float(value)


def judge_exported(grade_id: str, judge: Callable[[dict], str | None], **evidence) -> None:
    """Judge ``evidence`` here and hand it to the grader, who judges it again outside the kernel.

    ``evidence`` is what the student's code gave on the check's own inputs, as plain arrays (see
    `listed` for lists); ``judge(arrays)`` regenerates those inputs, compares and raises
    AssertionError naming the mistake. It is registered for ``grade_id`` in nbgrader_config.py
    (``c.TrustedRecheck.rechecks``): a kernel that hides a failed assertion here, or never reaches
    the export, cannot hide it from the grader."""
    judge(_exported(grade_id, evidence))


def judge_held_out(grade_id: str, judge: Callable[[dict], str], **predictions) -> None:
    """Hand ``predictions`` on held-out inputs to the grader, who judges them with the held-out
    answers (``judge(arrays)`` raises AssertionError or returns a summary; it is registered for
    ``grade_id`` in nbgrader_config.py as a held-out check). Where this kernel can read those
    answers (instructors' runs, not the grading sandbox) they are judged here too."""
    arrays = _exported(grade_id, predictions)
    if data.labels_withheld():
        print("The held-out labels are withheld from graded notebooks: the grader measures this test.")
    else:
        print(judge(arrays))


def _exported(grade_id: str, values: dict) -> dict[str, np.ndarray]:
    """``values`` as arrays, written for the grader; the judge here sees exactly what it will."""
    arrays = {name: np.asarray(value) for name, value in values.items()}
    exports.save(grade_id, **arrays)
    return arrays


def listed(name: str, items) -> dict[str, np.ndarray]:
    """Evidence for a list of arrays of any shapes: ``{name_0: items[0], ...}`` and the count."""
    items = list(items)
    return {f"{name}_count": np.asarray(len(items)), **{f"{name}_{i}": np.asarray(item) for i, item in enumerate(items)}}


def unlisted(arrays: dict, name: str) -> list[np.ndarray]:
    """The list that `listed` exported under ``name``."""
    return [arrays[f"{name}_{i}"] for i in range(int(arrays[f"{name}_count"]))]


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


def compiled_loss_evidence(model, inputs, labels) -> dict:
    """What `model.evaluate` reports on ``inputs``: its loss and the names of what it tracks."""
    measured = model.evaluate(inputs, labels, verbose=0, return_dict=True)
    return {"loss": measured.get("loss", np.nan), "tracked": sorted(measured)}


def judge_compiled_loss(arrays, expected_loss, what: str, rtol: float = 1e-4) -> None:
    """The reported loss equals ``expected_loss``, and accuracy is tracked."""
    check_close(arrays["loss"], expected_loss, what, rtol=rtol)
    assert "accuracy" in arrays["tracked"], (
        f"compile the model with metrics=['accuracy']; it tracks {[str(name) for name in arrays['tracked']]}")


def sparse_cross_entropy(logits, labels) -> float:
    """Mean cross-entropy of integer ``labels`` under ``logits`` (classes on the last axis), by Keras' own loss."""
    return float(keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)).mean())


def check_output_shape(model, expected: tuple, what: str = "the model", hint: str = "") -> None:
    actual = tuple(model.output_shape)
    assert actual == tuple(expected), (
        f"{what} output shape is {actual}; expected {tuple(expected)}" + (f": {hint}" if hint else ""))


def _short(array: np.ndarray) -> str:
    return np.array2string(array, precision=6, threshold=8)
