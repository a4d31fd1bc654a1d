"""Does the kit work for a new user of a fresh Debian machine? As an ordinary user the test creates,
in a login shell (so with the distribution's own `/usr/bin/python3`, Debian 12's 3.11.2, not CI's),
the instructor's path: clone the repository, README's set-up, `make demo`; then the students' path:
a fresh virtual environment from the release bundle alone, `coursekit data fetch` from the students'
mirror, every loader of `coursekit.data`, and assignment 1 executed."""

import csv
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from autograder.course import Course
from conftest import REPO, report_figures, skip_or_fail

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

USER = "kit-newcomer"
SYSTEM_PYTHON = Path("/usr/bin/python3")
ASSIGNMENT = "01_regression_baselines"


class Newcomer:
    """A user who has never run the kit: a home of their own, nothing installed."""

    def __init__(self, name: str):
        self.name = name
        self.home = Path(pwd.getpwnam(name).pw_dir)

    def run(self, script: str, timeout_s: float = 1200) -> subprocess.CompletedProcess:
        """``script`` in the user's login shell (`su - user`), from their home."""
        return subprocess.run(["runuser", "--login", self.name, "--command", script], capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def newcomer():
    if os.geteuid() != 0:
        skip_or_fail("creating an ordinary user needs root")
    if not SYSTEM_PYTHON.exists():
        skip_or_fail(f"this machine has no distribution Python at {SYSTEM_PYTHON}")
    subprocess.run(["userdel", "--remove", USER], capture_output=True)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True, capture_output=True)
    try:
        yield Newcomer(USER)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", USER], capture_output=True)
        subprocess.run(["userdel", "--remove", USER], capture_output=True)


@pytest.fixture(scope="module")
def repository(newcomer):
    """A copy of this repository's committed state for the user to clone, theirs (the checkout itself
    may lie where an ordinary user cannot pass, as under /root, and git refuses to read another
    user's repository)."""
    folder = Path(tempfile.mkdtemp(prefix="kit-origin-"))
    subprocess.run(["git", "clone", "--quiet", "--bare", "--no-local", str(REPO), str(folder / "kit.git")], check=True)
    subprocess.run(["chown", "-R", f"{newcomer.name}:", str(folder)], check=True)
    yield folder / "kit.git"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def mirror(newcomer):
    mirror = os.environ.get("COURSE_DATA_MIRROR")
    if not mirror:
        pytest.fail("COURSE_DATA_MIRROR must name the course data mirror (.ci/run sets it)", pytrace=False)
    readable = newcomer.run(f"test -r {shlex.quote(mirror)}/SHA256SUMS")
    if readable.returncode != 0:
        pytest.fail(f"{USER} cannot read the course data mirror {mirror}", pytrace=False)
    return mirror


@pytest.fixture(scope="module")
def instructor(newcomer, repository, mirror):
    """README's set-up in a fresh clone, then `make demo`: (the clone, set-up's output, demo's output)."""
    started = time.monotonic()
    setup = newcomer.run(f"python3 --version && command -v python3 && git clone --quiet {repository} kit && cd kit "
                         f"&& make setup COURSE_DATA_MIRROR={shlex.quote(mirror)}")
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    set_up = time.monotonic()
    demo = newcomer.run("cd kit && make demo")
    report_figures(f"fresh machine as {USER}: clone and `make setup` {set_up - started:.0f} s (downloads included), "
                   f"`make demo` {time.monotonic() - set_up:.0f} s")
    return newcomer.home / "kit", setup, demo


def test_the_login_shell_s_python3_is_the_distribution_s(instructor):
    _, setup, _ = instructor
    version, location = setup.stdout.splitlines()[:2]
    expected = subprocess.run([str(SYSTEM_PYTHON), "--version"], capture_output=True, text=True).stdout.strip()
    assert (version, location) == (expected, str(SYSTEM_PYTHON))
    report_figures(f"fresh machine: README's set-up and `make demo` as {USER} with {location} ({version})")


