"""nbgrader preprocessors the kit adds (registered in nbgrader_config.py)."""

import copy
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

from coursekit.evidence import EXPORTS

from . import data, exports, runner
from .dispatch import Execution, worker_name, write_files
from .execution import available_device
from .judges.registry import hand_out, judges_of, kept_inputs, kept_token
from .sandbox import Limits, require_protections, run_in_sandbox
from .untrusted import clip

# Output that TensorFlow, Keras and absl write to stderr on their own. nbgrader zeroes a graded
# cell with any stderr output, so autograde drops these chunks (IgnorePattern) before scoring.
TENSORFLOW_STDERR_NOISE = "(?m)" + "|".join([
    r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+\.(cc|h):\d+\]",  # absl/C++ log lines
    r"All log messages before absl::InitializeLog",
    r"(tensorflow|keras|absl|tensorflow_datasets)[/\\].*Warning:",  # Python warnings they raise
    r"oneDNN custom operations are on",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
])


class LatePenaltyPerDay(LateSubmissionPlugin):
    """A late notebook (past ``c.Grading.due_dates``) loses ``percent_per_day`` of its score for
    every day or part of a day it is late, down to nothing."""

    percent_per_day = Float(10.0, help="Share of the score lost per started day late, in percent").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        days = math.ceil(total_seconds_late / 86400)
        return min(score, score * self.percent_per_day / 100 * days)


class RedactHiddenTests(NbGraderPreprocessor):
    """Feedback shows what a hidden test said, never its source: each hidden region becomes one
    comment line, and tracebacks, which quote source lines, are cut to their last line."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not _HIDDEN_REGION.search(cell.source):
            return cell, resources
        cell.source = _HIDDEN_REGION.sub(HIDDEN_TESTS_PLACEHOLDER, cell.source)
        for output in cell.outputs:
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {_strip_ansi(output.evalue)}"]
        return cell, resources


HIDDEN_TESTS_PLACEHOLDER = "# hidden tests run here (their source is not shown)"
_HIDDEN_REGION = re.compile(r"^[^\n]*BEGIN HIDDEN TESTS.*?END HIDDEN TESTS[^\n]*$", re.S | re.M)


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


class StderrCostsNothing(NbGraderPreprocessor):
    """nbgrader zeroes a graded cell that wrote anything to stderr; here only errors fail a test
    (correct code may log), so stderr in graded cells is shown as ordinary output."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


EXECUTED = "executed.ipynb"
"""What `autograder.runner` writes in the run's folder: the notebook with its outputs."""


