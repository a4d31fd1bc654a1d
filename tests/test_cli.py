"""The `autograder` command: what users type and what they read back."""

from pathlib import Path

import pytest

from autograder.cli import main
from autograder.demo import sample_problems
from autograder.results import CellScore, GradingRun, SubmissionResult


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    output = capsys.readouterr().out
    for command in ("data", "build", "validate", "release", "grade", "report", "demo", "doctor", "roster", "export",
                    "similarity"):
        assert f"    {command}" in output


def test_the_committed_student_and_solution_versions_are_current(capsys):
    assert main(["build", "--check"]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.endswith("files stale\n")


def test_build_check_fails_on_a_stale_course(tiny_course, capsys, monkeypatch):
    monkeypatch.chdir(tiny_course.root)
    (tiny_course.release_dir / "00_tiny" / "00_tiny.ipynb").write_text("{}")
    assert main(["build", "--check"]) == 1
    assert "stale: " in capsys.readouterr().out
    assert main(["build"]) == 0 and main(["build", "--check"]) == 0


def test_verify_on_an_empty_data_folder_exits_1_naming_the_files(data_folder, capsys):
    assert main(["data", "verify"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: 21 of 21 data files failed verification:\n- dataset file 'mnist/train-images-idx3-ubyte.gz'")
    assert "autograder data fetch" in error


def test_fetch_from_a_folder_without_the_files_exits_1(data_folder, tmp_path, capsys):
    assert main(["data", "fetch", "--mirror", str(tmp_path)]) == 1
    assert f"'mnist/train-images-idx3-ubyte.gz' is not in the mirror folder {tmp_path}" in capsys.readouterr().err


def test_grading_an_unknown_assignment_names_the_known_ones(tmp_path, capsys):
    assert main(["grade", "99", "--submissions", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("error: unknown assignment '99'; the course has: 01_regression_baselines")


def test_grading_a_missing_submissions_folder_says_so(tmp_path, capsys):
    assert main(["grade", "01", "--submissions", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"error: submissions folder {tmp_path / 'nowhere'} does not exist\n"


def test_options_left_out_are_not_passed_on_so_the_api_defaults_apply(monkeypatch, capsys):
    received = {}
    monkeypatch.setattr("autograder.api.grade", lambda **arguments: received.update(arguments))
    monkeypatch.setattr("autograder.reports.grading_table", lambda run: "")
    assert main(["grade", "01", "--submissions", "submitted"]) == 0
    assert received == {"assignment": "01", "submissions": "submitted"}
    main(["grade", "01", "--submissions", "submitted", "--workers", "4", "--timeout", "60"])
    assert received == {"assignment": "01", "submissions": "submitted", "workers": 4, "timeout_s": 60.0}


def test_an_export_before_any_roster_says_how_to_import_one(tmp_path, capsys, monkeypatch):
    (tmp_path / "nbgrader_config.py").write_text("")
    (tmp_path / "source" / "01_x").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--format", "canvas"]) == 1
    assert capsys.readouterr().err == (f"error: no roster in {tmp_path}: import the LMS's roster first "
                                       "(autograder roster import FILE)\n")


def _demo_run(**scores) -> GradingRun:
    """A demo's grading run of a 4-point assignment: {sample: (status, points)}."""
    results = [SubmissionResult(student.replace("_", "-"), status, "", [CellScore("test_a", points, 4)])
               for student, (status, points) in scores.items()]
    return GradingRun("01_regression_baselines", Path("demo"), results, Path("demo/grades.csv"))


HONEST_DEMO = dict(reference=("graded", 4), untouched=("graded", 0), half_done=("graded", 2), broken=("rejected", 0))


def test_the_demo_exits_0_when_every_sample_shows_what_it_is_there_to_show(monkeypatch, capsys):
    monkeypatch.setattr("autograder.api.demo", lambda **arguments: [_demo_run(**HONEST_DEMO)])
    assert main(["demo", "01"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("sample, grade, why", [
    ("reference", ("graded", 3), "the reference sample should earn full marks without a flag, but it is graded with "
                                 "3/4 (lost: test_a 3/4)"),
    ("reference", ("timed out", 4), "the reference sample should earn full marks without a flag, but it is timed out "
                                    "with 4/4"),
    ("untouched", ("graded", 1), "the untouched sample should earn nothing, but it is graded with 1/4"),
    ("half_done", ("graded", 4), "the half-done sample should earn some points but not all, but it is graded with 4/4"),
    ("broken", ("graded", 0), "the broken sample should be rejected, but it is graded with 0/4"),
])
def test_the_demo_exits_1_naming_the_sample_whose_grade_is_wrong(monkeypatch, capsys, sample, grade, why):
    run = _demo_run(**(HONEST_DEMO | {sample: grade}))
    monkeypatch.setattr("autograder.api.demo", lambda **arguments: [run])
    assert main(["demo", "01"]) == 1
    assert capsys.readouterr().err == f"demo failed: 01_regression_baselines: {why}\n"


def test_a_flagged_reference_fails_the_demo_even_with_full_marks():
    run = _demo_run(**HONEST_DEMO)
    run.results[0].flags.append("cell 12: this cell ran past the 600 s per-cell wall-clock backstop")
    run.results[0].reason = run.results[0].flags[0]
    assert sample_problems(run) == [
        "01_regression_baselines: the reference sample should earn full marks without a flag, but it is graded with "
        "4/4: cell 12: this cell ran past the 600 s per-cell wall-clock backstop"]
