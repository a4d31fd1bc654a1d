"""Does the grader's container image (Dockerfile, for instructors on macOS or Windows) build, and
does it grade with every limit as its ordinary user? Runs where a Docker daemon answers."""

import subprocess
from pathlib import Path

import pytest

from autograder.execution import run_program

REPO = Path(__file__).resolve().parents[1]
IMAGE = "course-kit-test"


def _docker_answers() -> bool:
    answered, _ = run_program(["docker", "info"], capture_output=True, timeout=60)  # None where docker cannot run
    return answered is not None and answered.returncode == 0


pytestmark = [pytest.mark.slow, pytest.mark.skipif(not _docker_answers(), reason="no Docker daemon answers on this "
                                                   "machine (CI has none): the image is built where one does")]


def test_the_image_builds_and_its_ordinary_user_has_every_limit():
    subprocess.run(["docker", "build", "-t", IMAGE, "."], cwd=REPO, check=True, capture_output=True)
    doctor = subprocess.run(["docker", "run", "--rm", "--security-opt", "seccomp=unconfined", "--security-opt",
                             "apparmor=unconfined", IMAGE, "autograder", "doctor"], capture_output=True, text=True)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert doctor.stdout.startswith("this machine: grades untrusted notebooks")
    assert "bubblewrap" in doctor.stdout and "in a user namespace" in doctor.stdout
