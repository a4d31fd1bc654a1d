"""Running a command under a wall-clock limit, measuring its time, peak memory and device."""

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
    """Largest resident set of the process or any descendant it waited for (the kernel)."""


def run_limited(command: list[str], *, cwd: Path, log_path: Path, timeout_s: float,
                env: dict | None = None, preexec_fn=None) -> ProcessOutcome:
    """Run ``command``; past ``timeout_s`` kill it and every descendant (kernels included).
    ``preexec_fn`` runs in the child before exec (to join cgroups, set rlimits)."""
    start = time.monotonic()
    timed_out = threading.Event()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env or grading_environment(),
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=preexec_fn)
        timer = threading.Timer(timeout_s, _kill_tree, (process.pid, timed_out))
        timer.start()
        try:
            # wait4 rather than wait: it returns the resource usage of this child alone.
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
    return ProcessOutcome(process.returncode, timed_out.is_set(), time.monotonic() - start,
                          usage.ru_maxrss / 1024)


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
