"""The `autograder` command: what users type and what they read back."""

import pytest

from autograder.cli import main


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
