"""Which cgroups can the grader use, and does a run's group get the limits? cgroup v2 is tested on
a stand-in of its file tree (this machine has cgroup v1); the real v2 enforcement runs where the
machine has the unified hierarchy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import cgroups, execution
from autograder.execution import CPU_POLL_S, run_limited
from autograder.sandbox import Limits
from conftest import report_figures


def fake_v2(root: Path, own: str, controllers: str = "cpu io memory pids") -> Path:
    """A unified hierarchy with the grader in ``own``; its group holds the grader and one worker."""
    (root / "cgroup.controllers").parent.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    group = root / own.lstrip("/")
    group.mkdir(parents=True)
    (group / "cgroup.controllers").write_text(controllers + "\n")
    (group / "cgroup.subtree_control").write_text("")
    (group / "cgroup.procs").write_text("4242\n4243\n")
    return group


@pytest.fixture
def unified(tmp_path, monkeypatch):
    """A cgroup v2 stand-in; the grader runs, as an ordinary user, in a scope of the user's service."""
    own = "/user.slice/user-1000.slice/user@1000.service/app.slice/grading.scope"
    (tmp_path / "self-cgroup").write_text(f"0::{own}\n")
    monkeypatch.setattr(cgroups, "OWN_CGROUP", tmp_path / "self-cgroup")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv(cgroups.BASE_VARIABLE, raising=False)
    return tmp_path / "cgroup", own


def test_a_delegated_v2_group_is_found_as_the_base_of_run_groups(unified):
    root, own = unified
    group = fake_v2(root, own)
    found, problem = cgroups.find(root)
    assert (found, problem) == (cgroups.Cgroups(2, {"memory": group, "pids": group}), "")
    assert found.describe("memory") == f"cgroup v2, delegated group {group}"


def test_a_v2_group_not_delegated_to_the_user_says_how_to_get_one(unified, monkeypatch):
    root, own = unified
    group = fake_v2(root, own)
    writable = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: writable(path, mode) and group not in (Path(path), Path(path).parent))
    found, problem = cgroups.find(root)
    assert found is None
    assert problem == (f"cgroup v2: {group} is not delegated to this user; set AUTOGRADER_CGROUP to a group delegated "
                       "to you, or start the grader in one: systemd-run --user --scope -p Delegate=yes autograder ...")


def test_the_configured_group_wins_over_the_grader_s_own(unified, monkeypatch):
    root, own = unified
    fake_v2(root, own)
    configured = fake_v2(root, "/course/grading")
    monkeypatch.setenv(cgroups.BASE_VARIABLE, "/course/grading")
    assert cgroups.find(root)[0].bases == {"memory": configured, "pids": configured}


def test_a_v2_group_without_the_controllers_is_refused_with_the_reason(unified):
    root, own = unified
    group = fake_v2(root, own, controllers="cpu io")
    assert cgroups.find(root) == (None, f"cgroup v2: {group} has neither the memory nor the pids controller (its parent "
                                        "does not delegate them: Delegate=yes in systemd)")


