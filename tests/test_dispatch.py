"""Where notebooks execute: what crosses between the grading process and a worker, and which
workers a GPU assignment's notebooks go to."""

import os

import pytest

from autograder import dispatch
from autograder.dispatch import Workers, collect_files, write_files
from autograder.errors import CourseError


@pytest.mark.parametrize("relpath", ["../outside.txt", "/etc/passwd", "exports/../../outside.txt"])
def test_files_for_a_run_folder_never_land_outside_it(tmp_path, relpath):
    with pytest.raises(ValueError, match="refusing to write .* outside the run folder"):
        write_files(tmp_path / "run", {relpath: b"x"})
    assert not (tmp_path / "outside.txt").exists()


def test_a_worker_sends_back_regular_files_only_never_following_links(tmp_path):
    secret = tmp_path / "worker-secret.key"
    secret.write_bytes(b"the worker's own file")
    run = tmp_path / "run"
    write_files(run, {"executed.ipynb": b"{}", "exports/test_fit.npz": b"arrays", "exports/deeper/nested.npz": b"?"})
    os.symlink(secret, run / "exports" / "test_leak.npz")
    os.symlink(tmp_path, run / "exports" / "everything")
    assert collect_files(run, ["executed.ipynb", "exports"]) == {"executed.ipynb": b"{}", "exports/test_fit.npz": b"arrays"}


def test_a_fifo_left_by_the_kernel_is_skipped_not_waited_for(tmp_path):
    write_files(tmp_path, {"executed.ipynb": b"{}", "exports/test_fit.npz": b"arrays"})
    os.mkfifo(tmp_path / "exports" / "test_other.npz")
    assert collect_files(tmp_path, ["executed.ipynb", "exports"]) == {"executed.ipynb": b"{}", "exports/test_fit.npz": b"arrays"}
    os.rename(tmp_path / "exports", tmp_path / "kept")
    os.mkfifo(tmp_path / "exports")
    assert collect_files(tmp_path, ["executed.ipynb", "exports"]) == {"executed.ipynb": b"{}"}


def test_what_a_run_sends_back_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(dispatch, "MAX_RESULT_BYTES", 10)
    write_files(tmp_path, {"executed.ipynb": b"{}", "exports/big.npz": b"x" * 20})
    assert collect_files(tmp_path, ["executed.ipynb", "exports"]) == {"executed.ipynb": b"{}"}


def test_a_gpu_assignment_is_refused_where_no_worker_has_a_gpu(monkeypatch):
    monkeypatch.setattr(dispatch, "local_gpus", lambda: [])
    with Workers(1) as workers, pytest.raises(CourseError, match="^this assignment needs a GPU, and no worker of the "
                                                                 "cluster has one"):
        workers.check(allow_missing_limits=True, gpu=True)


def test_gpu_notebooks_run_only_on_workers_that_own_a_gpu_one_each(monkeypatch):
    monkeypatch.setattr(dispatch, "local_gpus", lambda: ["0", "1"])  # as nvidia-smi would list two GPUs
    with Workers(3) as workers:
        workers.check(allow_missing_limits=True, gpu=True)
        gpu_runs = [workers.submit(os.getenv, "CUDA_VISIBLE_DEVICES", gpu=True) for _ in range(8)]
        cpu_runs = [workers.submit(os.getenv, "CUDA_VISIBLE_DEVICES") for _ in range(8)]
        assert {future.result() for future in gpu_runs} <= {"0", "1"}
        assert {future.result() for future in cpu_runs} <= {"0", "1", ""}, "the third worker sees no GPU"
        resources = sorted(str(worker.get("resources")) for worker in workers.client.scheduler_info()["workers"].values())
        assert resources == ["{'GPU': 1}", "{'GPU': 1}", "{}"]


def test_a_cluster_that_does_not_answer_is_named():
    with pytest.raises(CourseError, match=r"^no Dask scheduler answers at tcp://127.0.0.1:9"):
        Workers(cluster="tcp://127.0.0.1:9", connect_timeout_s=2).__enter__()
