"""Running a student's notebook under limits it cannot lift from inside.

Every run gets a bubblewrap sandbox: no network, its own process namespace (no daemon outlives
it), and a file system that shows only the Python install, the students' `coursekit` package and
the notebook runner (never the grader's code), the course data less its held-out answers
(`data.grading_view`) and the run's own folder. Around it, what this machine can enforce
(`protections()`; `autograder doctor` prints it):

| limit | as root | as an ordinary user |
|---|---|---|
| user | setpriv to uid 65534 | the grader's own uid, seen as 65534 in a user namespace |
| memory | a cgroup (v1, or v2 under /sys/fs/cgroup/autograder) | a delegated cgroup v2 group, else a watchdog on the run's resident memory |
| processes | a pids cgroup | a delegated pids cgroup, else RLIMIT_NPROC in the user namespace |
| file size | RLIMIT_FSIZE | RLIMIT_FSIZE |
| disk | the run's folder measured every second (killed past `disk_mb`); /tmp a tmpfs of that size | the same |
| CPU time | the whole run: its cgroup's count (else the process tree's times); each cell: `autograder.runner` | the same |
| wall clock (a backstop) | the whole notebook here, each cell in `autograder.runner` | the same |
"""

import functools
import glob
import os
import re
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

import coursekit

import autograder

from . import cgroups, runner
from .data import data_dir
from .errors import CourseError
from .execution import CPU_POLL_S, ProcessOutcome, find_program, grading_environment, run_limited, run_program

UNPRIVILEGED_ID = 65534
"""uid and gid the notebook runs as (`nobody`/`nogroup` on Debian)."""
SANDBOX_FOLDER = "/submission"
"""Where the run's folder appears inside the sandbox (its working folder)."""
ROOT, USER_NAMESPACE = "root", "user namespace"
"""How the sandbox makes its user unprivileged: setpriv as root, or a user namespace."""
WATCHDOG_INTERVAL_S = 0.2
"""How often the memory watchdog measures a run that no memory cgroup limits."""


@dataclass(frozen=True)
class Limits:
    """What one notebook's run may use. Time is limited in CPU seconds, which a busy grading
    machine does not inflate, with the kernel's threads capped so that the same notebook uses about
    the same CPU time on a 2-core and a 64-core grader; the wall clock is only a backstop for a
    notebook that waits instead of computing (a run it stops is graded once more, alone)."""

    notebook_cpu_s: float = 2400
    """CPU time of the whole run (every process together; the heaviest reference notebook uses ~330 s)."""
    cell_cpu_s: float = 1200
    """CPU time of one cell (the heaviest reference cell uses ~250 s)."""
    kernel_threads: int = 2
    """Threads the kernel's math libraries (TensorFlow, OpenBLAS, OpenMP) use: CPU time per notebook
    then grows with the work, not with the grader's cores."""
    notebook_timeout_s: float = 5400
    """Wall-clock backstop for the whole notebook."""
    cell_timeout_s: float = 2400
    """Wall-clock backstop for one cell (4x its CPU limit spread over ``kernel_threads``)."""
    memory_mb: int = 8192
    """Memory of every process of the run together (the largest reference notebook peaks at ~1.7 GB)."""
    processes: int = 1024
    """Processes and threads together (TensorFlow starts dozens of threads per kernel)."""
    cell_output_bytes: int = 1_000_000
    """Outputs kept per cell; more is cut with a note."""
    file_bytes: int = 256 * 2**20
    """Largest file the run may write (its executed notebook included)."""
    disk_mb: int = 1024
    """Files in the run's folder together, and again in its /tmp (the references leave a few MB)."""


@dataclass(frozen=True)
class SandboxOutcome(ProcessOutcome):
    process_limit_hit: bool = False
    """A fork or thread start was refused at the process limit (known where a cgroup counts them)."""


@dataclass(frozen=True)
class Protection:
    """One limit, as this machine enforces it."""

    limit: str
    how: str
    """How it is enforced here; empty where it is not."""
    fix: str = ""
    """What would enforce it, or enforce it better."""

    @property
    def enforced(self) -> bool:
        return bool(self.how)


@dataclass(frozen=True)
class _Machine:
    """What this machine offers the sandbox (probed once per process)."""

    isolation: str
    """ROOT, USER_NAMESPACE, or "" where bubblewrap cannot run."""
    isolation_problem: str
    cgroups: cgroups.Cgroups | None
    cgroups_problem: str


@functools.cache
def _machine() -> _Machine:
    groups, groups_problem = cgroups.find()
    return _Machine(*_probe_bubblewrap(), groups, groups_problem)


