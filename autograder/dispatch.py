"""Where notebooks execute: the workers of a Dask distributed cluster.

The grading process, the one trusted writer of grades, prepares each submission's notebooks and
hands them to `Workers`; a worker only executes them, in the sandbox under the limits
(`autograder.sandbox`), and sends back what each run left: the executed notebook, the exported
arrays and its measurements. Grading on this machine starts a local cluster of ``workers``
processes; ``cluster`` names an existing Dask scheduler (on Slurm through dask-jobqueue, on
Kubernetes through Dask Gateway: see README.md), so one code path serves both.

Assignments that need a GPU (``c.Dispatch.gpu_assignments`` in nbgrader_config.py) run only on
workers that have the resource ``GPU=1`` (one worker per GPU, its ``CUDA_VISIBLE_DEVICES`` set),
so a GPU runs one notebook at a time.
"""

import contextlib
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from traitlets import List
from traitlets.config import Configurable

from coursekit.evidence import EXPORTS

from .errors import CourseError
from .execution import run_program
from .sandbox import Limits, missing_protections, require_protections
from .untrusted import UnreadableFile, read_regular

GPU = "GPU"
"""The Dask worker resource a GPU assignment's submission takes while it runs."""
PROGRESS_TOPIC = "autograder-progress"
"""Dask event topic on which a worker announces the submission it starts."""
MAX_RESULT_BYTES = 512 * 2**20
"""Most a run sends back: its executed notebook and exports."""
LOG_TAIL_BYTES = 64 * 2**10


class Dispatch(Configurable):
    """The course's settings for where notebooks execute (``c.Dispatch`` in nbgrader_config.py)."""

    gpu_assignments = List(help="Assignments whose notebooks execute only on workers with a GPU").tag(config=True)


@dataclass
class Execution:
    """One notebook's run: what it measured, and the files it left."""

    exit_code: int
    timed_out: bool
    """The wall-clock backstop stopped the whole notebook."""
    memory_exceeded: bool
    process_limit_hit: bool
    wall_seconds: float
    peak_memory_mb: float
    cpu_seconds: float
    cpu_exceeded: bool
    """The CPU-time limit stopped the whole notebook."""
    disk_exceeded: bool
    device: str
    """What the kernel could compute on: 'CPU' or 'GPU: <name>'."""
    worker: str
    """The machine it ran on (and the GPU it could use)."""
    files: dict[str, bytes] = field(default_factory=dict)
    """The executed notebook and the exports, by path inside the run folder (runs on workers)."""
    log: bytes = b""
    """The end of the run's log (runs on workers)."""