def test_a_v2_run_group_moves_the_grader_to_a_leaf_then_gets_the_limits(unified):
    root, own = unified
    group = fake_v2(root, own)
    found, _ = cgroups.find(root)
    with cgroups.run_group(found, memory_bytes=512 * 2**20, processes=64) as run:
        [folder] = set(run.folders.values())
        assert folder.parent == group and folder.name.startswith("autograder-")
        assert (group / "autograder-grader" / "cgroup.procs").read_text() == "4243", "each pid written in turn"
        assert (group / "cgroup.subtree_control").read_text() == "+memory +pids"
        assert [(folder / name).read_text() for name in ("memory.max", "memory.swap.max", "pids.max")] == [
            str(512 * 2**20), "0", "64"]
        child = subprocess.Popen(["true"], preexec_fn=run.join)
        child.wait()
        assert (folder / "cgroup.procs").read_text() == str(child.pid), "the run's process joins before exec"
        assert not run.memory_exceeded() and not run.process_limit_hit()
        (folder / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
        (folder / "pids.events").write_text("max 3\n")
        (folder / "memory.peak").write_text(str(300 * 2**20))
        assert run.memory_exceeded() and run.process_limit_hit() and run.peak_memory_mb() == 300


def test_a_grader_already_in_its_leaf_finds_the_base_above_it(unified, monkeypatch, tmp_path):
    root, own = unified
    group = fake_v2(root, own)
    (tmp_path / "self-cgroup").write_text(f"0::{own}/autograder-grader\n")
    assert cgroups.find(root)[0].bases["memory"] == group


def test_v1_controllers_writable_by_the_grader_are_used(tmp_path):
    for controller in ("memory", "pids"):
        (tmp_path / controller).mkdir()
    found, _ = cgroups.find(tmp_path)
    assert found == cgroups.Cgroups(1, {"memory": tmp_path / "memory", "pids": tmp_path / "pids"})
    with cgroups.run_group(found, memory_bytes=2**30, processes=100) as run:
        assert (run.folders["memory"] / "memory.limit_in_bytes").read_text() == str(2**30)
        assert (run.folders["pids"] / "pids.max").read_text() == "100"


def test_no_cgroups_says_why():
    assert cgroups.find(Path("/nonexistent")) == (
        None, "no cgroup v1 memory or pids controller and no cgroup v2 hierarchy at /nonexistent")


BALLOON = "import time\nblocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))\n    time.sleep(0.05)"


def test_the_memory_watchdog_kills_a_balloon_and_says_so(tmp_path):
    """Where no memory cgroup is available, the watchdog stops the process tree's largest process."""
    outcome = run_limited([sys.executable, "-c", BALLOON], cwd=tmp_path, log_path=tmp_path / "log", timeout_s=60,
                          memory_limit_mb=300, watchdog_interval_s=0.1)
    assert outcome.memory_exceeded and not outcome.timed_out and outcome.exit_code == -9
    assert outcome.peak_memory_mb > 300
    report_figures(f"balloon growing 1 GB/s stopped at {outcome.peak_memory_mb:.0f} MB (limit 300 MB, checks every 0.1 s)")


def test_the_memory_watchdog_leaves_a_run_under_the_limit_alone(tmp_path):
    outcome = run_limited([sys.executable, "-c", "print(len(bytearray(10 * 2**20)))"], cwd=tmp_path,
                          log_path=tmp_path / "log", timeout_s=60, memory_limit_mb=300, watchdog_interval_s=0.05)
    assert (outcome.exit_code, outcome.memory_exceeded) == (0, False)


# Two busy processes started by a parent that then waits for them: CPU time spent across the tree.
BUSY_TREE = ("import subprocess, sys\n"
             "loops = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(2)]\n"
             "[loop.wait() for loop in loops]")


def test_a_run_is_stopped_by_the_cpu_time_of_its_whole_process_tree(tmp_path):
    outcome = run_limited([sys.executable, "-c", BUSY_TREE], cwd=tmp_path, log_path=tmp_path / "log", timeout_s=60,
                          cpu_limit_s=3)
    assert outcome.cpu_exceeded and not outcome.timed_out and outcome.exit_code == -9
    assert 3 <= outcome.cpu_seconds < 3 + 2 * 2 * CPU_POLL_S, "measured once a second over two busy processes"


def test_a_waiting_run_uses_no_cpu_time_and_is_stopped_by_the_wall_clock_backstop(tmp_path):
    outcome = run_limited([sys.executable, "-c", "import time; time.sleep(60)"], cwd=tmp_path, log_path=tmp_path / "log",
                          timeout_s=2, cpu_limit_s=1)
    assert outcome.timed_out and not outcome.cpu_exceeded and outcome.cpu_seconds < 1


def test_the_cpu_time_of_processes_that_ended_is_counted(tmp_path):
    script = "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import time\\nt = time.process_time()\\nwhile time.process_time() - t < 1.5: pass'])"
    outcome = run_limited([sys.executable, "-c", script], cwd=tmp_path, log_path=tmp_path / "log", timeout_s=60)
    assert outcome.exit_code == 0 and outcome.cpu_seconds >= 1.5


# Writes 20 MB a second into new files in its folder, each under any per-file size limit.
FILLER = ("import itertools, os, time\n"
          "for n in itertools.count():\n"
          "    with open(f'fill-{n}', 'wb') as stream:\n"
          "        stream.write(os.urandom(2 * 2**20))\n"
          "    time.sleep(0.1)")


def test_a_run_that_fills_its_folder_is_stopped_at_the_disk_quota(tmp_path):
    outcome = run_limited([sys.executable, "-c", FILLER], cwd=tmp_path, log_path=tmp_path / "log", timeout_s=60,
                          disk_limit_mb=30)
    assert outcome.disk_exceeded and not outcome.timed_out and outcome.exit_code == -9
    held = sum(path.stat().st_size for path in tmp_path.glob("fill-*")) / 2**20
    assert 30 < held < 30 + 20 * 2 * CPU_POLL_S, "measured once a second"
    report_figures(f"a run writing 20 MB/s stopped with {held:.0f} MB in its folder (quota 30 MB, checked every {CPU_POLL_S:g} s)")


def test_many_empty_files_count_against_the_quota_too(tmp_path):
    (tmp_path / "many").mkdir()
    for n in range(50):
        (tmp_path / "many" / str(n)).touch()
    assert execution.folder_usage(tmp_path, max_files=100) < 1e6
    assert execution.folder_usage(tmp_path, max_files=40) == float("inf")


def test_a_v1_cpuacct_group_counts_the_run_s_cpu_time(tmp_path):
    group = cgroups.RunGroup(1, {"cpuacct": tmp_path})
    (tmp_path / "cpuacct.usage").write_text("2500000000\n")
    assert group.counts_cpu() and group.cpu_seconds() == 2.5
    assert not cgroups.RunGroup(1, {"memory": tmp_path}).counts_cpu()


def test_a_v2_group_counts_the_run_s_cpu_time_in_cpu_stat(tmp_path):
    (tmp_path / "cpu.stat").write_text("usage_usec 1750000\nuser_usec 1500000\nsystem_usec 250000\n")
    group = cgroups.RunGroup(2, {"memory": tmp_path, "pids": tmp_path})
    assert group.counts_cpu() and group.cpu_seconds() == 1.75


V2_ROOT = Path("/sys/fs/cgroup")


@pytest.mark.skipif(not (V2_ROOT / "cgroup.controllers").exists(), reason="this machine has no cgroup v2 hierarchy "
                    "(cgroup v1 only): the v2 code is tested on a stand-in above")
def test_a_real_v2_memory_limit_kills_a_balloon(tmp_path):
    found, problem = cgroups.find()
    if found is None or "memory" not in found.bases:
        pytest.skip(f"no usable cgroup v2 memory controller here: {problem}")
    with cgroups.run_group(found, memory_bytes=200 * 2**20, processes=Limits.processes) as run:
        completed = subprocess.run([sys.executable, "-c", BALLOON], preexec_fn=run.join, timeout=60)
        assert completed.returncode == -9 and run.memory_exceeded()
