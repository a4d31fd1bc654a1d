"""The evidence a graded notebook's collectors saved (`coursekit.evidence`), read back by the grader.

The notebook wrote these files with the student's rights, so nothing in them is trusted: no
pickles, no code, no links, only arrays of numbers or strings under a size cap. The grader's
judges then decide what the evidence is worth.
"""

import os
import stat
from pathlib import Path

import numpy as np

from coursekit.evidence import EXPORTS, PLAIN_KINDS

MAX_BYTES = 200 * 2**20


class ExportError(Exception):
    """The notebook's exported arrays are missing or unusable."""


def load(folder: Path, name: str) -> dict[str, np.ndarray]:
    """The arrays the collector ``name`` exported in the notebook's working ``folder``; ExportError if
    missing, oversized or not plain numbers or strings."""
    path = Path(folder) / EXPORTS / f"{name}.npz"
    try:
        # O_NOFOLLOW: the student's folder may hold a symlink to a file only the grader can read.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ExportError(f"the notebook exported nothing for {name} (was the test cell changed?)") from None
    except OSError as error:
        raise ExportError(f"the export for {name} cannot be opened ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            raise ExportError(f"the export for {name} is not a regular file under {MAX_BYTES // 2**20} MB")
        try:
            with np.load(stream, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except Exception as error:
            raise ExportError(f"the export for {name} is not a NumPy archive of plain arrays ({error})") from None
    for key, array in arrays.items():
        if array.dtype.kind not in PLAIN_KINDS:
            raise ExportError(f"the export {name}/{key} holds {array.dtype}, not numbers or strings")
    return arrays