class SandboxedExecute(NbGraderPreprocessor):
    """Replaces nbgrader's Execute: runs the notebook with `autograder.runner` in a sandbox under
    limits (`autograder.sandbox`), then takes back only the outputs of the cells it sent. A
    graded cell that did not run gets an error output saying why (nbgrader would give an
    output-less cell full marks).

    Each run gets hidden inputs of its own for the assignment's judges (`judges.hand_out`), in the
    run folder, and the grader keeps its copy beside it (`hidden_inputs_path`).

    With `prepare_only` it writes the notebook into its run folder and stops there; the grading
    pipeline has a worker (`autograder.dispatch`) execute it and stores the execution beside the
    folder, which the next autograde of the same notebook takes instead of running it again."""

    run_directory = Unicode("", help="Folder for each run's working folder and log "
                                     "(default: a temporary folder)").tag(config=True)
    notebook_cpu_s = Float(Limits.notebook_cpu_s).tag(config=True)
    cell_cpu_s = Float(Limits.cell_cpu_s).tag(config=True)
    kernel_threads = Integer(Limits.kernel_threads).tag(config=True)
    notebook_timeout_s = Float(Limits.notebook_timeout_s).tag(config=True)
    cell_timeout_s = Float(Limits.cell_timeout_s).tag(config=True)
    memory_mb = Integer(Limits.memory_mb).tag(config=True)
    processes = Integer(Limits.processes).tag(config=True)
    cell_output_bytes = Integer(Limits.cell_output_bytes).tag(config=True)
    file_bytes = Integer(Limits.file_bytes).tag(config=True)
    disk_mb = Integer(Limits.disk_mb).tag(config=True)
    allow_missing_limits = Bool(False, help="Run even where a limit cannot be enforced").tag(config=True)
    prepare_only = Bool(False, help="Only write each notebook into its run folder, for a worker to execute").tag(config=True)

    @property
    def limits(self) -> Limits:
        """The limits as configured (the traits are named after the fields)."""
        return Limits(**{field.name: getattr(self, field.name) for field in dataclasses.fields(Limits)})

    def preprocess(self, nb, resources):
        limits = self.limits
        student, name = resources["nbgrader"]["student"], resources["unique_key"]
        runs = Path(self.run_directory or tempfile.mkdtemp(prefix="autograder-run-")) / student
        folder, sent, course_files = runs / name, copy.deepcopy(nb), Path(resources["metadata"]["path"])
        assignment = resources["nbgrader"]["assignment"]
        if self.prepare_only:
            prepare_run(folder, name, sent, course_files, assignment)
            return nb, resources
        execution = take_execution(folder, name, sent)
        if execution is None:  # not run by a worker: run it here
            prepare_run(folder, name, sent, course_files, assignment)
            require_protections(self.allow_missing_limits)
            execution = execute_run(folder, name, limits, runs / f"{name}.log")

        flags, stop_reason = _limits_hit(execution, limits)
        executed, problem = _read_executed(folder / EXECUTED, sent, limits.file_bytes)
        if problem:
            flags.append(problem)
            stop_reason = problem
        stopped_by_wall_clock = execution.timed_out or execution.exit_code == runner.EXIT_STOPPED_BY_WALL_CLOCK
        ran_cells = executed.cells if executed else [None] * len(nb.cells)
        stopped_at = _stopped_by_runner(ran_cells, execution.exit_code)
        exports_written = {}
        for number, (cell, ran) in enumerate(zip(nb.cells, ran_cells, strict=True), 1):
            if cell.cell_type != "code":
                continue
            if ran is not None and ran is stopped_at:
                where = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {number}"
                why = clip(ran.outputs[-1].evalue)
                stop_reason = f"the run stopped at {where}: {why}"
                flags.append(f"{where}: {why}")
            if ran is not None and ran.execution_count is not None:
                cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id:
                    exports_written[grade_id] = ran.metadata.get("autograder", {}).get(runner.EXPORTS_WRITTEN, {})
            elif cell.metadata.get("nbgrader", {}).get("grade"):
                cell.outputs = [nbformat.v4.new_output("error", ename="NotRun", evalue=stop_reason,
                                                       traceback=[f"NotRun: this cell did not run: {stop_reason}"])]
        resources["autograder"] = dict(run_folder=str(folder), flags=flags, timed_out=execution.timed_out,
                                       stopped_by_wall_clock=stopped_by_wall_clock, wall_seconds=execution.wall_seconds,
                                       cpu_seconds=execution.cpu_seconds, peak_memory_mb=execution.peak_memory_mb,
                                       device=execution.device, worker=execution.worker, exports_written=exports_written)
        write_record(resources["autograder"])
        return nb, resources


def prepare_run(folder: Path, name: str, sent, course_files: Path, assignment: str) -> None:
    """A fresh run folder: the notebook to execute, the assignment's own files (never a notebook)
    and hidden inputs drawn for this run, whose grader's copy is kept beside the folder."""
    for stale in (folder, hidden_inputs_path(folder)):
        shutil.rmtree(stale, ignore_errors=True)
    execution_path(folder).unlink(missing_ok=True)
    folder.mkdir(parents=True)
    for item in course_files.iterdir():
        if item.suffix != ".ipynb":
            (shutil.copytree if item.is_dir() else shutil.copy)(item, folder / item.name)
    (folder / f"{name}.ipynb").write_text(nbformat.writes(sent), encoding="utf-8")
    hand_out(assignment, folder, hidden_inputs_path(folder))


def hidden_inputs_path(run_folder) -> Path:
    """The grader's copy of a run's hidden inputs: beside the run folder, where the notebook cannot write."""
    return Path(f"{run_folder}.inputs")


