"""Memory and process limits that the kernel enforces: Linux control groups.

Two layouts exist. cgroup v1 (this kit's first target) has one hierarchy per controller; the
grader, as root, makes a group in ``/sys/fs/cgroup/memory`` and one in ``/sys/fs/cgroup/pids`` for
each run. cgroup v2 (current Ubuntu, Debian and Fedora) has one unified hierarchy, and an
ordinary user may manage a subtree that systemd delegates to them; the grader makes each run's
group under a *base*: ``$AUTOGRADER_CGROUP`` if set, as root ``/sys/fs/cgroup/autograder``, and
otherwise the cgroup the grader runs in, if it is delegated (writable), as under
``systemd-run --user --scope -p Delegate=yes``.

cgroup v2 lets a group hand controllers to its children only while it holds no process itself,
so before the first run the grader moves the processes of its base into a leaf
(``autograder-grader``) and enables the memory and pids controllers below the base.

`find()` says what this machine offers; `run_group()` makes, and afterwards removes, one run's groups.
"""

import contextlib
import errno
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
BASE_VARIABLE = "AUTOGRADER_CGROUP"
"""Environment variable naming a delegated cgroup v2 group (a path under ROOT, or relative to it)."""
GRADER_LEAF = "autograder-grader"
"""Where the processes of a cgroup v2 base move, so that the base can hand controllers down."""
CONTROLLERS = ("memory", "pids")
V1_ACCOUNTING = "cpuacct"
"""The cgroup v1 controller that counts a run's CPU time (cgroup v2 counts it in every group's cpu.stat)."""
OWN_CGROUP = Path("/proc/self/cgroup")


@dataclass(frozen=True)
class Cgroups:
    """The controllers this machine lets the grader use, and where run groups go."""

    version: int
    """1 or 2."""
    bases: dict[str, Path]
    """Controller ('memory', 'pids') -> the group run groups are made in (v2: one base for both)."""

    def describe(self, controller: str) -> str:
        if self.version == 1:
            return f"cgroup v1 ({self.bases[controller]})"
        return f"cgroup v2, delegated group {self.bases[controller]}"


def find(root: Path | None = None) -> tuple[Cgroups | None, str]:
    """The cgroups usable here, or None and why not (with what would make them usable)."""
    root = root or ROOT
    if (root / "cgroup.controllers").exists():
        return _find_v2(root)
    bases = {controller: root / controller for controller in CONTROLLERS if os.access(root / controller, os.W_OK)}
    if bases:
        if os.access(root / V1_ACCOUNTING, os.W_OK):
            bases[V1_ACCOUNTING] = root / V1_ACCOUNTING
        return Cgroups(1, bases), ""
    if any((root / controller).is_dir() for controller in CONTROLLERS):
        return None, "cgroup v1 controllers are writable only by root: grade as root"
    return None, f"no cgroup v1 memory or pids controller and no cgroup v2 hierarchy at {root}"


def _find_v2(root: Path) -> tuple[Cgroups | None, str]:
    base = _v2_base(root)
    delegate = (f"set {BASE_VARIABLE} to a group delegated to you, or start the grader in one: "
                "systemd-run --user --scope -p Delegate=yes autograder ...")
    if base is None:
        return None, "cgroup v2: the grader's own group is unknown; " + delegate
    if not (os.access(base, os.W_OK) and os.access(base / "cgroup.subtree_control", os.W_OK)):
        return None, f"cgroup v2: {base} is not delegated to this user; " + delegate
    available = set(_read(base / "cgroup.controllers").split())
    controllers = [controller for controller in CONTROLLERS if controller in available]
    if not controllers:
        return None, (f"cgroup v2: {base} has neither the memory nor the pids controller (its parent does not "
                      "delegate them: Delegate=yes in systemd)")
    return Cgroups(2, dict.fromkeys(controllers, base)), ""


def _v2_base(root: Path) -> Path | None:
    configured = os.environ.get(BASE_VARIABLE)
    if configured:
        return root / configured.removeprefix(str(root)).lstrip("/")
    if os.geteuid() == 0:
        base = root / "autograder"
        with contextlib.suppress(OSError):
            base.mkdir(exist_ok=True)
        return base
    own = next((line.split(":", 2)[2].strip() for line in _read(OWN_CGROUP).splitlines() if line.startswith("0::")), None)
    if own is None:
        return None
    group = root / own.lstrip("/")
    return group.parent if group.name == GRADER_LEAF else group


