"""What students get: the student bundle and data hold no hidden test, solution, grader code or
held-out answer, and they are enough, without this repository, to set up and do an assignment."""

import inspect
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import coursekit
from autograder import api, data, release
from autograder.course import Course
from autograder.execution import grading_environment
from conftest import report_figures

COURSE = Course.find(__file__)
ASSIGNMENT = "01_regression_baselines"

pytestmark = pytest.mark.slow  # the students' data is made from the real course data


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """`autograder release` of the whole course, with the students' data mirror."""
    folder = tmp_path_factory.mktemp("release")
    return api.release(output=folder / "bundle", data_mirror=folder / "data", data_url="https://course.example.edu/data",
                       course_root=COURSE.root)


@pytest.fixture(scope="module")
def forbidden():
    return release.Forbidden.of(COURSE)


def test_the_bundle_holds_the_student_notebooks_the_wheel_requirements_and_a_readme(released):
    bundle = released.bundle
    assert sorted(path.name for path in bundle.iterdir()) == sorted(
        [*COURSE.assignments(), "README.md", "requirements.txt", "requirements-gpu.txt", "requirements-colab.txt", "wheels"])
    for assignment in COURSE.assignments():
        assert (bundle / assignment / f"{assignment}.ipynb").read_bytes() == (
            COURSE.release_dir / assignment / f"{assignment}.ipynb").read_bytes()
    assert (bundle / "requirements.txt").read_text().splitlines()[-2:] == ["--find-links wheels",
                                                                            "keras-course-student[cpu]==0.1.0"]
    readme = (bundle / "README.md").read_text()
    assert "coursekit data fetch --mirror https://course.example.edu/data" in readme
    assert all(heading in readme for heading in ("## On a laptop", "## On JupyterHub", "## On Google Colab"))
    report_figures(f"student bundle: {released.bundle_bytes / 1024:.0f} KiB; students' data: {released.data_files} files, "
          f"{released.data_bytes / 2**20:.1f} MiB")


def test_the_bundle_the_wheel_and_the_installed_student_package_hold_nothing_students_must_not_get(released, forbidden):
    assert release.scan([released.bundle], forbidden) == []
    assert release.scan([Path(coursekit.__file__).parent], forbidden) == []


def test_the_scan_finds_hidden_tests_solutions_the_grader_and_held_out_answers(forbidden, tmp_path):
    """It fails on what students were given before the grader and the students' package were split:
    the whole kit's wheel (grader and references inside), the instructor notebooks, and the data
    folder with its answers."""
    kit = tmp_path / "kit"  # built from a copy: setuptools writes a build/ folder beside what it builds
    kit.mkdir()
    for name in ("pyproject.toml", "README.md", "autograder"):
        (shutil.copytree if (COURSE.root / name).is_dir() else shutil.copy)(COURSE.root / name, kit / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(kit)], check=True)
    [kit_wheel] = tmp_path.glob("keras_course_kit-*.whl")
    problems = release.scan([kit_wheel, COURSE.source_dir, data.data_dir() / "mnist"], forbidden)
    for found in (f"{kit_wheel.name}!autograder/judges/contrastive.py: the grader's code (autograder/judges/contrastive.py)",
                  f"{ASSIGNMENT}.ipynb: hidden-test source of {ASSIGNMENT}: 'checks.hand_in_split(split_train_validation)'",
                  f"{ASSIGNMENT}.ipynb: a solution region ('### BEGIN SOLUTION')",
                  "mnist/t10k-labels-idx1-ubyte.gz: it is mnist/t10k-labels-idx1-ubyte.gz, whose answers are withheld"):
        assert any(found in problem for problem in problems), found


def test_the_scan_finds_a_reference_implementation_copied_into_the_students_package(forbidden, tmp_path):
    from autograder.judges import contrastive, federated
    leaky = tmp_path / "coursekit" / "checks" / "helpers.py"
    leaky.parent.mkdir(parents=True)
    leaky.write_text(inspect.getsource(contrastive.reference_nt_xent) + "\n\n" + inspect.getsource(federated.weighted_average))
    assert release.scan([tmp_path], forbidden) == [
        f"{leaky.as_posix()}: the grader's code (autograder/judges/contrastive.py): 'def reference_nt_xent(z1, z2, "
        "temperature: float, normalise=True, divide=True, m'",
        f"{leaky.as_posix()}: the grader's code (autograder/judges/federated.py): "
        "'def weighted_average(client_weights, counts) -> list[np.ndarray]:'",
        f"{leaky.as_posix()}: solution code of 06_federated_spam: 'for i in range(len(client_weights[0]))]'"]


def test_the_students_data_mirror_is_the_data_without_its_answers(released, tmp_path):
    with zipfile.ZipFile(released.wheel) as wheel:
        (tmp_path / "manifest.json").write_bytes(wheel.read("coursekit/data/student_manifest.json"))
    mirror, manifest = released.data_mirror, coursekit.data.manifest.released_manifest(tmp_path / "manifest.json")
    assert release.scan_data_mirror(mirror, manifest) == []
    listed = {entry.path for entry in manifest}
    assert "mnist/t10k-images-idx3-ubyte.gz" in listed and "mnist/t10k-labels-idx1-ubyte.gz" not in listed
    shutil.copy(data.data_dir() / "mnist/t10k-labels-idx1-ubyte.gz", mirror / "mnist")
    assert release.scan_data_mirror(mirror, manifest) == [
        "mnist/t10k-labels-idx1-ubyte.gz: it is mnist/t10k-labels-idx1-ubyte.gz, whose answers are withheld from students"]
    (mirror / "mnist/t10k-labels-idx1-ubyte.gz").unlink()


