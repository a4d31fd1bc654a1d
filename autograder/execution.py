"""Running a command under limits of CPU time, wall clock and memory, measuring its time, CPU
time, peak memory and device."""

import contextlib
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from . import runner


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int
    timed_out: bool
    """True when the wall-clock limit killed the process tree."""
    wall_seconds: float
    peak_memory_mb: float
    """Largest resident set of the process or any descendant it waited for (the kernel), or, with
    the memory watchdog, the most the process tree held at once."""
    memory_exceeded: bool = False
    """The memory limit was hit (the kernel is what gets killed)."""
    cpu_seconds: float = 0.0
    """CPU time of every process of the run together."""
    cpu_exceeded: bool = False
    """The CPU-time limit killed the process tree."""
    disk_exceeded: bool = False
    """The files in the run's folder passed its disk quota, and the process tree was killed."""


def run_limited(command: list[str], *, cwd: Path, log_path: Path, timeout_s: float, env: dict | None = None,
                preexec_fn=None, memory_limit_mb: float | None = None, watchdog_interval_s: float = 0.2,
                cpu_limit_s: float | None = None, cpu_seconds: Callable[[], float] | None = None,
                disk_limit_mb: float | None = None) -> ProcessOutcome:
    """Run ``command``; past ``timeout_s`` of wall clock, or ``cpu_limit_s`` of CPU time (the
    whole process tree's, measured by ``cpu_seconds``, default: the tree's process times), or
    ``disk_limit_mb`` of files in ``cwd``, kill it and every descendant (kernels included).
    ``preexec_fn`` runs in the child before exec (to join cgroups, set rlimits). With
    ``memory_limit_mb``, a watchdog kills the largest process of the tree (the kernel) whenever the
    tree's resident memory passes it."""
    start = time.monotonic()
    timed_out = threading.Event()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env or grading_environment(),
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=preexec_fn)
        def backstop() -> None:
            timed_out.set()
            _kill_tree(process.pid)

        timer = threading.Timer(timeout_s, backstop)
        timer.start()
        watchdog = _MemoryWatchdog(process.pid, memory_limit_mb, watchdog_interval_s) if memory_limit_mb else None
        cpu = _CpuLimit(process.pid, cpu_seconds or functools.partial(tree_cpu_seconds, process.pid), cpu_limit_s)
        disk = _DiskQuota(process.pid, Path(cwd), disk_limit_mb) if disk_limit_mb else None
        try:
            # wait4 rather than wait: it returns the resource usage of this child and of the
            # descendants it waited for (each process waits for its own: the whole tree).
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            cpu.stop()
            for watch in (watchdog, disk):
                if watch:
                    watch.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    peak = max(usage.ru_maxrss / 1024, watchdog.peak_mb if watchdog else 0)
    used = max(usage.ru_utime + usage.ru_stime, cpu.used, cpu_seconds() if cpu_seconds else 0)
    return ProcessOutcome(process.returncode, timed_out.is_set() and not cpu.exceeded, time.monotonic() - start, peak,
                          memory_exceeded=bool(watchdog and watchdog.exceeded), cpu_seconds=used,
                          cpu_exceeded=cpu.exceeded, disk_exceeded=bool(disk and disk.exceeded))


CPU_POLL_S = 1.0
"""How often a run's CPU time is measured against its limit."""


