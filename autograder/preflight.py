"""Trusted checks of a submission before anything in it runs.

Only the assignment's notebooks (and nbgrader's timestamp.txt) are taken (a student's `numpy.py`
never reaches the kernel);
each must be a readable nbformat 4 notebook whose nbgrader metadata this grader understands.
Outputs are stripped and copies of locked cells dropped. Restoring locked and deleted graded
cells, resetting their points and types, and deduplicating copied answer cells is nbgrader's own
sanitising step (OverwriteCells with add_missing_cells, DeduplicateIds), which runs next, from
the gradebook.
"""

import json
from pathlib import Path

import nbformat
from nbgrader.nbgraderformat import SCHEMA_VERSION
from nbgrader.utils import parse_utc

from .errors import SubmissionError

MAX_NOTEBOOK_BYTES = 50 * 2**20
TIMESTAMP = "timestamp.txt"


def prepare(notebook_names: list[str], assignment: str, submitted: Path, destination: Path) -> None:
    """Copy the checked, output-free notebooks from ``submitted`` into ``destination``;
    SubmissionError names the first problem."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in notebook_names:
        path = submitted / name
        if not path.is_file() or path.is_symlink():
            raise SubmissionError(f"missing notebook {assignment}/{name}")
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
        notebook = _parse(name, path.read_bytes())
        _drop_copied_locked_cells(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, destination / name)
    _copy_timestamp(submitted, destination)


def _copy_timestamp(submitted: Path, destination: Path) -> None:
    """nbgrader's timestamp.txt (when `nbgrader collect` received the submission: late penalties
    count from it), if it is there and readable."""
    stamp = submitted / TIMESTAMP
    if not stamp.is_file() or stamp.is_symlink():
        return
    text = stamp.read_text(errors="replace").strip()[:100]
    try:
        parse_utc(text)
    except (ValueError, OverflowError):
        raise SubmissionError(f"{TIMESTAMP} holds {text!r}, not a time such as 2026-12-01 23:59:00 UTC") from None
    (destination / TIMESTAMP).write_text(text)


def _drop_copied_locked_cells(notebook) -> None:
    """Keep the first cell of each locked grade id: copies add nothing (the gradebook restores
    locked cells' source) and make nbgrader fail. Copied answer cells are left to nbgrader's
    DeduplicateIds, which keeps them as ordinary code."""
    seen, kept = set(), []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and meta.get("grade_id") in seen:
            continue
        seen.add(meta.get("grade_id"))
        kept.append(cell)
    notebook.cells = kept


def _parse(name: str, data: bytes):
    try:
        text = data.decode("utf-8")
        document = json.loads(text)  # for the line and column of a syntax error, which nbformat hides
    except UnicodeDecodeError:
        raise SubmissionError(f"{name} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise SubmissionError(f"{name} is not valid notebook JSON: {error.msg} at line {error.lineno}, "
                              f"column {error.colno} (was the file cut short or edited by hand?)") from None
    if not isinstance(document, dict) or document.get("nbformat") != 4:
        found = document.get("nbformat") if isinstance(document, dict) else type(document).__name__
        raise SubmissionError(f"{name} is not an nbformat 4 notebook (nbformat: {found})")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # any other parse or schema failure rejects this student only
        summary = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise SubmissionError(f"{name} is not a valid notebook ({type(error).__name__}: {summary})") from None
    for index, cell in enumerate(notebook.cells):
        version = cell.metadata.get("nbgrader", {}).get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise SubmissionError(f"{name}, cell {index + 1}: nbgrader metadata schema_version {version!r}; this "
                                  f"grader reads version {SCHEMA_VERSION} (was the metadata edited by hand?)")
    return notebook
