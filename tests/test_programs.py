"""Do the programs the kit looks up on PATH (nvidia-smi, bwrap, setpriv, prlimit) count as
unavailable, never as a crash, whatever OSError starting them raises, and does `autograder doctor`
name the program and the reason? (The tests run as root, which may search any folder: a file
without execute bits, which not even root may run, and a PATH entry that is a file stand in for a
folder an ordinary user cannot read.)"""

import os
import subprocess

import pytest

from autograder import dispatch, sandbox
from autograder.cli import main
from autograder.execution import find_program, run_program

BUBBLEWRAP_FIX = "sudo apt-get install bubblewrap (Fedora: sudo dnf install bubblewrap)"


@pytest.fixture
def unrunnable(tmp_path):
    """A folder whose programs are files without execute bits: starting one raises PermissionError."""
    folder = tmp_path / "unrunnable"
    folder.mkdir()
    for name in ("nvidia-smi", "bwrap"):
        (folder / name).write_text("#!/bin/sh\necho 'GPU 0: would be listed'\n")
        (folder / name).chmod(0o644)
    return folder


def test_an_unrunnable_nvidia_smi_first_on_path_means_no_gpu(unrunnable, monkeypatch):
    monkeypatch.setenv("PATH", str(unrunnable))
    with pytest.raises(PermissionError):  # what crashed the grader before
        subprocess.run(["nvidia-smi", "-L"], capture_output=True)
    assert dispatch.local_gpus() == []
    assert dispatch.find_gpus() == ([], f"nvidia-smi: permission denied in {unrunnable}, where it is not an executable file")


def test_a_path_entry_that_is_a_file_means_no_gpu(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path / "not-a-folder"))
    with pytest.raises(NotADirectoryError):
        subprocess.run(["nvidia-smi", "-L"], capture_output=True)
    assert dispatch.find_gpus() == ([], f"nvidia-smi: not found on PATH, which names files, not folders: "
                                        f"{tmp_path / 'not-a-folder'}")


def test_any_oserror_starting_nvidia_smi_means_no_gpu(tmp_path, monkeypatch):
    def refused(command, **options):
        raise PermissionError(13, "Permission denied", command[0])

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(subprocess, "run", refused)  # as for an ordinary user whose PATH names an unreadable folder
    assert dispatch.find_gpus() == ([], "nvidia-smi: not found on PATH: permission denied")


def test_a_program_that_does_not_answer_in_time_is_unavailable():
    assert run_program(["sleep", "5"], timeout=0.1) == (None, "sleep: no answer within 0.1 s")


def test_a_runnable_copy_later_on_path_is_found_as_starting_it_would(unrunnable, tmp_path, monkeypatch):
    runnable = tmp_path / "runnable"
    runnable.mkdir()
    (runnable / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: Tesla T4 (UUID: GPU-1)'\necho 'GPU 1: Tesla T4 (UUID: GPU-2)'\n")
    (runnable / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{unrunnable}{os.pathsep}{runnable}")
    assert find_program("nvidia-smi") == (str(runnable / "nvidia-smi"), "")
    assert dispatch.find_gpus() == (["0", "1"], "")


def test_the_doctor_says_why_there_is_no_gpu(unrunnable, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "_machine", lambda: sandbox._Machine(sandbox.ROOT, "", None, "no cgroups"))
    monkeypatch.setattr(sandbox, "_bubblewrap_version", lambda: "0.8.0")
    monkeypatch.setenv("PATH", str(unrunnable))
    main(["doctor"])
    printed = capsys.readouterr().out
    assert printed.startswith("this machine: grades untrusted notebooks\n")
    assert printed.endswith(f"\nthis machine's GPUs: none (nvidia-smi: permission denied in {unrunnable}, where it is "
                            "not an executable file); notebooks run on the CPU\n")


def test_an_unrunnable_bubblewrap_is_named_with_the_reason_and_the_fix(unrunnable, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(unrunnable))
    problem = sandbox._probe_bubblewrap()
    assert problem == ("", f"bubblewrap is not available (bwrap: permission denied in {unrunnable}, where it is not an "
                           f"executable file): {BUBBLEWRAP_FIX}")
    monkeypatch.setattr(sandbox, "_machine", lambda: sandbox._Machine(*problem, None, "no cgroups"))
    assert main(["doctor"]) == 1
    assert (f"  MISSING  isolation (no network, own processes, a file view without the grader, the course or other "
            f"students): not enforced\n           fix: bubblewrap is not available (bwrap: permission denied in "
            f"{unrunnable}, where it is not an executable file): {BUBBLEWRAP_FIX}\n") in capsys.readouterr().out


def test_without_setpriv_or_prlimit_the_sandbox_says_which_is_missing(tmp_path, monkeypatch):
    (tmp_path / "bwrap").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    program, why = ("setpriv", "it drops the notebook to uid 65534") if os.geteuid() == 0 else \
        ("prlimit", "it sets the process limit where no pids cgroup counts processes")
    assert sandbox._probe_bubblewrap() == ("", f"{program} is not available ({program}: not found on PATH; {why}): "
                                               "sudo apt-get install util-linux")


def test_bubblewraps_version_and_help_are_empty_where_it_cannot_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert sandbox._bubblewrap_version.__wrapped__() == "(version unknown: bwrap: not found on PATH)"
    assert sandbox._bubblewrap_help.__wrapped__() == ""