class _Watch(threading.Thread):
    """Measures a run's process tree every ``interval_s`` (`check`) until stopped."""

    def __init__(self, pid: int, interval_s: float):
        super().__init__(daemon=True)
        self.pid, self.interval_s, self.exceeded = pid, interval_s, False
        self._stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            self.check()

    def check(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopped.set()
        self.join()


class _CpuLimit(_Watch):
    """Past ``limit_s`` of CPU time (if any), as ``measure`` counts it, kills the run's tree."""

    def __init__(self, pid: int, measure: Callable[[], float], limit_s: float | None):
        self.measure, self.limit_s, self.used = measure, limit_s, 0.0
        super().__init__(pid, CPU_POLL_S)

    def check(self) -> None:
        self.used = max(self.used, self.measure())
        if self.limit_s is not None and self.used > self.limit_s and not self.exceeded:
            self.exceeded = True
            _kill_tree(self.pid)


class _MemoryWatchdog(_Watch):
    """Over ``limit_mb`` of the tree's resident memory, kills its largest process (a notebook's
    kernel), as a memory cgroup would. For machines where the grader cannot make one (an ordinary
    user without a delegated cgroup v2 group)."""

    def __init__(self, pid: int, limit_mb: float, interval_s: float):
        self.limit_bytes, self.peak_mb = limit_mb * 2**20, 0.0
        super().__init__(pid, interval_s)

    def check(self) -> None:
        sizes = _resident_sizes(self.pid)
        total = sum(sizes.values())
        if total > self.limit_bytes:  # resident sizes count the pages forked processes share once each
            sizes = {process: _proportional_size(process, size) for process, size in sizes.items()}
            total = sum(sizes.values())
        self.peak_mb = max(self.peak_mb, total / 2**20)
        if total > self.limit_bytes:
            self.exceeded = True
            with contextlib.suppress(psutil.Error):
                max(sizes, key=sizes.get).kill()


class _DiskQuota(_Watch):
    """Past ``limit_mb`` of files in ``folder`` (their allocated blocks; or past ``MAX_FILES``
    names), kills the run's tree: a quota on the run's writable folder that needs no privilege."""

    MAX_FILES = 100_000

    def __init__(self, pid: int, folder: Path, limit_mb: float):
        self.folder, self.limit_bytes = folder, limit_mb * 2**20
        super().__init__(pid, CPU_POLL_S)

    def check(self) -> None:
        if not self.exceeded and folder_usage(self.folder, self.MAX_FILES) > self.limit_bytes:
            self.exceeded = True
            _kill_tree(self.pid)


def folder_usage(folder: Path, max_files: int) -> float:
    """Bytes the files under ``folder`` take on disk (infinite past ``max_files`` names); links
    and mounts are not entered."""
    used, seen, pending = 0, 0, [folder]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        seen += len(entries)
        if seen > max_files:
            return float("inf")
        for entry in entries:
            with contextlib.suppress(OSError):
                used += entry.stat(follow_symlinks=False).st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return used


def _tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants (none where it is gone)."""
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants: those alive, and those they waited for (a process
    that ends before its parent waits for it is counted once the parent does)."""
    return runner.cpu_seconds(_tree(pid))


def _resident_sizes(pid: int) -> dict:
    """{process: resident bytes} of ``pid`` and its descendants (those still there)."""
    sizes = {}
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            sizes[process] = process.memory_info().rss
    return sizes


def _kill_tree(pid: int) -> None:
    for process in reversed(_tree(pid)):  # the descendants first
        with contextlib.suppress(psutil.Error):
            process.kill()


def _proportional_size(process: psutil.Process, resident: int) -> int:
    """The process's share of its resident pages (each page shared by n processes counts 1/n):
    slower to measure than the resident size (the kernel walks the page tables), so measured only
    when the resident sizes add up to more than the limit."""
    try:
        with open(f"/proc/{process.pid}/smaps_rollup") as stream:
            return next(int(line.split()[1]) * 1024 for line in stream if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return resident


def grading_environment() -> dict:
    """Environment of grading subprocesses: this Python's tools first on PATH (nbgrader needs
    alembic; the kernel spec runs `python`), and TensorFlow's C++ logging off."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


_DEVICE_PROBE = """
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
print("GPU: " + ", ".join(names) if gpus else "CPU")
"""


@functools.cache
def available_device() -> str:
    """What a notebook kernel here can compute on: 'CPU', or 'GPU: <names>'."""
    try:
        result = subprocess.run([sys.executable, "-c", _DEVICE_PROBE], capture_output=True, text=True,
                                env=grading_environment(), timeout=120)
    except subprocess.TimeoutExpired:
        return "unknown (device probe timed out)"
    lines = result.stdout.strip().splitlines()
    return lines[-1] if result.returncode == 0 and lines else "unknown (TensorFlow did not start)"


def run_program(command: list[str], **options) -> tuple[subprocess.CompletedProcess | None, str]:
    """``subprocess.run(command, **options)`` and "", or None and why the program could not run: any
    OSError starting it (not on PATH, not executable, a PATH folder that cannot be searched or is a
    file) or no answer within ``options["timeout"]``. For the programs the kit can do without
    (nvidia-smi) or probes before it relies on them (bwrap): such a program is then unavailable,
    never a crash."""
    try:
        return subprocess.run(command, **options), ""
    except subprocess.TimeoutExpired:
        return None, f"{command[0]}: no answer within {options['timeout']:g} s"
    except OSError as error:
        return None, program_problem(command[0], error, options.get("env"))


def find_program(name: str, env: dict | None = None) -> tuple[str | None, str]:
    """The executable file that running ``name`` would start (looked up on the PATH of ``env``,
    default this process's) and "", or None and why there is none (`program_problem`)."""
    candidates = [name] if os.sep in name else [os.path.join(folder, name) for folder in os.get_exec_path(env)]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate, ""
    return None, program_problem(name, env=env)


def program_problem(name: str, error: OSError | None = None, env: dict | None = None) -> str:
    """Why ``name`` cannot run, as the PATH of ``env`` (default this process's) shows it, given the
    OSError that starting it raised, if any: 'nvidia-smi: permission denied in /opt/tools' (there,
    but not executable, or in a folder this user cannot search), 'nvidia-smi: not found on PATH', ..."""
    def said(problem: OSError) -> str:
        return (problem.strerror or str(problem)).lower()

    if os.sep in name:
        return f"{name}: {said(error) if error else 'not an executable file'}"
    not_folders = []
    for folder in os.get_exec_path(env):
        candidate = os.path.join(folder, name)
        try:
            if not os.path.isdir(folder):
                if os.path.exists(folder):
                    not_folders.append(folder)
                continue
            os.stat(candidate)
        except FileNotFoundError:
            continue
        except PermissionError:
            return f"{name}: permission denied in {folder}, a folder this user cannot search"
        except OSError as problem:
            return f"{name}: {said(problem)} in {folder}"
        if not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
            return f"{name}: permission denied in {folder}, where it is not an executable file"
        if error is not None:  # an executable file that would not start (a noexec mount, a wrong format)
            return f"{name}: {said(error)} in {folder}"
    if not_folders:
        return f"{name}: not found on PATH, which names files, not folders: {', '.join(not_folders)}"
    if error is not None and not isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return f"{name}: not found on PATH: {said(error)}"
    return f"{name}: not found on PATH"