def execute_run(folder: Path, name: str, limits: Limits, log_path: Path) -> Execution:
    """Execute ``folder/<name>.ipynb`` in the sandbox under ``limits`` (writing EXECUTED there)."""
    command = [sys.executable, runner.__file__, f"{name}.ipynb", EXECUTED, f"--cell-cpu={limits.cell_cpu_s}",
               f"--cell-timeout={limits.cell_timeout_s}", f"--cell-output-bytes={limits.cell_output_bytes}"]
    outcome = run_in_sandbox(command, folder, limits, log_path, data.grading_view())
    return Execution(outcome.exit_code, outcome.timed_out, outcome.memory_exceeded, outcome.process_limit_hit,
                     outcome.wall_seconds, outcome.peak_memory_mb, outcome.cpu_seconds, outcome.cpu_exceeded,
                     outcome.disk_exceeded,
                     available_device(), worker_name())


def store_execution(folder: Path, name: str, execution: Execution) -> None:
    """Keep a worker's execution of the prepared ``folder/<name>.ipynb`` for `take_execution`."""
    shutil.rmtree(folder / EXPORTS, ignore_errors=True)
    (folder / EXECUTED).unlink(missing_ok=True)
    write_files(folder, execution.files)
    (folder.parent / f"{name}.log").write_bytes(execution.log)
    fields = {field.name: getattr(execution, field.name) for field in dataclasses.fields(execution)
              if field.name not in ("files", "log")}
    notebook = hashlib.sha256((folder / f"{name}.ipynb").read_bytes()).hexdigest()
    execution_path(folder).write_text(json.dumps(dict(fields, notebook_sha256=notebook), indent=1))


def take_execution(folder: Path, name: str, sent) -> Execution | None:
    """The stored execution of exactly the notebook ``sent`` (each is taken once), or None."""
    path = execution_path(folder)
    if not path.exists():
        return None
    fields = json.loads(path.read_text())
    path.unlink()
    if fields.pop("notebook_sha256") != hashlib.sha256(nbformat.writes(sent).encode("utf-8")).hexdigest():
        return None
    return Execution(**fields)


def execution_path(folder: Path) -> Path:
    return Path(f"{folder}.execution.json")


def _read_executed(path: Path, sent, max_bytes: int):
    """(executed notebook, None), or (None, why it cannot be used). The file was written with the
    student's rights, so its cells must be exactly those sent."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None, "the notebook produced no executed copy (the run was stopped before its first cell)"
    with os.fdopen(descriptor, "rb") as stream:
        text = stream.read(max_bytes + 1)
    try:
        executed = nbformat.reads(text.decode("utf-8"), as_version=4)
        nbformat.validate(executed)
    except Exception:
        return None, "the executed notebook is unreadable (changed from inside the kernel?)"
    if [(c.cell_type, c.source) for c in executed.cells] != [(c.cell_type, c.source) for c in sent.cells]:
        return None, "the executed notebook's cells differ from those sent (changed from inside the kernel)"
    return executed, None


def _limits_hit(execution: Execution, limits: Limits) -> tuple[list[str], str]:
    """(flags, why the cells after the end did not run) for the limits that stopped the whole run."""
    flags, stop_reason = [], "the run stopped before this cell"
    if execution.cpu_exceeded:
        stop_reason = f"the notebook used {execution.cpu_seconds:.0f} s of CPU time, past its {limits.notebook_cpu_s:g} s limit"
    elif execution.timed_out:
        stop_reason = (f"the notebook ran past its {limits.notebook_timeout_s:g} s wall-clock backstop "
                       f"(it had used {execution.cpu_seconds:.0f} s of CPU time)")
    elif execution.memory_exceeded:
        stop_reason = (f"the kernel was killed at the {limits.memory_mb} MB memory limit (the run held "
                       f"{execution.peak_memory_mb:.0f} MB at its peak)")
    elif execution.disk_exceeded:
        stop_reason = f"the notebook's files passed its {limits.disk_mb} MB disk quota"
    if execution.cpu_exceeded or execution.timed_out or execution.memory_exceeded or execution.disk_exceeded:
        flags.append(stop_reason)
    if execution.process_limit_hit:
        flags.append(f"the notebook reached the limit of {limits.processes} processes")
    return flags, stop_reason


def _stopped_by_runner(ran_cells: list, exit_code: int):
    """The cell at which the runner stopped the run, if its exit status says it did: the last cell
    that ran, whose last output is the runner's (a kernel can print errors named like it, earlier)."""
    if exit_code not in (runner.EXIT_STOPPED, runner.EXIT_STOPPED_BY_WALL_CLOCK):
        return None
    last = next((cell for cell in reversed(ran_cells) if cell is not None and cell.get("execution_count") is not None), None)
    stops = (runner.STOPPED, runner.STOPPED_BY_WALL_CLOCK)
    return last if last is not None and last.outputs and last.outputs[-1].get("ename") in stops else None


