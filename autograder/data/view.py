"""The course data as graded notebooks see it: the held-out labels withheld.

The grading sandbox shows notebooks this view instead of the data folder. A notebook can still
predict on held-out inputs, but it cannot read the answers: the hidden tests export their
predictions and the grader judges them with the real labels (``autograder.checks`` judges,
registered in nbgrader_config.py as ``TrustedRecheck.held_out_checks``).

Withheld so far: the MNIST and Fashion-MNIST test labels and the sale prices of the held-out
Ames houses. The IMDB, flower photo, Enron and Tiny Shakespeare held-out splits are still
visible to graded notebooks.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .loaders import AMES_FILE, ames_held_out_rows
from .store import WITHHELD_MARKER, data_dir

WITHHELD_FILES = ("mnist/t10k-labels-idx1-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz")


def grading_view(folder: Path) -> dict[str, Path]:
    """{path inside the data folder: the file or folder shown there}: the data folder less the
    withheld labels, with stand-ins written into ``folder`` (afresh each call, so they follow the
    data folder). Folders with nothing withheld are shown whole."""
    folder.mkdir(parents=True, exist_ok=True)
    source = data_dir() / AMES_FILE
    replaced = dict.fromkeys(WITHHELD_FILES) | {WITHHELD_MARKER: _written(folder / WITHHELD_MARKER, lambda target: (
        target.write_text("Held-out labels are withheld from graded notebooks; the grader measures them.\n")))}
    if source.exists():  # shown with the held-out houses' SalePrice left empty
        replaced[AMES_FILE] = _written(folder / "AmesHousing.txt",
                                       lambda target: _without_held_out_prices(source, target))
    view = {relpath: path for relpath, path in replaced.items() if path is not None}
    _show(data_dir(), "", replaced, view)
    return view


def _show(directory: Path, prefix: str, replaced: dict, view: dict) -> None:
    for entry in sorted(directory.iterdir()):
        relpath = prefix + entry.name
        if entry.name.startswith(".") or relpath in replaced:
            continue
        if entry.is_dir() and any(path.startswith(relpath + "/") for path in replaced):
            _show(entry, relpath + "/", replaced, view)
        else:
            view[relpath] = entry


def _written(path: Path, write) -> Path:
    """``path``, written by ``write(partial_path)`` and renamed into place (a run that reads it
    meanwhile sees the old or the new file, never half of one)."""
    partial = path.with_name(f".partial-{os.getpid()}-{path.name}")
    write(partial)
    partial.chmod(0o644)
    os.replace(partial, path)
    return path


def _without_held_out_prices(source: Path, target: Path) -> None:
    frame = pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False)
    # The loader hashes the parcel id as a number (the file writes some with a leading zero).
    frame.loc[ames_held_out_rows(frame.assign(PID=frame["PID"].astype(np.int64))), "SalePrice"] = ""
    frame.to_csv(target, sep="\t", index=False)
