"""`autograder` command line: each command parses its arguments and calls one api function."""

import argparse
import sys

from .errors import CourseKitError
from .log import stderr_to_log, warnings_to_log

with stderr_to_log():  # TensorFlow's C++ start-up lines (the judges import it) go to the log file
    from . import api, demo as samples, dispatch, reports


def main(argv=None) -> int:
    # Options left out are not passed on, so the defaults live only in autograder.api.
    parser = argparse.ArgumentParser(prog="autograder", argument_default=argparse.SUPPRESS,
                                     description="Build, validate and grade the course's assignments.")
    commands = _Subcommands(parser.add_subparsers(dest="command", required=True))

    data_parser = commands.add_parser("data", help="the course data folder")
    data_commands = _Subcommands(data_parser.add_subparsers(dest="data_command", required=True))
    fetch = data_commands.add_parser("fetch", help="fill the data folder, checking sha256")
    fetch.add_argument("--mirror", help="folder or http(s) address laid out like the data folder")
    data_commands.add_parser("verify", help="check every data file's sha256")

    build = commands.add_parser("build", help="generate assignments/ and solutions/ from source/")
    build.add_argument("assignments", nargs="*", help="names or numbers (default: all)")
    build.add_argument("--check", action="store_true", help="exit 1 if committed files are stale; write nothing")

    validate = commands.add_parser("validate", help="solutions earn full marks, untouched versions 0")
    validate.add_argument("assignments", nargs="*", help="names or numbers (default: all)")
    _allow_missing_limits(validate)

    release = commands.add_parser("release", help="the student bundle (notebooks, wheel, requirements, README)")
    release.add_argument("assignments", nargs="*", help="names or numbers (default: all)")
    release.add_argument("--output", help="folder for the bundle (default: release/)")
    release.add_argument("--data-mirror", dest="data_mirror",
                         help="also write the students' data (without held-out answers) into this folder, to publish")
    release.add_argument("--data-url", dest="data_url", help="where students will fetch that data from (for the README)")

    grade = commands.add_parser("grade", help="autograde submitted/<student>/<assignment>/ folders")
    grade.add_argument("assignment")
    grade.add_argument("--submissions", required=True, help="the submitted/ folder")
    grade.add_argument("--db-url", dest="db_url", help="gradebook SQLAlchemy URL (default: SQLite in the output)")
    grade.add_argument("--output", help="folder for autograded notebooks, feedback and grades.csv")
    grade.add_argument("--timeout", dest="timeout_s", type=float, help="wall-clock backstop per notebook, seconds (its limit is CPU time: c.SandboxedExecute.notebook_cpu_s)")
    grade.add_argument("--memory-mb", dest="memory_mb", type=int, help="memory limit per notebook")
    _allow_missing_limits(grade)
    grade.add_argument("--regrade", action="store_true", help="regrade students already graded into this output")
    grade.add_argument("--workers", type=int, help="notebooks run at once on this machine (default: 1)")
    grade.add_argument("--cluster", help="address of a Dask scheduler whose workers run the notebooks, "
                                         "e.g. tcp://10.0.0.5:8786 (instead of local workers)")

    report = commands.add_parser("report", help="the instructor's HTML report and per-test CSV of a grading run")
    report.add_argument("assignment")
    report.add_argument("--output", help="the grading folder (default: grading/<assignment>/)")

    demo = commands.add_parser("demo", help="build, then grade sample submissions")
    demo.add_argument("assignments", nargs="*", help="names or numbers (default: all)")
    demo.add_argument("--output", help="folder for the demo's files (default: demo/)")
    _allow_missing_limits(demo)

    roster = commands.add_parser("roster", help="the course roster: nbgrader ids and LMS identities")
    roster_commands = _Subcommands(roster.add_subparsers(dest="roster_command", required=True))
    roster_import = roster_commands.add_parser("import", help="read the LMS's roster export into roster.csv")
    roster_import.add_argument("file", help="the LMS's CSV (Canvas gradebook export, Moodle or Gradescope roster)")
    roster_import.add_argument("--format", dest="lms", choices=["canvas", "moodle", "gradescope", "csv"],
                               help="which LMS made it (default: told by its columns)")
    roster_import.add_argument("--id-column", dest="id_column", help="the column holding the nbgrader student ids")

    export = commands.add_parser("export", help="grades, late penalties applied, in an LMS's import format")
    export.add_argument("assignments", nargs="*", help="names or numbers (default: all)")
    export.add_argument("--format", dest="lms", required=True, choices=["canvas", "moodle", "gradescope", "csv"])
    export.add_argument("--output", help="the file to write (default: grading/<format>-grades.csv)")
    export.add_argument("--grading", help="folder of the grading runs, one per assignment (default: grading/)")
    export.add_argument("--db-url", dest="db_url", help="one gradebook holding every assignment (instead of --grading)")

    similarity = commands.add_parser("similarity", help="the most similar pairs of submissions, with shared passages")
    similarity.add_argument("assignment")
    similarity.add_argument("--output", help="the grading folder (default: grading/<assignment>/)")
    similarity.add_argument("--top", type=int, default=10, help="pairs to print (all go to similarity.csv)")

    doctor = commands.add_parser("doctor", help="which grading limits this machine (and a cluster's workers) enforce")
    doctor.add_argument("--cluster", help="also ask each worker of this Dask scheduler, e.g. tcp://10.0.0.5:8786")

    arguments = vars(parser.parse_args(argv))
    command = arguments.pop("command")
    warnings_to_log()
    try:
        return COMMANDS[command](**arguments)
    except CourseKitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _allow_missing_limits(parser) -> None:
    parser.add_argument("--allow-missing-limits", dest="allow_missing_limits", action="store_true",
                        help="grade even where this machine cannot enforce every limit (trusted notebooks only; "
                             "`autograder doctor` says which)")


