"""What a hidden test hands to the grader.

A hidden test's half inside the notebook is a *collector* (decorated with `collector`): it runs
the student's code on the hidden inputs that the grader drew for this grading run and left in the
notebook's working folder (``inputs/<collector>.npz``), and saves what the code gave, its
evidence, as plain arrays (``exports/<collector>.npz``). The grader's judge then compares the
evidence, in the grader's own process, with what its reference code computes from the same
inputs. Nothing in this package knows those answers, so nothing done inside the notebook can
fake a pass: forging the evidence means solving the exercise.

Outside a grading run (an instructor's notebook, with the grader installed) a collector draws
inputs from the grader itself and shows the judge's verdict in the cell.
"""

import functools
import json
import sys
from pathlib import Path

import numpy as np

from .errors import HiddenInputsMissing

INPUTS = "inputs"
"""Where, in the notebook's working folder, the grader leaves each collector's hidden inputs."""
EXPORTS = "exports"
"""Where, in the notebook's working folder, collectors save their evidence for the grader."""
PLAIN_KINDS = "biufU"
"""Booleans, integers, floats and strings: what np.load reads without unpickling."""
RUN_TOKEN = "run_token"
"""The file in INPUTS that names this grading run; every export carries it (`TOKEN_KEY`), so an
export copied from another run, or another student's, is refused."""
TOKEN_KEY = "_run_token"
MODEL_CONFIG = "_config"
"""The suffix of the key under which `model_arrays` saves a model's Keras config."""


def collector(function):
    """Make ``function(inputs, *student_objects)``, which returns the evidence (a dict of arrays)
    of the student's objects on ``inputs``, a hidden test's collector: called with the student's
    objects alone, it reads its inputs, saves the evidence under its own name and returns nothing
    (a value shown as a test cell's result would read as partial credit to nbgrader). Its module
    names its assignment (``ASSIGNMENT``)."""
    assignment = sys.modules[function.__module__].ASSIGNMENT

    @functools.wraps(function)
    def hand_in(*student_objects, **options) -> None:
        inputs, judge_here = _hidden_inputs(assignment, function.__name__)
        evidence = save(function.__name__, function(inputs, *student_objects, **options))
        if judge_here is not None:
            verdict = judge_here(evidence)
            if verdict:
                print(verdict)

    return hand_in


def _hidden_inputs(assignment: str, name: str):
    """(inputs, None) as the grader left them for this run; outside a grading run, where the grader
    is installed, (inputs it draws now, its judge)."""
    path = Path(INPUTS) / f"{name}.npz"
    if path.exists():
        return load(path), None
    try:
        from autograder.judges import in_kernel
    except ImportError:
        raise HiddenInputsMissing(f"the hidden inputs of {name} come with a grading run: this hidden test runs only "
                                  "when the notebook is graded") from None
    return in_kernel(assignment, name)


def save(name: str, evidence: dict) -> dict[str, np.ndarray]:
    """Write ``evidence`` (NumPy-convertible: numbers or strings) as ``exports/<name>.npz``, with
    the grading run's token where there is one; return the evidence as arrays."""
    arrays = as_arrays(evidence)
    token = Path(INPUTS) / RUN_TOKEN
    folder = Path(EXPORTS)
    folder.mkdir(exist_ok=True)
    np.savez(folder / f"{name}.npz", **arrays, **({TOKEN_KEY: np.asarray(token.read_text())} if token.exists() else {}))
    return arrays


def as_arrays(evidence: dict) -> dict[str, np.ndarray]:
    """``evidence`` as the grader reads it back: plain arrays of numbers or strings."""
    arrays = {key: np.asarray(value) for key, value in evidence.items()}
    for key, array in arrays.items():
        if array.dtype.kind not in PLAIN_KINDS:
            raise TypeError(f"the check cannot hand {key} to the grader: it holds {array.dtype} ({str(array)[:60]}), "
                            "not numbers or strings")
    return arrays


def returns_evidence(function):
    """Make an evidence function return what the judges see: `as_arrays` of its result (so that a
    visible check judges exactly what a hidden test would hand in)."""
    @functools.wraps(function)
    def as_evidence(*arguments, **options) -> dict[str, np.ndarray]:
        return as_arrays(function(*arguments, **options))
    return as_evidence


def load(path: Path) -> dict[str, np.ndarray]:
    """The plain arrays of a NumPy archive (never unpickled)."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def model_arrays(model, name: str) -> dict[str, np.ndarray]:
    """``model`` as plain arrays, for a grader that rebuilds it (`autograder.models.rebuilt`): its
    Keras config as JSON text, whether and how it was compiled, and its weights."""
    return {f"{name}{MODEL_CONFIG}": np.asarray(model.to_json()), **compile_arrays(model, name),
            **listed(f"{name}_weights", model.get_weights())}


def compile_arrays(model, name: str) -> dict[str, np.ndarray]:
    """Whether and how ``model`` was compiled: its Keras compile config as JSON text (null if not)."""
    compiled = model.get_compile_config() if getattr(model, "optimizer", None) is not None else None
    return {f"{name}_compile": np.asarray(json.dumps(compiled, default=str))}


def listed(name: str, items) -> dict[str, np.ndarray]:
    """Arrays for a list of arrays of any shapes: ``{name_0: items[0], ...}`` and the count."""
    items = list(items)
    return {f"{name}_count": np.asarray(len(items)), **{f"{name}_{i}": np.asarray(item) for i, item in enumerate(items)}}


def unlisted(arrays: dict, name: str) -> list[np.ndarray]:
    """The list that `listed` made under ``name``."""
    return [arrays[f"{name}_{i}"] for i in range(int(arrays[f"{name}_count"]))]