def test_make_demo_exits_0_with_the_reference_at_full_marks_and_the_untouched_version_at_0(instructor):
    clone, _, demo = instructor
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    with open(clone / "demo" / ASSIGNMENT / "grading" / "grades.csv") as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    assert {student: (row["status"], row["score"], row["flags"]) for student, row in rows.items()} == {
        "broken": ("rejected", "0", ""), "half-done": ("graded", "7", ""), "reference": ("graded", "14", ""),
        "untouched": ("graded", "0", "")}
    assert "broken: rejected: 01_regression_baselines.ipynb is not valid notebook JSON" in demo.stdout
    for student in ("reference", "half-done", "untouched"):
        assert (clone / "demo" / ASSIGNMENT / "grading" / "feedback" / student).is_dir()
    report_figures(f"make demo as {USER}: reference {rows['reference']['wall_seconds']} s "
                   f"({rows['reference']['cpu_seconds']} s of CPU time)")


def test_the_demo_shows_the_kit_s_lines_and_sends_the_libraries_noise_to_the_log(newcomer, instructor):
    _, _, demo = instructor
    noise = [line for line in (demo.stdout + demo.stderr).splitlines() if re.search(r"Warning|oneDNN|absl", line)]
    assert noise == []
    progress = [line for line in demo.stderr.splitlines() if not line.startswith(f"{ASSIGNMENT}: ")]
    assert progress == [], "stderr holds the progress lines (no terminal) and nothing else"
    assert "oneDNN custom operations are on" in (newcomer.home / ".cache" / "autograder" / "autograder.log").read_text()


# --- the students' path: the release bundle alone ---------------------------------------------------

LOAD_EVERY_DATASET = """
import coursekit.data as d
from coursekit.errors import DatasetWithheldError
shapes = {
    "mnist": d.load_mnist("train")[0].shape, "mnist test labels": d.load_mnist("test")[1],
    "fashion": d.load_fashion_mnist("train")[0].shape, "imdb": len(d.load_imdb_reviews("train")[0]),
    "imdb test": len(d.load_imdb_reviews("test")[0]), "word index": len(d.load_imdb_word_index()),
    "shakespeare": len(d.load_shakespeare("train")), "enron": len(d.load_enron_spam("train")),
    "enron test": len(d.load_enron_spam("test")), "ames": d.load_ames("train").shape,
    "ames test prices": int(d.load_ames("test")["SalePrice"].notna().sum()),
    "california": d.load_california_housing().shape, "kaggle": d.load_kaggle_house_prices().shape,
    "flowers": len(d.load_flower_photos("train")[0]), "flowers test": len(d.load_flower_photos("test")[0]),
    "mobilenet": d.load_mobilenet_v2_base(96).output_shape,
}
try:
    d.load_shakespeare("test")
except DatasetWithheldError:
    shapes["shakespeare test"] = "withheld"
print(shapes)
"""

RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=600, allow_errors=True, kernel_name="python3").execute()
errors = {c.metadata.get("nbgrader", {}).get("grade_id", str(n)): f"{o.ename}: {o.evalue}"
          for n, c in enumerate(notebook.cells) if c.cell_type == "code" for o in c.outputs if o.output_type == "error"}
printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
print({"errors": errors, "target": "Target: MLP RMSE below $31,500" in printed})
"""

WHERE_IS_EVERYTHING = """
import importlib.util, coursekit, coursekit.data as d
print({"grader": importlib.util.find_spec("autograder") is not None, "coursekit": coursekit.__file__,
       "withheld": d.labels_withheld()})
