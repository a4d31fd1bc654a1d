"""Does `coursekit.archives.safe_extract` refuse hostile archives, and extract a good one the same
way, both where this Python's tarfile has the "data" filter and where it lacks it (patch releases
before 3.11.4 / 3.10.12, such as Debian 12's Python 3.11.2)?"""

import copy
import io
import os
import pickle
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from autograder.errors import DatasetError, UnsafeArchiveError
from coursekit import archives
from coursekit.archives import safe_extract

REPO = Path(__file__).resolve().parents[1]
DEBIAN_PYTHON = Path("/usr/bin/python3")

WAYS = [pytest.param("filter", marks=pytest.mark.skipif(not hasattr(tarfile, "data_filter"),
                                                        reason="this Python's tarfile has no data filter")),
        "fallback"]


@pytest.fixture(params=WAYS)
def way(request, monkeypatch):
    """'filter': tarfile's data filter does the extraction; 'fallback': safe_extract believes this
    Python lacks it, as on Python 3.11.2, and makes the checks itself."""
    if request.param == "fallback":
        monkeypatch.setattr(archives, "_has_data_filter", lambda: False)
    return request.param


def member(name: str, kind: bytes = tarfile.REGTYPE, body: bytes = b"", mode: int = 0o644, linkname: str = "",
           uid: int = 0) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid, info.mtime = kind, mode, linkname, uid, uid, 1_700_000_000
    info.size = len(body) if kind == tarfile.REGTYPE else 0
    return info, body


def write_archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info, body in members:
            archive.addfile(info, io.BytesIO(body) if info.isreg() else None)
    return path


def extract(archive_path: Path, destination: Path) -> None:
    with tarfile.open(archive_path, "r:gz") as archive:
        safe_extract(archive, destination)