def _probe_bubblewrap() -> tuple[str, str]:
    """(ROOT or USER_NAMESPACE, "") where bubblewrap isolates here, else ("", why): a program it
    needs that cannot run (`execution.program_problem` says why), or namespaces it cannot create."""
    _, missing = find_program("bwrap")
    if missing:
        return "", f"bubblewrap is not available ({missing}): sudo apt-get install bubblewrap (Fedora: sudo dnf install bubblewrap)"
    mode = ROOT if os.geteuid() == 0 else USER_NAMESPACE
    needed = {"setpriv": "it drops the notebook to uid 65534"} if mode == ROOT else {}
    needed["prlimit"] = "it sets the process limit where no pids cgroup counts processes"
    for program, why in needed.items():
        _, missing = find_program(program)
        if missing:
            return "", f"{program} is not available ({missing}; {why}): sudo apt-get install util-linux"
    probe, missing = run_program(["bwrap", *_namespaces(mode), "--ro-bind", "/", "/", "true"], capture_output=True, text=True)
    if probe is None:
        return "", f"bubblewrap is not available ({missing})"
    if probe.returncode != 0:
        problem = f"bubblewrap cannot create its namespaces here ({probe.stderr.strip()})"
        if mode == USER_NAMESPACE:
            problem += (": allow unprivileged user namespaces (Debian: sudo sysctl -w kernel.unprivileged_userns_clone=1; "
                        "Ubuntu 24.04+: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), or grade as root")
        return "", problem
    return mode, ""


@functools.cache
def _bubblewrap_help() -> str:
    helped, _ = run_program(["bwrap", "--help"], capture_output=True, text=True)
    return helped.stdout if helped else ""


