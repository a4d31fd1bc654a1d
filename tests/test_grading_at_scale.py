"""Grading a batch on several workers, on an existing Dask cluster, into PostgreSQL, and resuming
a batch whose grader was killed: the same grades, each recorded once (tiny course, executes
notebooks)."""

import csv
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import pipeline
from autograder.dispatch import Workers
from autograder.execution import grading_environment
from conftest import TINY, answered, submit

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CORRECT, WRONG = "def add(a, b):\n    return a + b", "def add(a, b):\n    return a - b"
EXPECTED = {"ann": 4, "bob": 0, "cat": 0, "dan": 4, "eve": 0}
"""Points each student of `batch` earns (of 4)."""


def batch(course) -> Path:
    """Five submissions: correct, wrong, broken JSON, correct, and one whose add raises."""
    submitted = submit(course, "ann", answered(course, CORRECT))
    submit(course, "bob", answered(course, WRONG))
    submit(course, "cat", text="{ not json")
    submit(course, "dan", answered(course, CORRECT))
    submit(course, "eve", answered(course, "def add(a, b):\n    raise ValueError('no')"))
    return submitted


def scores(run) -> dict[str, tuple[str, list[float]]]:
    return {r.student: (r.status, [c.points for c in r.cells]) for r in run.results}


def test_parallel_and_sequential_grading_give_identical_grades(tiny_course, tmp_path):
    submitted = batch(tiny_course)
    sequential = pipeline.grade(tiny_course, TINY, submitted, tmp_path / "sequential")
    with Workers(3) as workers:
        parallel = pipeline.grade(tiny_course, TINY, submitted, tmp_path / "parallel", workers=workers)
    assert scores(parallel) == scores(sequential)
    assert {r.student: r.score for r in parallel.results} == EXPECTED
    assert _grades(parallel) == _grades(sequential)


def _grades(run) -> list[dict]:
    """grades.csv without what differs between runs (times and memory)."""
    with open(run.grades_csv) as stream:
        return [{key: value for key, value in row.items() if key not in ("wall_seconds", "cpu_seconds", "peak_memory_mb")}
                for row in csv.DictReader(stream)]


def _grade_command(course, submitted, output, *options):
    return [sys.executable, "-m", "autograder.cli", "grade", TINY, "--submissions", str(submitted),
            "--output", str(output), *options]


def test_a_killed_grader_resumes_where_it_stopped_and_records_each_grade_once(tiny_course, tmp_path):
    submitted, output = batch(tiny_course), tmp_path / "grading"
    log = open(tmp_path / "killed-run.log", "w")
    grader = subprocess.Popen(_grade_command(tiny_course, submitted, output), cwd=tiny_course.root, env=grading_environment(),
                              stdout=log, stderr=log, start_new_session=True)
    ledger = output / "ledger.jsonl"
    deadline = time.monotonic() + 300
    while grader.poll() is None and time.monotonic() < deadline and (
            not ledger.exists() or len(ledger.read_text().splitlines()) < 2):
        time.sleep(0.2)
    os.killpg(grader.pid, signal.SIGKILL)  # the grader and its local workers, mid-batch
    grader.wait()
    log.close()
    before = [json.loads(line)["student"] for line in ledger.read_text().splitlines()] if ledger.exists() else []
    assert 2 <= len(before) < len(EXPECTED), (tmp_path / "killed-run.log").read_text()[-3000:]

    resumed = subprocess.run(_grade_command(tiny_course, submitted, output), cwd=tiny_course.root,
                             env=grading_environment(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(EXPECTED)} submissions ({len(before)} already graded)" in resumed.stderr
    after = [json.loads(line)["student"] for line in ledger.read_text().splitlines()]
    assert sorted(after) == sorted(EXPECTED), "each student recorded exactly once"
    with open(output / "grades.csv") as stream:
        assert {row["student"]: float(row["score"]) for row in csv.DictReader(stream)} == EXPECTED


def test_progress_is_plain_lines_when_not_on_a_terminal(tiny_course, tmp_path):
    submitted = submit(tiny_course, "ann", answered(tiny_course, CORRECT))
    graded = subprocess.run(_grade_command(tiny_course, submitted, tmp_path / "grading", "--workers", "2"),
                            cwd=tiny_course.root, env=grading_environment(), capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stderr
    lines = graded.stderr.splitlines()
    assert f"{TINY}: 1 submissions (0 already graded)" in lines
    assert f"{TINY}: ann: waiting for a worker" in lines
    assert any(line.startswith(f"{TINY}: ann: running on {socket.gethostname()}") for line in lines)
    assert any(line.startswith(f"{TINY}: [1/1] ann: graded 4/4, ") and "elapsed" in line for line in lines), lines
    assert "\x1b[" not in graded.stderr, "no terminal escapes in a log"


@pytest.fixture
def dask_cluster(tmp_path):
    """A Dask scheduler and one worker on loopback, as a department would run them."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(scheduler_file)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=grading_environment())]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    processes.append(subprocess.Popen([dask, "worker", "--nthreads", "1", "--no-dashboard", "--scheduler-file",
                                       str(scheduler_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      env=grading_environment(), cwd=tmp_path))
    yield json.loads(scheduler_file.read_text())["address"]
    for process in processes[::-1]:
        process.terminate()
        process.wait(timeout=60)


def test_an_existing_dask_cluster_executes_the_notebooks(tiny_course, tmp_path, dask_cluster):
    submitted = batch(tiny_course)
    with Workers(cluster=dask_cluster) as workers:
        workers.client.wait_for_workers(1, timeout=60)
        run = pipeline.grade(tiny_course, TINY, submitted, tmp_path / "grading", workers=workers)
    assert {r.student: r.score for r in run.results} == EXPECTED
    assert {r.worker for r in run.results if r.status == "graded"} == {socket.gethostname()}


@pytest.fixture
def postgresql_url():
    """A PostgreSQL server (Debian's package) started for the test on loopback, and its database URL."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries or not shutil.which("runuser"):
        pytest.skip("needs Debian's postgresql package (installed by .ci/run)")
    server = Path(tempfile.mkdtemp(prefix="autograder-postgresql-"))
    server.chmod(0o755)
    shutil.chown(server, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def as_postgres(*command):
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)

    as_postgres(f"{binaries[-1]}/initdb", "-D", f"{server}/data", "-A", "trust", "-U", "postgres")
    as_postgres(f"{binaries[-1]}/pg_ctl", "-D", f"{server}/data", "-w", "-l", f"{server}/log", "-o",
                f"-p {port} -k {server} -c listen_addresses=127.0.0.1", "start")
    try:
        as_postgres(f"{binaries[-1]}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "gradebook")
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        as_postgres(f"{binaries[-1]}/pg_ctl", "-D", f"{server}/data", "-m", "immediate", "stop")
        shutil.rmtree(server, ignore_errors=True)


def test_grades_are_recorded_in_a_postgresql_gradebook(tiny_course, tmp_path, postgresql_url):
    submitted = batch(tiny_course)
    with Workers(2) as workers:
        run = pipeline.grade(tiny_course, TINY, submitted, tmp_path / "grading", db_url=postgresql_url, workers=workers)
    assert {r.student: r.score for r in run.results} == EXPECTED
    assert not (tmp_path / "grading" / "gradebook.db").exists()
    with Gradebook(postgresql_url) as gradebook:
        recorded = {s.student.id: s.score for s in gradebook.find_assignment(TINY).submissions}
    assert recorded == {student: points for student, points in EXPECTED.items() if student != "cat"}, (
        "a rejected submission is never autograded")
