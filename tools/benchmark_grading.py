"""Grading throughput: one batch graded by plain `nbgrader autograde` (no sandbox, no judges),
then by this kit on one worker and on more, in one run. Prints seconds, submissions per minute
and the ratios, and checks that every kit run gave the same grades.

    .venv/bin/python tools/benchmark_grading.py --assignments 01 04 06 --workers 2 4
    .venv/bin/python tools/benchmark_grading.py --assignments 01 --workers --ordinary-user grader

The batch is each assignment's demo submissions (reference, untouched, half-done, broken): 12
for three assignments. Run it as root on a machine with the course data; with --ordinary-user,
the kit also grades the batch on one worker as that user (bubblewrap in a user namespace, the
memory watchdog unless a cgroup v2 group is delegated), who must be able to read this checkout,
its Python and the data folder.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import pipeline
from autograder.course import Course
from autograder.demo import write_sample_submissions
from autograder.dispatch import Workers
from autograder.execution import grading_environment


def plain_nbgrader(course: Course, assignments: list[str], batch: Path, scratch: Path) -> float:
    """Seconds for stock nbgrader to autograde the batch (one notebook at a time, unsandboxed)."""
    root = scratch / "plain"
    shutil.copytree(course.source_dir, root / "source", ignore=shutil.ignore_patterns("exports", "projector"))
    config = (course.root / "nbgrader_config.py").read_text().split("# Autograding runs each notebook")[0]
    # nbgrader's Execute stops a cell after 30 s by default: give it the kit's per-cell limit.
    (root / "nbgrader_config.py").write_text(config + "\nc.CourseDirectory.root = '.'\nc.Execute.timeout = 600\n")
    started = time.monotonic()
    for assignment in assignments:
        shutil.copytree(batch / assignment, root / "submitted", dirs_exist_ok=True)
        _nbgrader(root, "generate_assignment", assignment, "--create")
        _nbgrader(root, "autograde", assignment, "--create")
    return time.monotonic() - started


def _nbgrader(root: Path, command: str, *arguments) -> None:
    # check=False: nbgrader exits 1 when one submission (the broken one) fails, after grading the rest
    subprocess.run([sys.executable, "-m", "nbgrader", command, *arguments, "--force"], cwd=root,
                   env=grading_environment(), capture_output=True)


def kit(course: Course, assignments: list[str], batch: Path, output: Path, workers: int) -> tuple[float, dict]:
    """Seconds for the kit to grade the batch on ``workers`` local workers, and the grades."""
    started, grades = time.monotonic(), {}
    with Workers(workers) as pool:
        for assignment in assignments:
            run = pipeline.grade(course, assignment, batch / assignment, output / assignment, workers=pool,
                                 progress=False)
            grades.update({(assignment, r.student): [c.points for c in r.cells] for r in run.results})
    return time.monotonic() - started, grades


def kit_as(user: str, course: Course, assignments: list[str], batch: Path, output: Path) -> float:
    """Seconds for the kit to grade the batch from the command line as ``user`` (one worker)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chown", "-R", user, str(batch), str(output.parent)], check=True)
    started = time.monotonic()
    for assignment in assignments:
        subprocess.run(["runuser", "-u", user, "--", "env", f"COURSE_DATA_DIR={os.environ.get('COURSE_DATA_DIR', '')}",
                        "TF_CPP_MIN_LOG_LEVEL=3", sys.executable, "-m", "autograder.cli", "grade", assignment,
                        "--submissions", str(batch / assignment), "--output", str(output / assignment)],
                       cwd=course.root, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", nargs="+", default=["01", "04", "06"])
    parser.add_argument("--workers", type=int, nargs="*", default=[2, os.cpu_count() or 2])
    parser.add_argument("--ordinary-user", help="also grade as this user (the sandbox without root)")
    parser.add_argument("--output", type=Path, help="keep the grading folders here (default: a temporary folder)")
    arguments = parser.parse_args()
    course = Course.find()
    assignments = course.assignments(arguments.assignments)
    scratch = arguments.output or Path(tempfile.mkdtemp(prefix="autograder-benchmark-"))
    scratch.chmod(0o755)
    batch = scratch / "batch"
    for assignment in assignments:
        write_sample_submissions(course, assignment, batch / assignment)
    submissions = sum(len(list((batch / a).iterdir())) for a in assignments)
    print(f"{submissions} submissions of {', '.join(assignments)} on {os.cpu_count()} cores", flush=True)

    timings = {"plain nbgrader autograde": plain_nbgrader(course, assignments, batch, scratch)}
    print(f"plain nbgrader autograde: {timings['plain nbgrader autograde']:.0f} s", flush=True)
    reference = None
    for workers in sorted({1, *arguments.workers}):
        label = f"kit, {workers} worker{'s' if workers > 1 else ''}"
        timings[label], grades = kit(course, assignments, batch, scratch / f"kit-{workers}", workers)
        print(f"{label}: {timings[label]:.0f} s", flush=True)
        reference = reference or grades
        if grades != reference:
            print(f"  GRADES DIFFER from the one-worker run: {sorted(k for k in grades if grades[k] != reference.get(k))}")
    if arguments.ordinary_user:
        label = f"kit as {arguments.ordinary_user}"
        timings[label] = kit_as(arguments.ordinary_user, course, assignments, batch, scratch / "as-user" / "grading")
        print(f"{label}: {timings[label]:.0f} s", flush=True)
    plain, sequential = timings["plain nbgrader autograde"], timings["kit, 1 worker"]
    print(f"\n{'run':<26} {'seconds':>8} {'per minute':>11} {'vs plain':>9} {'vs 1 worker':>12}")
    for label, seconds in timings.items():
        print(f"{label:<26} {seconds:>8.0f} {submissions / seconds * 60:>11.2f} {plain / seconds:>8.2f}x "
              f"{sequential / seconds:>11.2f}x")


if __name__ == "__main__":
    main()