def test_nbgrader_release_assignment_and_its_exchange_hand_out_the_same_clean_notebooks(tmp_path, forbidden):
    course = tmp_path / "course"
    for name in ("source", "assignments", "nbgrader_config.py"):
        (shutil.copytree if (COURSE.root / name).is_dir() else shutil.copy)(COURSE.root / name, course / name)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n")
    env = grading_environment()
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", ASSIGNMENT], cwd=course, env=env,
                   check=True, capture_output=True)
    released = subprocess.run([sys.executable, "-m", "nbgrader", "release_assignment", ASSIGNMENT], cwd=course, env=env,
                              capture_output=True, text=True)
    assert released.returncode == 0, released.stderr
    [outbound] = exchange.glob(f"*/outbound/{ASSIGNMENT}")
    assert (outbound / f"{ASSIGNMENT}.ipynb").read_bytes() == (COURSE.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert release.scan([exchange], forbidden) == []


# --- a student's fresh environment, from the bundle alone -------------------------------------------

@pytest.fixture(scope="module")
def student_environment(released, tmp_path_factory):
    """A virtual environment made from the bundle alone, in a folder outside this repository, with
    the students' data fetched from the mirror folder: (python, environment variables)."""
    home = tmp_path_factory.mktemp("student")
    subprocess.run([sys.executable, "-m", "venv", str(home / "env")], check=True)
    python = home / "env" / "bin" / "python"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("COURSE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), COURSE_DATA_DIR=str(home / "course-data"), TF_CPP_MIN_LOG_LEVEL="3")
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    # The notebook runner (nbclient) stands in for the student's Jupyter.
    for command in ([python, "-m", "pip", "install", "--quiet", "-r", released.bundle / "requirements.txt"],
                    [python, "-m", "pip", "install", "--quiet", "nbclient==0.11.0"],
                    [home / "env" / "bin" / "coursekit", "data", "fetch", "--mirror", released.data_mirror]):
        completed = subprocess.run(list(map(str, command)), cwd=home, env=env, capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr[-3000:]
    return python, env, home


def _run_notebook(python, env, home, notebook_path: Path) -> nbformat.NotebookNode:
    """The notebook executed in the student's environment (every cell, errors kept)."""
    folder = home / notebook_path.stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    shutil.copy(notebook_path, folder / notebook_path.name)
    script = ("import sys, nbformat\nfrom nbclient import NotebookClient\n"
              "notebook = nbformat.read(sys.argv[1], as_version=4)\n"
              "NotebookClient(notebook, timeout=600, allow_errors=True, kernel_name='python3').execute()\n"
              "nbformat.write(notebook, sys.argv[1])\n")
    completed = subprocess.run([str(python), "-c", script, notebook_path.name], cwd=folder, env=env, capture_output=True,
                               text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return nbformat.read(folder / notebook_path.name, as_version=4)


def _errors(notebook) -> dict[str, str]:
    """{grade id or cell number: the error it showed}."""
    return {cell.metadata.get("nbgrader", {}).get("grade_id", str(number)): f"{output.ename}: {output.evalue}"
            for number, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for output in cell.outputs if output.output_type == "error"}


def test_the_student_environment_holds_the_students_package_and_data_and_not_the_grader(student_environment):
    python, env, home = student_environment
    probe = ("import importlib.util, coursekit, coursekit.data as d\n"
             "print(importlib.util.find_spec('autograder') is None, coursekit.__file__, d.labels_withheld(), "
             "d.load_mnist('test')[1] is None)")
    completed = subprocess.run([str(python), "-c", probe], cwd=home, env=env, capture_output=True, text=True, check=True)
    no_grader, location, withheld, no_labels = completed.stdout.split()
    assert no_grader == withheld == no_labels == "True"
    assert Path(location).is_relative_to(home / "env"), "coursekit comes from the bundle's wheel, not this repository"


def test_the_untouched_notebook_s_visible_checks_say_what_to_write(student_environment):
    python, env, home = student_environment
    errors = _errors(_run_notebook(python, env, home, COURSE.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    unwritten = {"test_split": "split_train_validation", "test_metrics": "mean_absolute_error"}
    for grade_id, function in unwritten.items():
        assert errors[grade_id] == (f"AssertionError: {function} is not written yet: replace `raise NotImplementedError()` "
                                    "under `# YOUR CODE HERE` with your code")
    graded = dict(COURSE.grade_cells(ASSIGNMENT))
    assert not [grade_id for grade_id, error in errors.items() if grade_id in graded and error.startswith("NotImplementedError")], (
        "a visible check shows a bare NotImplementedError instead of saying what to write")


def test_the_completed_notebook_passes_every_visible_check(student_environment):
    python, env, home = student_environment
    notebook = _run_notebook(python, env, home, COURSE.solution_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    assert _errors(notebook) == {}
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "Target: MLP RMSE below $31,500 on the held-out houses; on the validation houses it is $" in printed
