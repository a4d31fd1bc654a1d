"""Plain arrays a graded cell hands to the grader's trusted recomputation.

Inside the kernel a hidden test calls ``save("test_accuracy", predictions=...)``; after the run
the grader reads them back with ``load`` (no pickles, no code: arrays of numbers or strings) and
recomputes the check on data the kernel never sees. Anything in the kernel can be patched, so
the grader believes the recomputation, not the cell's verdict.
"""

import os
import stat
from pathlib import Path

import numpy as np

FOLDER = "exports"
"""Where, in the notebook's working folder, the arrays are written."""
MAX_BYTES = 200 * 2**20
PLAIN_KINDS = "biufU"
"""Booleans, integers, floats and strings: what np.load reads without unpickling."""


def save(grade_id: str, **arrays) -> None:
    """Write ``arrays`` (NumPy-convertible: numbers or strings) for the graded cell ``grade_id``. Returns
    nothing: a value shown as a test cell's result would read as partial credit to nbgrader."""
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    for name, array in arrays.items():
        if array.dtype.kind not in PLAIN_KINDS:
            raise ExportError(f"the check cannot hand {name} to the grader: it holds {array.dtype} ({str(array)[:60]}), "
                              "not numbers or strings")
    folder = Path(FOLDER)
    folder.mkdir(exist_ok=True)
    np.savez(folder / f"{grade_id}.npz", **arrays)


class ExportError(Exception):
    """The notebook's exported arrays are missing or unusable."""


def load(folder: Path, grade_id: str) -> dict[str, np.ndarray]:
    """The arrays exported for ``grade_id``; ExportError if missing, oversized or not plain numbers or strings."""
    path = Path(folder) / FOLDER / f"{grade_id}.npz"
    try:
        # O_NOFOLLOW: the student's folder may hold a symlink to a file only the grader can read.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ExportError(f"the notebook exported nothing for {grade_id} (was the test cell changed?)") from None
    except OSError as error:
        raise ExportError(f"the export for {grade_id} cannot be opened ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            raise ExportError(f"the export for {grade_id} is not a regular file under {MAX_BYTES // 2**20} MB")
        try:
            with np.load(stream, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except Exception as error:
            raise ExportError(f"the export for {grade_id} is not a NumPy archive of plain arrays ({error})") from None
    for name, array in arrays.items():
        if array.dtype.kind not in PLAIN_KINDS:
            raise ExportError(f"the export {grade_id}/{name} holds {array.dtype}, not numbers or strings")
    return arrays