@dataclass(frozen=True)
class RunGroup:
    """The groups of one run: a folder per v1 controller, or one v2 folder for both."""

    version: int
    folders: dict[str, Path]

    def join(self) -> None:
        """Put the calling process into the run's groups (in the child, before exec)."""
        for folder in set(self.folders.values()):
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def limits(self, controller: str) -> bool:
        return controller in self.folders

    def peak_memory_mb(self) -> float:
        """Most memory the run's processes used together (0 where the kernel does not say)."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"  # memory.peak: Linux 5.19+
        return _read_int(self.folders.get("memory"), name) / 2**20

    def memory_exceeded(self) -> bool:
        """Processes of the run were killed at the memory limit."""
        events = "memory.oom_control" if self.version == 1 else "memory.events"
        return _read_int(self.folders.get("memory"), events, field="oom_kill") > 0

    def counts_cpu(self) -> bool:
        return self.version == 2 or V1_ACCOUNTING in self.folders

    def cpu_seconds(self) -> float:
        """CPU time the run's processes used together, those that ended included (0 where no group counts it)."""
        if self.version == 1:
            return _read_int(self.folders.get(V1_ACCOUNTING), "cpuacct.usage") / 1e9
        return _read_int(next(iter(self.folders.values()), None), "cpu.stat", field="usage_usec") / 1e6

    def process_limit_hit(self) -> bool:
        """A fork or thread start was refused at the process limit."""
        return _read_int(self.folders.get("pids"), "pids.events", field="max") > 0


@contextlib.contextmanager
def run_group(cgroups: Cgroups | None, memory_bytes: int, processes: int):
    """Fresh groups limiting one run to ``memory_bytes`` and ``processes`` (with the controllers
    ``cgroups`` has; none without), removed afterwards with whatever is still in them."""
    if cgroups is None:
        yield RunGroup(0, {})
        return
    name = f"autograder-{uuid.uuid4().hex[:12]}"
    if cgroups.version == 2:
        _hand_controllers_down(next(iter(cgroups.bases.values())), list(cgroups.bases))
    folders = {controller: base / name for controller, base in cgroups.bases.items()}
    try:
        for folder in set(folders.values()):
            folder.mkdir()
        if "memory" in folders:
            _limit_memory(cgroups.version, folders["memory"], memory_bytes)
        if "pids" in folders:
            (folders["pids"] / "pids.max").write_text(str(processes))
        yield RunGroup(cgroups.version, folders)
    finally:
        for folder in set(folders.values()):
            _empty_and_remove(folder)


def _hand_controllers_down(base: Path, controllers: list[str]) -> None:
    """Enable ``controllers`` for the base's children, first moving its processes into a leaf."""
    enabled = set(_read(base / "cgroup.subtree_control").split())
    if all(controller in enabled for controller in controllers):
        return
    leaf = base / GRADER_LEAF
    leaf.mkdir(exist_ok=True)
    for pid in _read(base / "cgroup.procs").split():
        with contextlib.suppress(ProcessLookupError, OSError):  # gone meanwhile
            (leaf / "cgroup.procs").write_text(pid)
    (base / "cgroup.subtree_control").write_text(" ".join(f"+{controller}" for controller in controllers))


def _limit_memory(version: int, folder: Path, memory_bytes: int) -> None:
    if version == 1:
        (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
        with contextlib.suppress(OSError):  # no swap accounting: swap is not limited separately
            (folder / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
    else:
        (folder / "memory.max").write_text(str(memory_bytes))
        with contextlib.suppress(OSError):  # a kernel without swap: nothing to forbid
            (folder / "memory.swap.max").write_text("0")


def _empty_and_remove(folder: Path) -> None:
    """Kill whatever is still in the group (a daemon that escaped the kernel), then remove it."""
    for child in (path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else ():
        _empty_and_remove(child)  # groups the run made inside its own (a delegated v2 group allows it)
    for _ in range(50):
        for pid in _read(folder / "cgroup.procs").split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno == errno.ENOTEMPTY:  # ordinary files: not a cgroup file system (a test's stand-in)
                return
            time.sleep(0.1)  # busy until the killed processes are gone


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _read_int(folder: Path | None, name: str, field: str | None = None) -> int:
    if folder is None:
        return 0
    text = _read(folder / name)
    if field is None:
        return int(text.strip() or 0)
    values = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
    return int(values.get(field, 0))
