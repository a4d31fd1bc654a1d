"""Shared fixtures: a tiny course (one assignment, no TensorFlow training), a data folder, and
the rules for tests that need the sandbox (marked ``sandbox``)."""

import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import data
from autograder.dispatch import local_gpus

REPO = Path(__file__).resolve().parents[1]
TINY = "00_tiny"

# What a graded cell prints when it imports TensorFlow for the first time in a kernel.
TENSORFLOW_IMPORT_CELL = "import tensorflow as tf\nassert add(2, 2) == 4"


def _has_gpu() -> bool:
    return bool(local_gpus())  # none where nvidia-smi cannot run (any OSError) or lists none


REQUIRE_SANDBOX = os.environ.get("AUTOGRADER_REQUIRE_SANDBOX") == "1"
"""Set by CI (.ci/run): a sandbox test that cannot run here fails instead of being skipped."""


def skip_or_fail(reason: str) -> None:
    """Skip a sandbox test this machine cannot run, saying why; in CI, fail it (CI must keep
    testing the whole sandbox)."""
    if REQUIRE_SANDBOX:
        pytest.fail(f"AUTOGRADER_REQUIRE_SANDBOX=1, but {reason}", pytrace=False)
    pytest.skip(reason)


FIGURES = "AUTOGRADER_TEST_FIGURES"
"""Environment variable naming the file that collects the figures tests report (`report_figures`)."""


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the main process; xdist's workers inherit its environment
        os.environ[FIGURES] = str(Path(tempfile.mkdtemp(prefix="test-figures-")) / "figures.txt")


def report_figures(text: str) -> None:
    """Show what a test measured at the end of the run's output, under the test's name (pytest
    hides what passing tests print, and xdist's workers have no terminal); printed too, for a
    failure's report."""
    print(text)
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    lines = text.strip("\n")
    with open(os.environ[FIGURES], "a") as stream:
        stream.write(f"{test}\n{lines}\n\n")


def pytest_terminal_summary(terminalreporter, config):
    figures = Path(os.environ.get(FIGURES, "")) if not hasattr(config, "workerinput") else None
    if figures and figures.is_file():
        terminalreporter.write_sep("=", "figures the tests measured")
        terminalreporter.write(figures.read_text())


def pytest_runtest_setup(item):
    if item.get_closest_marker("sandbox"):
        from autograder.sandbox import missing_protections

        missing = missing_protections()
        if missing:
            skip_or_fail("this machine cannot enforce the grading limits: " + "; ".join(missing))


def pytest_collection_modifyitems(config, items):
    if _has_gpu():
        return
    skip = pytest.mark.skip(reason="needs a GPU (none found by nvidia-smi)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def nbgrader_cell(source, grade_id, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return new_code_cell(source, metadata={"nbgrader": meta})


def tiny_source_notebook():
    """One exercise (add) and three graded cells: a plain test, a test with hidden asserts, and
    one that imports TensorFlow (whose stderr noise must not cost the point)."""
    return new_notebook(cells=[
        new_markdown_cell("# Tiny assignment"),
        nbgrader_cell("import sys", "setup", locked=True),
        nbgrader_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      "add", solution=True),
        nbgrader_cell("assert add(1, 2) == 3", "test_add_visible", grade=True, locked=True, points=1),
        nbgrader_cell("assert add(0, 0) == 0\n### BEGIN HIDDEN TESTS\nassert add(-1, 1) == 0, 'hidden-marker'\n"
                      "### END HIDDEN TESTS", "test_add_hidden", grade=True, locked=True, points=2),
        nbgrader_cell(TENSORFLOW_IMPORT_CELL, "test_tensorflow_noise", grade=True, locked=True, points=1),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


@pytest.fixture(scope="session")
def built_tiny_course(tmp_path_factory) -> Path:
    """The tiny course built once per test session (each test gets its own copy)."""
    return tiny_course_at(tmp_path_factory.mktemp("tiny-template")).root


@pytest.fixture
def tiny_course(tmp_path, built_tiny_course):
    """A course folder with the real nbgrader_config.py and the tiny assignment, built."""
    from autograder.course import Course

    shutil.copytree(built_tiny_course, tmp_path / "course")
    return Course(tmp_path / "course")


def tiny_course_at(folder: Path):
    """The tiny course, built in ``folder``/course."""
    from autograder.course import Course
    from autograder.pipeline import build

    root = folder / "course"
    (root / "source" / TINY).mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    nbformat.write(tiny_source_notebook(), root / "source" / TINY / f"{TINY}.ipynb")
    course = Course(root)
    build(course)
    return course


def submit(course, student: str, notebook=None, text: str | None = None, root: Path | None = None) -> Path:
    """Write one student's submission into ``root`` (default: <course>/submitted); return root."""
    root = root or course.root / "submitted"
    folder = root / student / TINY
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{TINY}.ipynb"
    if text is not None:
        target.write_text(text)
    else:
        nbformat.write(notebook, target)
    return root


def answered(course, source: str):
    """The tiny student version with the `add` exercise answered by ``source``."""
    notebook = nbformat.read(course.release_dir / TINY / f"{TINY}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "add":
            cell.source = source
    return notebook


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
    """An empty course data folder that the kit uses for this test."""
    folder = tmp_path / "course-data"
    folder.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    return folder


@pytest.fixture
def inside_the_sandbox(data_folder, tmp_path, monkeypatch):
    """Call it once the data folder is filled: the course data folder becomes the view that graded
    notebooks get (`data.grading_view`, held-out labels withheld), laid out as the sandbox mounts it."""
    def switch() -> dict:
        view = data.grading_view(tmp_path / "stand-ins")
        for relpath, source in view.items():
            (tmp_path / "sandbox-data" / relpath).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "sandbox-data" / relpath).symlink_to(source)
        monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "sandbox-data"))
        return view
    return switch