class _Subcommands:
    """Subcommand parsers that, like the main one, pass on only the options given (argparse does
    not hand argument_default down to subparsers)."""

    def __init__(self, subparsers):
        self.subparsers = subparsers

    def add_parser(self, name, **settings):
        return self.subparsers.add_parser(name, argument_default=argparse.SUPPRESS, **settings)


def _data(data_command, **arguments) -> int:
    if data_command == "fetch":
        results = api.fetch_data(**arguments)
        for result in results:
            print(f"{result.action:10} {result.path}")
        print(f"{len(results)} files in the course data folder, sha256 checked")
    else:
        print(f"{len(api.verify_data())} files verified")
    return 0


def _build(**arguments) -> int:
    results = api.build(**arguments)
    stale = [path for result in results for path in result.changed]
    verb = "stale" if arguments.get("check") else "written"
    for path in stale:
        print(f"{verb}: {path}")
    print(f"{len(results)} assignments built, {len(stale)} files {verb}")
    return 1 if stale and arguments.get("check") else 0


def _validate(**arguments) -> int:
    results = api.validate(**arguments)
    print(reports.validation_table(results))
    return 0 if all(result.ok for result in results) else 1


def _release(**arguments) -> int:
    result = api.release(**arguments)
    print(f"student bundle: {result.bundle} ({len(result.assignments)} assignments, {result.bundle_bytes / 2**20:.1f} MiB, "
          f"wheel {result.wheel.name}); scanned: no hidden tests, solutions, grader code or held-out answers")
    if result.data_mirror:
        print(f"students' data: {result.data_mirror} ({result.data_files} files, {result.data_bytes / 2**20:.0f} MiB): "
              "publish it where --data-url says")
    return 0


def _grade(**arguments) -> int:
    print(reports.grading_table(api.grade(**arguments)))
    return 0


def _report(**arguments) -> int:
    for path in api.report(**arguments):
        print(f"written: {path}")
    return 0


def _demo(**arguments) -> int:
    problems = []
    for run in api.demo(**arguments):
        print(reports.grading_table(run), end="\n\n")
        problems += samples.sample_problems(run)
    for problem in problems:
        print(f"demo failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _roster(roster_command, **arguments) -> int:
    students = api.import_roster(**arguments)
    print(f"{len(students)} students in roster.csv")
    return 0


def _export(**arguments) -> int:
    result = api.export_grades(**arguments)
    print(f"written: {result.path} ({result.students} students)")
    for student in result.skipped:
        print(f"left out: {student}: the roster gives the LMS nothing to match them by", file=sys.stderr)
    for student in result.unknown:
        print(f"not in the roster: {student} (graded, but left out: import the LMS's roster again?)", file=sys.stderr)
    return 1 if result.unknown or result.skipped else 0


def _similarity(top: int = 10, **arguments) -> int:
    found = api.similarity(**arguments)
    for pair in found.pairs[:top]:
        print(f"{pair.similarity:6.1%}  {pair.first} / {pair.second}  ({len(pair.shared)} shared passages)")
        for first, _ in pair.shared[:2]:
            print("        " + first.replace("\n", "\n        "))
    print(f"all {len(found.pairs)} pairs: similarity.csv")
    print(f"\nidentical evidence ({len(found.identical)} pairs; a lead to look into, not proof):")
    for pair in found.identical[:top]:
        arrays = ", ".join(f"{label} ({size} values)" for label, size in pair.arrays)
        print(f"  {pair.first} / {pair.second}: identical {arrays}")
    print("all of them: identical_evidence.csv")
    return 0


def _doctor(**arguments) -> int:
    places = api.doctor(**arguments)
    print(reports.protections_table(places))
    print(dispatch.describe_gpus())
    return 0 if all(protection.enforced for found in places.values() for protection in found) else 1


COMMANDS = {"data": _data, "build": _build, "validate": _validate, "release": _release, "grade": _grade, "report": _report,
            "demo": _demo, "doctor": _doctor, "roster": _roster, "export": _export, "similarity": _similarity}

if __name__ == "__main__":
    sys.exit(main())
