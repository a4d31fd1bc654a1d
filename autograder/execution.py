"""Running a command under a wall-clock limit, measuring its time, peak memory and device."""

import contextlib
import functools
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


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


def run_limited(command: list[str], *, cwd: Path, log_path: Path, timeout_s: float, env: dict | None = None,
                preexec_fn=None, memory_limit_mb: float | None = None, watchdog_interval_s: float = 0.2) -> ProcessOutcome:
    """Run ``command``; past ``timeout_s`` kill it and every descendant (kernels included).
    ``preexec_fn`` runs in the child before exec (to join cgroups, set rlimits). With
    ``memory_limit_mb``, a watchdog kills the largest process of the tree (the kernel) whenever the
    tree's resident memory passes it."""
    start = time.monotonic()
    timed_out = threading.Event()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env or grading_environment(),
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=preexec_fn)
        timer = threading.Timer(timeout_s, _kill_tree, (process.pid, timed_out))
        timer.start()
        watchdog = _MemoryWatchdog(process.pid, memory_limit_mb, watchdog_interval_s) if memory_limit_mb else None
        try:
            # wait4 rather than wait: it returns the resource usage of this child alone.
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            if watchdog:
                watchdog.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    peak = max(usage.ru_maxrss / 1024, watchdog.peak_mb if watchdog else 0)
    return ProcessOutcome(process.returncode, timed_out.is_set(), time.monotonic() - start, peak,
                          memory_exceeded=bool(watchdog and watchdog.exceeded))


class _MemoryWatchdog(threading.Thread):
    """Measures a process tree's resident memory every ``interval_s``; over ``limit_mb``, kills its
    largest process (a notebook's kernel), as a memory cgroup would. For machines where the
    grader cannot make one (an ordinary user without a delegated cgroup v2 group)."""

    def __init__(self, pid: int, limit_mb: float, interval_s: float):
        super().__init__(daemon=True)
        self.pid, self.limit_bytes, self.interval_s = pid, limit_mb * 2**20, interval_s
        self.peak_mb, self.exceeded = 0.0, False
        self._stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stopped.wait(self.interval_s):
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

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _resident_sizes(pid: int) -> dict:
    """{process: resident bytes} of ``pid`` and its descendants (those still there)."""
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return {}
    sizes = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            sizes[process] = process.memory_info().rss
    return sizes


def _kill_tree(pid: int, timed_out: threading.Event) -> None:
    timed_out.set()
    try:
        parent = psutil.Process(pid)
        processes = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


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