def _namespaces(mode: str) -> list[str]:
    user = ["--unshare-user", "--uid", str(UNPRIVILEGED_ID), "--gid", str(UNPRIVILEGED_ID)] if mode == USER_NAMESPACE else []
    if user and "--disable-userns" in _bubblewrap_help():  # bubblewrap 0.8+: no nested user namespaces
        user.append("--disable-userns")
    return [*user, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session"]


@functools.cache
def _bubblewrap_version() -> str:
    answered, missing = run_program(["bwrap", "--version"], capture_output=True, text=True)
    return answered.stdout.strip().removeprefix("bubblewrap ") if answered else f"(version unknown: {missing})"


def protections() -> list[Protection]:
    """Each limit grading needs, and how this machine enforces it (``how`` empty: it does not)."""
    machine = _machine()
    groups = machine.cgroups
    isolated = machine.isolation
    bubblewrap = f"bubblewrap {_bubblewrap_version()}" if isolated else ""
    isolation = Protection("isolation (no network, own processes, a file view without the grader, the course or "
                           "other students)", bubblewrap + (" in a user namespace" if isolated == USER_NAMESPACE else ""),
                           machine.isolation_problem)
    user = Protection("unprivileged user", {
        ROOT: "setpriv: uid and gid 65534, no capabilities",
        USER_NAMESPACE: "uid 65534 in a user namespace (outside it, the grader's own uid, reaching only the sandbox's view)",
    }.get(isolated, ""), machine.isolation_problem)
    if groups and "memory" in groups.bases:
        memory = Protection("memory limit", f"the kernel: {groups.describe('memory')}")
    else:
        memory = Protection("memory limit", "a watchdog that kills the kernel when the run's processes together pass "
                            f"the limit (resident memory, checked every {WATCHDOG_INTERVAL_S:g} s: a fast allocation can "
                            "overshoot between checks)",
                            f"for a limit the kernel enforces: {machine.cgroups_problem}")
    if groups and "pids" in groups.bases:
        processes = Protection("process limit", f"the kernel: {groups.describe('pids')}")
    elif isolated == USER_NAMESPACE:
        processes = Protection("process limit", "RLIMIT_NPROC, counted inside the sandbox's user namespace")
    elif isolated == ROOT:
        processes = Protection("process limit", "RLIMIT_NPROC of uid 65534 (shared by notebooks running at once)",
                               machine.cgroups_problem)
    else:
        processes = Protection("process limit", "", machine.isolation_problem)
    if groups and groups.version == 2:
        cpu_count = "its cgroup v2 group's cpu.stat"
    elif groups and cgroups.V1_ACCOUNTING in groups.bases:
        cpu_count = f"its group in {groups.bases[cgroups.V1_ACCOUNTING]}"
    else:
        cpu_count = "its process tree's CPU times"
    return [isolation, user, memory, processes,
            Protection("file-size limit", "RLIMIT_FSIZE"),
            Protection("disk quota", f"the run's folder measured every {CPU_POLL_S:g} s"
                       + (", /tmp a tmpfs of the same size" if "--size" in _bubblewrap_help() else "")),
            Protection("CPU time", f"the whole notebook ({cpu_count}, checked every {CPU_POLL_S:g} s) and each cell "
                       f"(the kernel's CPU times, in the runner); math libraries capped at the configured threads"),
            Protection("wall clock (backstop)", "the whole notebook (the grader) and each cell (the runner)")]


def missing_protections() -> list[str]:
    """The limits this machine cannot enforce, each with what it needs."""
    return [f"{protection.limit} ({protection.fix})" for protection in protections() if not protection.enforced]


def require_protections(allow_missing: bool, missing: list[str] | None = None, where: str = "") -> list[str]:
    """The protections missing here (or ``missing``, as measured ``where``), or CourseError
    naming them unless ``allow_missing``."""
    missing = missing_protections() if missing is None else missing
    if missing and not allow_missing:
        raise CourseError("refusing to grade untrusted notebooks without these limits" + (f" on {where}" if where else "")
                          + ": " + "; ".join(missing) + ". `autograder doctor` shows what this machine enforces; "
                          "--allow-missing-limits grades without them (only for notebooks you trust).")
    return missing


def run_in_sandbox(command: list[str], folder: Path, limits: Limits, log_path: Path,
                   data_view: dict[str, Path]) -> SandboxOutcome:
    """Run ``command`` in ``folder`` (the only writable place) under ``limits``, showing the course
    data as ``data_view`` (`data.grading_view`); every limit this machine cannot enforce is
    skipped (callers decide first with `require_protections`)."""
    machine = _machine()
    with cgroups.run_group(machine.cgroups, limits.memory_mb * 2**20, limits.processes) as group:
        if machine.isolation:
            if machine.isolation == ROOT:
                os.chown(folder, UNPRIVILEGED_ID, UNPRIVILEGED_ID)
            command = (_bubblewrap(folder, data_view, machine.isolation, limits.disk_mb)
                       + _inside(machine.isolation, group, limits) + command)
        outcome = run_limited(command, cwd=folder, log_path=log_path, timeout_s=limits.notebook_timeout_s,
                              env=_environment(Path(SANDBOX_FOLDER) if machine.isolation else folder, limits),
                              preexec_fn=lambda: _enter(group, limits),
                              memory_limit_mb=None if group.limits("memory") else limits.memory_mb,
                              watchdog_interval_s=WATCHDOG_INTERVAL_S, cpu_limit_s=limits.notebook_cpu_s,
                              cpu_seconds=group.cpu_seconds if group.counts_cpu() else None,
                              disk_limit_mb=limits.disk_mb)
        return SandboxOutcome(
            outcome.exit_code, outcome.timed_out, outcome.wall_seconds,
            group.peak_memory_mb() or outcome.peak_memory_mb,
            memory_exceeded=outcome.memory_exceeded or group.memory_exceeded(),
            cpu_seconds=outcome.cpu_seconds, cpu_exceeded=outcome.cpu_exceeded, disk_exceeded=outcome.disk_exceeded,
            process_limit_hit=group.process_limit_hit())


def _inside(isolation: str, group: cgroups.RunGroup, limits: Limits) -> list[str]:
    """What runs first inside the sandbox: the drop to uid 65534 (as root), and the process limit
    where no cgroup counts processes (set inside, so that a user namespace counts only its own)."""
    drop = ["setpriv", f"--reuid={UNPRIVILEGED_ID}", f"--regid={UNPRIVILEGED_ID}", "--clear-groups", "--no-new-privs"] \
        if isolation == ROOT else []
    count = [] if group.limits("pids") else ["prlimit", f"--nproc={limits.processes}:{limits.processes}", "--"]
    return drop + count


def _bubblewrap(folder: Path, data_view: dict[str, Path], isolation: str, disk_mb: int) -> list[str]:
    """bwrap arguments: read-only system and Python, the read-only data view, ``folder`` writable,
    /tmp a tmpfs of at most ``disk_mb`` (where bubblewrap can size one: 0.5+; else the memory
    limit bounds it, which counts a tmpfs's pages)."""
    tmp_size = ["--size", str(disk_mb * 2**20)] if "--size" in _bubblewrap_help() else []
    arguments = ["bwrap", *_namespaces(isolation), "--proc", "/proc", "--dev", "/dev", *tmp_size, "--tmpfs", "/tmp",
                 "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
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
    return arguments + ["--bind", str(folder), SANDBOX_FOLDER, "--chdir", SANDBOX_FOLDER, "--"]


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


THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS")
"""What caps the threads of TensorFlow's, OpenMP's and the BLAS libraries' thread pools."""


def _environment(folder: Path, limits: Limits) -> dict:
    """A small environment: no grader secrets, a writable HOME, TensorFlow's logging off, the
    kernel's math libraries capped at ``limits.kernel_threads``."""
    inherited = grading_environment()
    env = {name: inherited[name] for name in ("PATH", "LANG", "LC_ALL", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS",
                                              "COURSE_DATA_DIR", "CUDA_VISIBLE_DEVICES") if name in inherited}
    env.update(HOME=str(folder / ".home"), TMPDIR="/tmp", MPLCONFIGDIR=str(folder / ".home"),
               JUPYTER_RUNTIME_DIR=str(folder / ".home" / "runtime"), COURSE_DATA_DIR=str(data_dir()),
               PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    env.update(dict.fromkeys(THREAD_VARIABLES, str(limits.kernel_threads)))
    return env


def _enter(group: cgroups.RunGroup, limits: Limits) -> None:
    """In the child before exec: join the run's cgroups and cap file sizes and core dumps."""
    group.join()
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