"""


@pytest.fixture(scope="module")
def student(newcomer, instructor):
    """The bundle and students' data released by the instructor, then a student's set-up from them
    alone: (the student's environment, what set-up printed)."""
    setup = newcomer.run(
        "set -e; cd kit && .venv/bin/autograder release --output ~/bundle --data-mirror ~/students-data "
        "--data-url file://$HOME/students-data >/dev/null; cd ~ && python3 -m venv student-env "
        "&& student-env/bin/pip install --quiet -r bundle/requirements.txt nbclient==0.11.0 "
        "&& COURSE_DATA_DIR=~/student-data student-env/bin/coursekit data fetch --mirror ~/students-data")
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    return newcomer.home / "student-env", setup


def in_student_env(newcomer, student, script: str, *arguments: str, cwd: str = "~"):
    """What ``script`` printed last (a Python literal), run with the student's Python and data."""
    env, _ = student
    (newcomer.home / "script.py").write_text(script)
    ran = newcomer.run(f"cd {cwd} && COURSE_DATA_DIR=~/student-data {env}/bin/python ~/script.py {' '.join(arguments)}")
    assert ran.returncode == 0, ran.stderr[-3000:]
    return eval(ran.stdout.strip().splitlines()[-1])  # noqa: S307 (the test's own script printed it)


def test_a_student_loads_every_dataset_without_its_held_out_answers(newcomer, student):
    # Fewer training reviews and emails, and Kaggle houses, than the instructor has: those that are
    # copies of held-out ones, with their answers, are left out (tests/test_data_audit.py).
    assert in_student_env(newcomer, student, LOAD_EVERY_DATASET) == {
        "mnist": (60000, 28, 28), "mnist test labels": None, "fashion": (60000, 28, 28), "imdb": 24877,
        "imdb test": 25000, "word index": 88584, "shakespeare": 1003855, "enron": 25845, "enron test": 6637,
        "ames": (2352, 82), "ames test prices": 0, "california": (20640, 10), "kaggle": (1167, 81), "flowers": 800,
        "flowers test": 200, "mobilenet": (None, 3, 3, 1280), "shakespeare test": "withheld"}


def test_the_student_s_environment_holds_the_students_package_and_not_the_grader(newcomer, student):
    where = in_student_env(newcomer, student, WHERE_IS_EVERYTHING)
    assert (where["grader"], where["withheld"]) == (False, True)
    assert Path(where["coursekit"]).is_relative_to(student[0]), "coursekit comes from the bundle's wheel, not the clone"


def run_in_student_env(newcomer, student, notebook: Path) -> dict:
    """``notebook`` executed in the student's environment: {"errors": {grade id or cell: error}, "target": ...}."""
    work = newcomer.home / "work" / notebook.parent.name
    subprocess.run(["runuser", "-u", USER, "--", "mkdir", "-p", str(work)], check=True)
    subprocess.run(["runuser", "-u", USER, "--", "cp", str(notebook), str(work)], check=True)
    return in_student_env(newcomer, student, RUN_NOTEBOOK, notebook.name, cwd=str(work))


def test_a_student_runs_assignment_1_and_every_visible_check_passes(newcomer, instructor, student):
    clone, _, _ = instructor
    ran = run_in_student_env(newcomer, student, clone / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    assert ran == {"errors": {}, "target": True}


def test_the_untouched_notebook_s_visible_checks_say_what_to_write(newcomer, instructor, student):
    clone, _, _ = instructor
    errors = run_in_student_env(newcomer, student, clone / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")["errors"]
    for grade_id, function in {"test_split": "split_train_validation", "test_metrics": "mean_absolute_error"}.items():
        assert errors[grade_id] == (f"AssertionError: {function} is not written yet: replace `raise NotImplementedError()` "
                                    "under `# YOUR CODE HERE` with your code")
    graded = dict(Course.find(REPO).grade_cells(ASSIGNMENT))
    assert not [grade_id for grade_id in errors if grade_id in graded and errors[grade_id].startswith("NotImplementedError")], (
        "a visible check shows a bare NotImplementedError instead of saying what to write")
