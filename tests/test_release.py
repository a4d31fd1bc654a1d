"""What students get: the student bundle and data hold no hidden test, solution, grader code or
held-out answer. That they are enough, without this repository, to set up and do an assignment is
tested as a new user would do it, in tests/test_fresh_machine.py."""

import inspect
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

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
    for file, extra in (("requirements.txt", "cpu"), ("requirements-gpu.txt", "gpu")):  # the calibrated versions
        assert set(release.calibrated_pins(released.wheel, extra)) <= set((bundle / file).read_text().splitlines())
    assert [line for line in (bundle / "requirements-colab.txt").read_text().splitlines() if not line.startswith("#")] == [
        "--find-links wheels", "keras-course-student==0.1.0"], "Colab's file forces no version over Colab's own"
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
