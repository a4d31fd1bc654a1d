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
from .untrusted import UnreadableFile, clip, read_regular

MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_CELLS = 500
"""More than ten times the cells of the largest notebook of the course: nbgrader's own passes over
a notebook take time per cell, which a notebook of thousands of cells would make the grader's."""
TIMESTAMP = "timestamp.txt"
_NBGRADER_FLAGS = ("grade", "solution", "locked", "task")


def prepare(notebook_names: list[str], assignment: str, submitted: Path, destination: Path) -> None:
    """Copy the checked, output-free notebooks from ``submitted`` into ``destination``;
    SubmissionError names the first problem."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in notebook_names:
        try:
            data = read_regular(submitted / name, MAX_NOTEBOOK_BYTES)
        except FileNotFoundError:
            raise SubmissionError(f"missing notebook {assignment}/{name}") from None
        except UnreadableFile as error:
            raise SubmissionError(f"{assignment}/{error}") from None
        try:
            _write_checked(name, data, destination)
        except SubmissionError:
            raise
        except Exception as error:  # whatever else a crafted file provokes rejects this student only
            raise SubmissionError(f"{name} cannot be read ({type(error).__name__}: {clip(error)})") from None
    _copy_timestamp(submitted, destination)


def _write_checked(name: str, data: bytes, destination: Path) -> None:
    notebook = _parse(name, data)
    _drop_copied_locked_cells(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    text = nbformat.writes(notebook)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise SubmissionError(f"{name} holds text that is not Unicode ({error.reason} at character {error.start}: "
                              "an escaped lone surrogate such as \\ud800)") from None
    (destination / name).write_bytes(encoded)


def _copy_timestamp(submitted: Path, destination: Path) -> None:
    """nbgrader's timestamp.txt (when `nbgrader collect` received the submission: late penalties
    count from it), if it is there and readable."""
    try:
        text = read_regular(submitted / TIMESTAMP, 1000).decode("utf-8", "replace").strip()[:100]
    except (FileNotFoundError, UnreadableFile):
        return
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
    except RecursionError:
        raise SubmissionError(f"{name} nests its JSON too deeply to be a notebook") from None
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
        raise SubmissionError(f"{name} is not a valid notebook ({type(error).__name__}: {clip(summary)})") from None
    if len(notebook.cells) > MAX_CELLS:
        raise SubmissionError(f"{name} has {len(notebook.cells)} cells; a notebook of this course has at most {MAX_CELLS}")
    for index, cell in enumerate(notebook.cells):
        problem = _nbgrader_metadata_problem(cell.metadata.get("nbgrader", {}))
        if problem:
            raise SubmissionError(f"{name}, cell {index + 1}: {problem} (was the metadata edited by hand?)")
    return notebook


def _nbgrader_metadata_problem(meta) -> str:
    """What in a cell's nbgrader metadata this grader cannot take ("" where nothing)."""
    if not isinstance(meta, dict):
        return f"its nbgrader metadata is a {type(meta).__name__}, not an object"
    version = meta.get("schema_version", SCHEMA_VERSION)
    if type(version) is not int or version > SCHEMA_VERSION:
        return f"nbgrader metadata schema_version {clip(repr(version), 40)}; this grader reads version {SCHEMA_VERSION}"
    if "grade_id" in meta and not isinstance(meta["grade_id"], str):
        return f"its grade_id is a {type(meta['grade_id']).__name__}, not a string"
    if "points" in meta and (type(meta["points"]) not in (int, float) or not 0 <= meta["points"] < 1e6):
        return f"its points are {clip(repr(meta['points']), 40)}, not a number of points"
    wrong = [flag for flag in _NBGRADER_FLAGS if flag in meta and type(meta[flag]) is not bool]
    return f"its nbgrader flag {wrong[0]} is not true or false" if wrong else ""
