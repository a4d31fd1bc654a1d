"""Running a student's notebook under limits it cannot lift from inside.

Each run gets its own cgroup (v1 memory and pids controllers: the kernel dies alone when it
exceeds the memory limit, and a fork bomb stops at the process limit), a bubblewrap sandbox (no
network, its own process namespace so no daemon outlives it, and a file system that shows only
the Python install, the students' `coursekit` package and the notebook runner, never the grader's
code, the course data less its held-out answers (`data.grading_view`) and the run's own folder),
an unprivileged user (uid 65534) and a file-size rlimit (no output floods the disk). The
whole run has a wall-clock limit; `autograder.runner` adds the per-cell limit inside.
"""

import contextlib
import glob
import os
import re
import resource
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import coursekit

import autograder

from . import runner
from .data import data_dir
from .errors import CourseError
from .execution import ProcessOutcome, grading_environment, run_limited

UNPRIVILEGED_ID = 65534
"""uid and gid the notebook runs as (`nobody`/`nogroup` on Debian)."""
SANDBOX_FOLDER = "/submission"
"""Where the run's folder appears inside the sandbox (its working folder)."""
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    notebook_timeout_s: float = 1800
    """Wall clock for the whole notebook."""
    cell_timeout_s: float = 600
    """Wall clock for one cell."""
    memory_mb: int = 8192
    """Memory of every process of the run together (the largest reference notebook peaks at ~1.7 GB)."""
    processes: int = 1024
    """Processes and threads together (TensorFlow starts dozens of threads per kernel)."""
    cell_output_bytes: int = 1_000_000
    """Outputs kept per cell; more is cut with a note."""
    file_bytes: int = 256 * 2**20
    """Largest file the run may write (its executed notebook included)."""


@dataclass(frozen=True)
class SandboxOutcome(ProcessOutcome):
    memory_exceeded: bool = False
    """The memory limit was hit (the kernel is what gets killed)."""
    process_limit_hit: bool = False
    """A fork or thread start was refused at the process limit."""


def missing_protections() -> list[str]:
    """The limits this machine cannot enforce, each with what it needs."""
    missing = []
    if os.geteuid() != 0:
        missing.append("an unprivileged user and cgroups (the grader must run as root to set them up)")
    if not shutil.which("bwrap"):
        missing.append("network, process and file isolation (install bubblewrap: apt-get install bubblewrap)")
    if not shutil.which("setpriv"):
        missing.append("an unprivileged user (install util-linux for setpriv)")
    for controller in ("memory", "pids"):
        if not os.access(CGROUP_ROOT / controller, os.W_OK):
            missing.append(f"the {controller} limit (needs a writable cgroup v1 {controller} controller at "
                           f"{CGROUP_ROOT / controller})")
    return missing


def require_protections(allow_missing: bool, missing: list[str] | None = None, where: str = "") -> list[str]:
    """The protections missing here (or ``missing``, as measured ``where``), or CourseError
    naming them unless ``allow_missing``."""
    missing = missing_protections() if missing is None else missing
    if missing and not allow_missing:
        raise CourseError("refusing to grade untrusted notebooks without these limits" + (f" on {where}" if where else "")
                          + ": " + "; ".join(missing) + ". Run as root on Linux with bubblewrap, or pass "
                          "--allow-missing-limits to grade without them (only for notebooks you trust).")
    return missing


def run_in_sandbox(command: list[str], folder: Path, limits: Limits, log_path: Path,
                   data_view: dict[str, Path]) -> SandboxOutcome:
    """Run ``command`` in ``folder`` (the only writable place) under ``limits``, showing the course
    data as ``data_view`` (`data.grading_view`); every limit this machine cannot enforce is
    skipped (callers decide first with `require_protections`)."""
    sandboxed = not missing_protections()
    if sandboxed:
        os.chown(folder, UNPRIVILEGED_ID, UNPRIVILEGED_ID)
        command = _bubblewrap(folder, data_view) + command
    with _cgroups(limits) as cgroups:
        outcome = run_limited(command, cwd=folder, log_path=log_path, timeout_s=limits.notebook_timeout_s,
                              env=_environment(folder if not sandboxed else Path(SANDBOX_FOLDER)),
                              preexec_fn=lambda: _enter(cgroups, limits))
        peak = _read_int(cgroups.get("memory"), "memory.max_usage_in_bytes")
        return SandboxOutcome(
            outcome.exit_code, outcome.timed_out, outcome.wall_seconds,
            peak / 2**20 if peak else outcome.peak_memory_mb,
            memory_exceeded=_oom_kills(cgroups.get("memory")) > 0,
            process_limit_hit=_read_int(cgroups.get("pids"), "pids.events", field="max") > 0)