def write_record(record: dict) -> None:
    """Save what the grader saw of one notebook's run (read back by the pipeline) beside its folder."""
    record_path(record["run_folder"]).write_text(json.dumps(record, indent=1))


def record_path(run_folder) -> Path:
    return Path(f"{run_folder}.json")


class TrustedRecheck(NbGraderPreprocessor):
    """Judges graded cells in the grader's own process: each registered judge (`autograder.judges`)
    takes the hidden inputs the grader drew for the run and the evidence the cell's collector
    exported (`autograder.exports`). A cell that the judge fails gets the judge's diagnosis as its
    first output (no points); a cell that passed in the kernel but left no evidence the judge can
    read (errors swallowed, tests emptied, forged files) is also flagged. The kernel's own outputs
    that look like the grader's are marked as the notebook's first (`mark_imitations`)."""

    def preprocess(self, nb, resources):
        mark_imitations(nb)
        judges = judges_of(resources["nbgrader"]["assignment"])
        record = resources.get("autograder")
        if not judges or record is None:
            return nb, resources
        kept = hidden_inputs_path(record["run_folder"])
        for cell in nb.cells:
            judge = judges.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
            if judge is None or any(o.output_type == "error" for o in cell.outputs):
                continue
            try:
                evidence = exports.load(Path(record["run_folder"]), judge.collector, kept_token(kept),
                                        record["exports_written"].get(judge.grade_id, {}))
                verdict = judge.judge(kept_inputs(kept, judge), evidence)
                if verdict:  # what the judge measured (a comparison may return nothing)
                    cell.outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                               text=f"{VERDICT}{clip(verdict, VERDICT_CHARACTERS)}\n"))
            except AssertionError as error:
                _fail_first(cell, clip(error, VERDICT_CHARACTERS))
            except exports.ExportError as error:
                message = f"passed in the notebook, but the grader cannot judge it: {clip(error)}"
                record["flags"].append(f"{judge.grade_id}: {message}")
                _fail_first(cell, message)
        write_record(record)
        return nb, resources


HIDDEN_TEST_FAILED = "HiddenTestFailed"
"""ename of the error output that shows a judge's diagnosis."""
VERDICT = "Grader: "
"""Start of the output line that shows what a judge measured in a cell it passed."""
VERDICT_CHARACTERS = 1000
"""The most of a judge's message shown (it may quote what the kernel exported)."""
IMITATION = "[printed by the notebook] "
"""What marks a line of the kernel's own output that starts as a grader's line does."""
_LOOKS_LIKE_THE_GRADER = re.compile(rf"^(\W*)(?=(grader|{HIDDEN_TEST_FAILED}))", re.M | re.I)
_NAMES_THE_GRADER = re.compile(rf"grader|{HIDDEN_TEST_FAILED}", re.I)


def mark_imitations(nb) -> None:
    """Mark every line of the kernel's outputs (text, rich text, errors) that starts as the grader's
    verdicts and diagnoses do, so that what a notebook printed never reads as the grader's word."""
    def marked(text):
        joined = "".join(text) if isinstance(text, list) else str(text)
        return _LOOKS_LIKE_THE_GRADER.sub(lambda match: match.group(1) + IMITATION, joined)

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                output.text = marked(output.text)
            elif output.output_type == "error":
                output.ename, output.evalue = marked(output.ename), marked(output.evalue)
                output.traceback = [marked(line) for line in output.traceback]
            else:
                for mime, value in output.get("data", {}).items():
                    if mime == "text/plain":
                        output.data[mime] = marked(value)
                    elif mime.startswith("text/") and _NAMES_THE_GRADER.search(str(value)):  # markup can hide a line's start
                        output.data[mime] = IMITATION + str(value)


def _fail_first(cell, message: str) -> None:
    """An error output before the others: nbgrader scores a cell by its first error or result output."""
    cell.outputs.insert(0, nbformat.v4.new_output("error", ename=HIDDEN_TEST_FAILED, evalue=message,
                                                  traceback=[f"{HIDDEN_TEST_FAILED}: {message}"]))