HOSTILE = {
    "absolute path": ([member("{outside}/planted")], "'{outside}/planted' has an absolute name"),
    "dot-dot escape": ([member("ok.txt"), member("../escaped")],
                       "'../escaped' would be written to {outside}/escaped, outside {destination}"),
    "symlink to /etc/passwd": ([member("passwd", tarfile.SYMTYPE, linkname="/etc/passwd")],
                               "'passwd' is a symbolic link to /etc/passwd, outside {destination}"),
    "symlink out by dot-dot": ([member("up", tarfile.SYMTYPE, linkname="../..")],
                               "'up' is a symbolic link to ../.. ({outside_parent}), outside {destination}"),
    "hard link out": ([member("hosts", tarfile.LNKTYPE, linkname="../secret")],
                      "'hosts' is a hard link to ../secret ({outside}/secret), outside {destination}"),
    "device node": ([member("null", tarfile.CHRTYPE, mode=0o666)],
                    "'null' is a character device: only files, folders and links are extracted"),
    "FIFO": ([member("pipe", tarfile.FIFOTYPE)], "'pipe' is a FIFO: only files, folders and links are extracted"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_archive_is_refused_with_the_member_and_the_reason(case, way, tmp_path):
    members, reason = HOSTILE[case]
    outside = tmp_path / "outside"
    destination = outside / "destination"
    outside.mkdir()
    (outside / "secret").write_text("the grader's")
    members = [(copy.copy(info), body) for info, body in members]
    for info, _ in members:
        info.name = info.name.format(outside=outside)
    archive_path = write_archive(tmp_path / "hostile.tar.gz", members)
    with pytest.raises(UnsafeArchiveError) as refused:
        extract(archive_path, destination)
    expected = "refusing to extract hostile.tar.gz: its member " + reason.format(
        outside=outside, destination=destination, outside_parent=tmp_path)
    assert str(refused.value) == expected
    assert isinstance(refused.value, DatasetError)
    assert {path.name for path in outside.iterdir()} <= {"destination", "secret"}
    assert (outside / "secret").read_text() == "the grader's"
    assert not (destination / "passwd").exists() and not (destination / "hosts").exists()


def test_a_member_written_through_a_link_extracted_before_it_is_refused(way, tmp_path):
    destination = tmp_path / "destination"
    archive_path = write_archive(tmp_path / "through.tar.gz", [
        member("here", tarfile.SYMTYPE, linkname="."), member("here/../planted")])
    with pytest.raises(UnsafeArchiveError, match=r"its member 'here/\.\./planted' would be written to "):
        extract(archive_path, destination)
    assert not (tmp_path / "planted").exists()


GOOD = [
    member("photos", tarfile.DIRTYPE, mode=0o777),
    member("photos/daisy", tarfile.DIRTYPE, mode=0o2775, uid=4242),
    member("photos/daisy/1.jpg", body=b"\xff\xd8 a daisy", mode=0o666, uid=4242),
    member("photos/daisy/tool", body=b"#!/bin/sh\n", mode=0o4775),
    member("photos/daisy/locked", body=b"no one may read me", mode=0o000),
    member("photos/daisy/group-exec", body=b"x", mode=0o654),
    member("photos/roses/2.jpg", body=b"\xff\xd8 a rose"),
    member("photos/LICENSE.txt", body=b"CC-BY 2.0\n", mode=0o444),
    member("photos/latest", tarfile.SYMTYPE, linkname="daisy/1.jpg"),
    member("photos/copy.jpg", tarfile.LNKTYPE, linkname="photos/roses/2.jpg"),
]


def tree(folder: Path) -> dict[str, tuple]:
    """Each path under ``folder``: its type, permissions, owner and contents or link target."""
    found = {}
    for path in sorted(folder.rglob("*")):
        status = path.lstat()
        if path.is_symlink():
            found[path.relative_to(folder).as_posix()] = ("link", os.readlink(path))
        else:
            found[path.relative_to(folder).as_posix()] = (
                "dir" if path.is_dir() else "file", oct(stat.S_IMODE(status.st_mode)), status.st_uid, status.st_gid,
                None if path.is_dir() else path.read_bytes())
    return found


@pytest.mark.skipif(not hasattr(tarfile, "data_filter"), reason="this Python's tarfile has no data filter to compare with")
def test_a_good_archive_extracts_the_same_files_with_and_without_the_data_filter(tmp_path, monkeypatch):
    archive_path = write_archive(tmp_path / "good.tar.gz", GOOD)
    extract(archive_path, tmp_path / "filter")
    monkeypatch.setattr(archives, "_has_data_filter", lambda: False)
    extract(archive_path, tmp_path / "fallback")
    assert tree(tmp_path / "fallback") == tree(tmp_path / "filter")


def test_a_good_archive_loses_set_id_and_shared_write_bits_and_its_owner(way, tmp_path):
    archive_path = write_archive(tmp_path / "good.tar.gz", GOOD)
    extract(archive_path, tmp_path / "out")
    found = tree(tmp_path / "out")
    folder_mode = oct(0o777 & ~_umask())
    me = (os.geteuid(), os.getegid())
    assert found["photos/daisy/1.jpg"] == ("file", "0o644", *me, b"\xff\xd8 a daisy")
    assert found["photos/daisy/tool"] == ("file", "0o755", *me, b"#!/bin/sh\n")
    assert found["photos/daisy/locked"][1] == "0o600"
    assert found["photos/daisy/group-exec"][1] == "0o644"  # execute bits only where the owner has one
    assert found["photos/LICENSE.txt"][1] == "0o644"
    assert found["photos/daisy"][:4] == ("dir", folder_mode, *me) and found["photos"][1] == folder_mode
    assert found["photos/latest"] == ("link", "daisy/1.jpg")
    assert found["photos/copy.jpg"] == ("file", "0o644", *me, b"\xff\xd8 a rose")
    assert (tmp_path / "out/photos/copy.jpg").samefile(tmp_path / "out/photos/roses/2.jpg")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_the_refusal_crosses_process_boundaries():
    error = UnsafeArchiveError("flowers.tar.gz", "../x", "would be written outside /data")
    copied = pickle.loads(pickle.dumps(error))
    assert str(copied) == str(error) and (copied.archive, copied.member) == ("flowers.tar.gz", "../x")


DEBIAN_CHECK = """
import io, sys, tarfile
sys.path.insert(0, sys.argv[1])
from coursekit.archives import safe_extract, _has_data_filter
from coursekit.errors import UnsafeArchiveError
assert not _has_data_filter()
def archive(*members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, linkname in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = kind, linkname, 0o4777
            tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)
for hostile in [("/abs", tarfile.REGTYPE, ""), ("../x", tarfile.REGTYPE, ""), ("l", tarfile.SYMTYPE, "/etc/passwd"),
                ("h", tarfile.LNKTYPE, "../x"), ("d", tarfile.CHRTYPE, "")]:
    try:
        safe_extract(archive(hostile), sys.argv[2] + "/hostile")
    except UnsafeArchiveError as error:
        print(error)
    else:
        raise SystemExit("extracted " + hostile[0])
safe_extract(archive(("a/b", tarfile.REGTYPE, ""), ("a/c", tarfile.SYMTYPE, "b")), sys.argv[2] + "/good")
"""


@pytest.mark.skipif(not DEBIAN_PYTHON.exists() or subprocess.run(
    [DEBIAN_PYTHON, "-c", "import tarfile; assert not hasattr(tarfile, 'data_filter')"], capture_output=True).returncode,
    reason=f"needs a {DEBIAN_PYTHON} without tarfile's data filter (Debian 12's Python 3.11.2)")
def test_on_a_python_without_the_data_filter_hostile_members_are_refused(tmp_path):
    checked = subprocess.run([DEBIAN_PYTHON, "-I", "-c", DEBIAN_CHECK, str(REPO / "student"), str(tmp_path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("refusing to extract") == 5, checked.stdout
    assert stat.S_IMODE((tmp_path / "good/a/b").stat().st_mode) == 0o755 and os.readlink(tmp_path / "good/a/c") == "b"
    assert not (tmp_path / "x").exists()