def _bubblewrap(folder: Path, data_view: dict[str, Path]) -> list[str]:
    """bwrap arguments: read-only system and Python, the read-only data view, ``folder`` writable."""
    arguments = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                 "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                 "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr",
                 "--ro-bind", "/etc", "/etc"]
    for device in gpu_devices():
        arguments += ["--dev-bind", device, device]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            arguments += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            arguments += ["--ro-bind", top, top]
    student_package = Path(coursekit.__file__).resolve().parent
    readable = {path.resolve(): path.resolve() for path in (Path(sys.prefix), Path(sys.base_prefix), student_package,
                                                            Path(runner.__file__))}
    root = data_dir().resolve()
    readable.update({root / relpath: source.resolve() for relpath, source in data_view.items()})
    created = set()
    for target, source in readable.items():
        if not source.exists() or str(target).startswith(("/usr/", "/etc/")):
            continue
        # bwrap makes missing parents mode 0700 for root; the unprivileged user must pass through.
        for parent in reversed(target.parents[:-1]):
            if parent not in created:
                arguments += ["--perms", "0755", "--dir", str(parent)]
                created.add(parent)
        arguments += ["--ro-bind", str(source), str(target)]
    for hidden in grader_inside(readable):
        arguments += ["--tmpfs", str(hidden)]
    arguments += ["--bind", str(folder), SANDBOX_FOLDER, "--chdir", SANDBOX_FOLDER, "--",
                  "setpriv", f"--reuid={UNPRIVILEGED_ID}", f"--regid={UNPRIVILEGED_ID}", "--clear-groups",
                  "--no-new-privs"]
    return arguments


def grader_inside(readable) -> list[Path]:
    """The grader's package where it lies inside a folder the sandbox shows (installed into the
    Python environment rather than from a checkout): hidden under an empty folder."""
    grader = Path(autograder.__file__).resolve().parent
    return [grader] if any(grader.is_relative_to(folder) for folder in readable if folder.is_dir()) else []


def gpu_devices(visible: str | None = None) -> list[str]:
    """The NVIDIA device files a notebook sees: the GPUs ``CUDA_VISIBLE_DEVICES`` names by index
    (all of them where it is unset or names GPUs by UUID) and, with any GPU, the driver's control
    devices. A worker that owns one GPU runs notebooks that cannot open another."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    devices = sorted(glob.glob("/dev/nvidia*"))
    gpus = [device for device in devices if re.fullmatch(r"/dev/nvidia\d+", device)]
    indices = [index.strip() for index in (visible or "").split(",") if index.strip()]
    if visible is not None and all(index.isdigit() for index in indices):
        gpus = [device for device in gpus if device.removeprefix("/dev/nvidia") in indices]
    return [device for device in devices if device in gpus or (gpus and not re.fullmatch(r"/dev/nvidia\d+", device))]


def _environment(folder: Path) -> dict:
    """A small environment: no grader secrets, a writable HOME, TensorFlow's logging off."""
    inherited = grading_environment()
    env = {name: inherited[name] for name in ("PATH", "LANG", "LC_ALL", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS",
                                              "COURSE_DATA_DIR", "CUDA_VISIBLE_DEVICES") if name in inherited}
    env.update(HOME=str(folder / ".home"), TMPDIR="/tmp", MPLCONFIGDIR=str(folder / ".home"),
               JUPYTER_RUNTIME_DIR=str(folder / ".home" / "runtime"), COURSE_DATA_DIR=str(data_dir()),
               PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    return env


@contextlib.contextmanager
def _cgroups(limits: Limits):
    """A fresh memory and pids cgroup for one run (those this machine has), removed afterwards."""
    name = f"autograder-{uuid.uuid4().hex[:12]}"
    cgroups = {}
    try:
        for controller in ("memory", "pids"):
            if os.access(CGROUP_ROOT / controller, os.W_OK):
                cgroups[controller] = CGROUP_ROOT / controller / name
                cgroups[controller].mkdir()
        if "memory" in cgroups:
            limit = str(limits.memory_mb * 2**20)
            (cgroups["memory"] / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):  # no swap accounting: swap is not limited separately
                (cgroups["memory"] / "memory.memsw.limit_in_bytes").write_text(limit)
        if "pids" in cgroups:
            (cgroups["pids"] / "pids.max").write_text(str(limits.processes))
        yield cgroups
    finally:
        for cgroup in cgroups.values():
            _empty_and_remove(cgroup)


def _enter(cgroups: dict, limits: Limits) -> None:
    """In the child before exec: join the run's cgroups and cap file sizes and core dumps."""
    for cgroup in cgroups.values():
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _empty_and_remove(cgroup: Path) -> None:
    """Kill whatever is still in the cgroup (a daemon that escaped), then remove it."""
    for _ in range(50):
        pids = (cgroup / "cgroup.procs").read_text().split() if cgroup.exists() else []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # busy until the killed processes are gone
            time.sleep(0.1)


def _read_int(cgroup: Path | None, name: str, field: str | None = None) -> int:
    if cgroup is None or not (cgroup / name).exists():
        return 0
    text = (cgroup / name).read_text()
    if field is None:
        return int(text.strip())
    values = dict(line.split() for line in text.splitlines() if line.strip())
    return int(values.get(field, 0))


def _oom_kills(cgroup: Path | None) -> int:
    """Processes the memory limit killed."""
    return _read_int(cgroup, "memory.oom_control", field="oom_kill")