def execute_submission(student: str, runs: dict[str, dict[str, bytes]], limits: Limits,
                       allow_missing_limits: bool) -> dict[str, Execution]:
    """On a worker: execute each notebook of ``runs`` ({name: its prepared run folder's files})
    in the sandbox under ``limits``, one after the other, in a scratch folder of this machine."""
    from .log import stderr_to_log

    with stderr_to_log():  # imported where it works (nbgrader is heavy); TensorFlow's start-up lines to the log
        from .nbgrader_plugins import EXECUTED, execute_run

    require_protections(allow_missing_limits, where=f"worker {worker_name()}")
    _announce(student)
    executions = {}
    for name, files in runs.items():
        with tempfile.TemporaryDirectory(prefix="autograder-worker-") as scratch:
            folder, log = Path(scratch) / name, Path(scratch) / f"{name}.log"
            write_files(folder, files)
            execution = execute_run(folder, name, limits, log)
            execution.files = collect_files(folder, [EXECUTED, EXPORTS])
            execution.log = _tail(log)
            executions[name] = execution
    return executions


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` ({path inside ``folder``: contents}); a path leading outside is refused."""
    for relpath, body in files.items():
        path = PurePosixPath(relpath)
        if path.is_absolute() or not path.parts or ".." in path.parts:
            raise ValueError(f"refusing to write {relpath!r} outside the run folder")
        target = folder.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


def collect_files(folder: Path, names: list[str]) -> dict[str, bytes]:
    """The regular files ``names`` of ``folder`` (a named folder: the files in it), up to
    MAX_RESULT_BYTES in all. Links are never followed: the kernel could have left one to a file
    of the worker's."""
    paths = []
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            paths += sorted(path.iterdir())
        else:
            paths.append(path)
    files, room = {}, MAX_RESULT_BYTES
    for path in paths:
        try:
            body = read_regular(path, room)
        except (OSError, UnreadableFile):  # gone, a link, a FIFO, a device, or too large: not taken
            continue
        files[path.relative_to(folder).as_posix()] = body
        room -= len(body)
    return files


def _tail(path: Path) -> bytes:
    if not path.exists():
        return b""
    with open(path, "rb") as stream:
        stream.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return stream.read()


def _announce(student: str) -> None:
    """Tell the grading process that this worker starts ``student`` (for its progress display)."""
    with contextlib.suppress(ImportError, ValueError):  # not on a Dask worker
        from distributed import get_worker
        get_worker().log_event(PROGRESS_TOPIC, {"student": student, "host": worker_name()})


def worker_name() -> str:
    """This machine's name, and the GPU it may use."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return socket.gethostname() + (f" GPU {visible}" if visible else "")


class Workers:
    """A Dask client for grading: a local cluster of ``workers`` processes, or an existing cluster:
    ``cluster`` is its scheduler's address, or a connected ``distributed.Client`` (a Dask Gateway
    cluster's, say). A context manager."""

    def __init__(self, workers: int = 1, cluster=None, connect_timeout_s: float = 30):
        if workers < 1:
            raise CourseError(f"--workers must be at least 1, got {workers}")
        self.workers, self.cluster, self.connect_timeout_s = workers, cluster, connect_timeout_s
        self.client = self._local = None

    def __enter__(self) -> "Workers":
        from distributed import Client

        if isinstance(self.cluster, str):
            try:
                self.client = Client(self.cluster, timeout=f"{self.connect_timeout_s}s")
            except OSError as error:
                raise CourseError(f"no Dask scheduler answers at {self.cluster}: {error}") from None
        elif self.cluster is not None:
            self.client = self.cluster
        else:
            self._local = local_cluster(self.workers)
            self.client = Client(self._local)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.client is not self.cluster:  # a client handed in stays open for its owner
            self.client.close()
        if self._local is not None:
            self._local.close()

    def check(self, allow_missing_limits: bool, gpu: bool) -> None:
        """Refuse (CourseError) where the notebooks cannot run: a worker that cannot enforce the
        limits (unless allowed), or, for a GPU assignment, no worker with a GPU."""
        for address, missing in self.client.run(missing_protections).items():
            require_protections(allow_missing_limits, missing, where=f"worker {address}")
        if gpu and not any(GPU in worker.get("resources", {}) for worker in self.client.scheduler_info()["workers"].values()):
            raise CourseError(f"this assignment needs a GPU, and no worker of the cluster has one (start one Dask "
                              f"worker per GPU with `--resources {GPU}=1` and its CUDA_VISIBLE_DEVICES)")

    def submit(self, function: Callable, *arguments, gpu: bool = False):
        return self.client.submit(function, *arguments, resources={GPU: 1} if gpu else None, pure=False)

    def on_start(self, handler: Callable[[str, str], None]) -> None:
        """Call ``handler(student, worker)`` when a worker starts a submission."""
        self.client.subscribe_topic(PROGRESS_TOPIC, lambda event: handler(event[1]["student"], event[1]["host"]))


def local_cluster(workers: int):
    """``workers`` worker processes of one thread each on this machine; with GPUs, each of the
    first workers owns one (CUDA_VISIBLE_DEVICES) and the others none."""
    from distributed import LocalCluster, Nanny, Scheduler, SpecCluster

    gpus = local_gpus()
    if not gpus:
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    specs = {}
    for index in range(workers):
        owned = {"resources": {GPU: 1}, "env": {"CUDA_VISIBLE_DEVICES": gpus[index]}} if index < len(gpus) \
            else {"env": {"CUDA_VISIBLE_DEVICES": ""}}
        specs[f"worker-{index}"] = {"cls": Nanny, "options": {"nthreads": 1, **owned}}
    return SpecCluster(workers=specs, scheduler={"cls": Scheduler, "options": {"dashboard_address": None}})


def local_gpus() -> list[str]:
    """Indices of this machine's NVIDIA GPUs (none where nvidia-smi cannot run or finds none)."""
    return find_gpus()[0]


def find_gpus() -> tuple[list[str], str]:
    """Indices of this machine's NVIDIA GPUs, and where there are none, why: nvidia-smi cannot run
    (`execution.run_program`: missing, not executable, ...), fails, or lists none."""
    listed, problem = run_program(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    if listed is None:
        return [], problem
    if listed.returncode != 0:
        said = (listed.stderr or listed.stdout).strip().splitlines()
        return [], f"nvidia-smi -L failed ({said[-1] if said else f'exit status {listed.returncode}'})"
    gpus = [str(index) for index, line in enumerate(line for line in listed.stdout.splitlines() if line.startswith("GPU"))]
    return gpus, "" if gpus else "nvidia-smi -L lists none"


def describe_gpus() -> str:
    """What `autograder doctor` says of this machine's GPUs."""
    gpus, problem = find_gpus()
    return f"this machine's GPUs: {', '.join(gpus)} (nvidia-smi -L)" if gpus else \
        f"this machine's GPUs: none ({problem}); notebooks run on the CPU"
