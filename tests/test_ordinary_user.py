"""Grading as an ordinary user, as an instructor without root does: the sandbox in a user namespace,
the memory watchdog (this machine's cgroups are root's), RLIMIT_NPROC counted inside the namespace.
Root creates the user; the kit's commands then run as that user."""

import csv
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from autograder import data
from conftest import REPO, report_figures, skip_or_fail
from test_hostile_submissions import EXPECTED, HOSTILE, LIMITS, _outputs_in, daemons_left
from make_fixtures import ASSIGNMENT, build_course

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class OrdinaryUser:
    """A user without root's rights, who runs this checkout's grader with its virtual environment."""

    name: str
    home: Path

    def folder(self, name: str) -> Path:
        """A fresh folder of the user's (pytest's own temporary folders are root's alone)."""
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.home))
        shutil.chown(folder, self.name, self.name)
        return folder

    def give(self, folder: Path) -> Path:
        """Hand ``folder`` and everything in it to the user."""
        subprocess.run(["chown", "-R", f"{self.name}:{self.name}", str(folder)], check=True)
        return folder

    def run(self, *command: str, cwd: Path, timeout_s: float = 900) -> subprocess.CompletedProcess:
        """``command`` as the user, in a clean environment (the kit's commands first on PATH)."""
        env = {"HOME": str(self.home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
               "COURSE_DATA_DIR": str(data.data_dir()), "TF_CPP_MIN_LOG_LEVEL": "3"}
        if "PYTHONPATH" in os.environ:  # the tests' own checkout of the kit, where it is not the installed one
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return subprocess.run(["runuser", "-u", self.name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                               *command], cwd=cwd, capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture(scope="module")
def ordinary_user():
    """An ordinary user, created for the tests (needs root), who can reach this checkout's Python,
    the repository and the course data: directories on the way that others cannot pass through
    (/root, where pyenv keeps Python) are opened for passing (o+x, never listing) until the end."""
    if os.geteuid() != 0:
        skip_or_fail("creating an ordinary user to grade as needs root")
    name = "autograder-test"
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", name], check=True, capture_output=True)
    opened = {}
    for path in (Path(sys.executable).resolve(), Path(sys.base_prefix), Path(sys.prefix), REPO, data.data_dir()):
        for folder in (path, *path.parents):
            mode = folder.stat().st_mode
            if folder.is_dir() and not mode & stat.S_IXOTH and folder not in opened:
                opened[folder] = mode
                folder.chmod(mode | stat.S_IXOTH)
    try:
        yield OrdinaryUser(name, Path(pwd.getpwnam(name).pw_dir))
    finally:
        for folder, mode in opened.items():
            folder.chmod(stat.S_IMODE(mode))


def test_the_doctor_finds_every_limit_for_an_ordinary_user(ordinary_user):
    doctor = ordinary_user.run(sys.executable, "-m", "autograder.cli", "doctor", cwd=REPO)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert doctor.stdout.startswith("this machine: grades untrusted notebooks")
    assert "bubblewrap" in doctor.stdout and "in a user namespace" in doctor.stdout


# The attacks on the sandbox and its limits, graded by an ordinary user with `autograder grade`.
ATTACKS_ON_THE_SANDBOX = ("correct", "untouched", "memory-bomb", "fork-bomb", "infinite-loop", "loop-ignoring-sigint",
                          "daemon-outliving-the-kernel", "reads-source-gradebook-and-other-submissions",
                          "writes-to-the-gradebook", "opens-a-network-connection", "floods-100-mb-of-output",
                          "forged-executed-notebook", "shadowing-numpy-py", "fills-the-disk")


@pytest.fixture(scope="module")
def graded_by_an_ordinary_user(ordinary_user):
    """The sandbox's attacks graded by an ordinary user from the command line, with the per-cell
    and process limits set in the course's nbgrader_config.py (as an instructor sets them)."""
    workspace = ordinary_user.folder("hostile")
    course = build_course(workspace / "course")
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"c.SandboxedExecute.cell_cpu_s = {LIMITS.cell_cpu_s}\n"
                     f"c.SandboxedExecute.cell_timeout_s = {LIMITS.cell_timeout_s}\n"
                     f"c.SandboxedExecute.processes = {LIMITS.processes}\n")
    for name in ATTACKS_ON_THE_SANDBOX:
        folder = workspace / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(HOSTILE / "submissions" / f"{name}.ipynb", folder / f"{ASSIGNMENT}.ipynb")
        for extra in HOSTILE.glob(f"submissions/{name}.*.py"):
            shutil.copy(extra, folder / extra.name.removeprefix(f"{name}."))
    ordinary_user.give(workspace)
    completed = ordinary_user.run(
        sys.executable, "-m", "autograder.cli", "grade", ASSIGNMENT, "--submissions", str(workspace / "submitted"),
        "--output", str(workspace / "grading"), "--timeout", f"{LIMITS.notebook_timeout_s:g}",
        "--memory-mb", str(LIMITS.memory_mb), cwd=course.root)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(workspace / "grading" / "grades.csv") as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    return workspace / "grading", rows, completed.stdout


def test_an_ordinary_user_s_sandbox_holds_against_the_same_attacks(graded_by_an_ordinary_user, ordinary_user):
    output, rows, printed = graded_by_an_ordinary_user
    report_figures(printed.split("\ngrades: ")[0])  # the table, without the list of feedback folders
    got = {name: (float(row["score"]), row["status"]) for name, row in rows.items()}
    assert got == {name: EXPECTED[name] for name in ATTACKS_ON_THE_SANDBOX}
    text = {name: _outputs_in(output, name) for name in ATTACKS_ON_THE_SANDBOX}
    assert "found: []" in text["reads-source-gradebook-and-other-submissions"]
    assert "gradebooks reachable: []" in text["writes-to-the-gradebook"]
    assert "network: [Errno 101] Network is unreachable" in text["opens-a-network-connection"]
    assert f"s of CPU time, past the {LIMITS.cell_cpu_s:g} s per-cell limit" in text["infinite-loop"], (
        "the course's c.SandboxedExecute.cell_cpu_s")
    assert "the kernel died while running this cell" in text["memory-bomb"]
    assert "memory limit" in rows["memory-bomb"]["reason"]
    assert "[output cut: this cell wrote more than 1,000,000 bytes]" in text["floods-100-mb-of-output"]
    assert daemons_left() == []
    uid = pwd.getpwnam(ordinary_user.name).pw_uid
    assert [p.info for p in psutil.process_iter(["pid", "uids", "cmdline", "status"]) if p.info["uids"]
            and p.info["uids"].real == uid and p.info["status"] != psutil.STATUS_ZOMBIE] == [], "all of them exited"


