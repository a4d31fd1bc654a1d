"""Extracting a tar archive safely on every Python the kit supports.

tarfile's ``"data"`` filter (`tarfile.data_filter`) came in Python 3.12 and in the patch releases
3.11.4, 3.10.12 (and 3.9.17, 3.8.17); an earlier patch release, such as Debian 12's own Python
3.11.2, rejects ``extractall(filter=...)`` with TypeError. `safe_extract` uses the filter where
this Python has it and otherwise makes the same checks itself, so that on every Python:

- a member whose name is absolute, or that would land outside the destination (``../x``, or
  through a link extracted before it), is refused;
- a symbolic or hard link whose target lies outside the destination is refused;
- a device file or FIFO is refused;
- a file keeps its permissions less the set-uid, set-gid and sticky bits and group or other
  write (owner read and write always set; execute bits only where the owner has one), a folder
  gets this process's default permissions, and nothing takes the archive's owner.

A refusal raises `UnsafeArchiveError` naming the archive and the member; the members before it
have been extracted. (Unlike the data filter, which writes ``/etc/x`` to ``<destination>/etc/x``,
an absolute name is refused: a course archive never holds one.) This module imports only the
standard library and `coursekit.errors`, so it runs on a bare Python.
"""

import copy
import os
import tarfile

from .errors import UnsafeArchiveError

__all__ = ["safe_extract"]


def safe_extract(archive: tarfile.TarFile, destination) -> None:
    """Extract every member of ``archive`` into the folder ``destination`` (created if missing),
    refusing anything that would leave it (see the module's docstring); UnsafeArchiveError."""
    destination = os.fspath(destination)
    name = os.path.basename(archive.name) if archive.name else "the archive"
    if _has_data_filter():
        def data(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
            _refuse_unsafe(member, path, name)
            return tarfile.data_filter(member, path)

        try:
            archive.extractall(destination, filter=data)
        except tarfile.FilterError as error:  # a refusal of the filter's that the checks above missed
            raise UnsafeArchiveError(name, error.tarinfo.name, str(error)) from error
    else:
        # On a Python whose tarfile has filters this branch runs only in the tests: the members
        # come filtered, so extract them as they are (and without 3.12's deprecation warning).
        as_they_are = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        archive.extractall(destination, members=_filtered(archive, destination, name), numeric_owner=True,
                           **as_they_are)


def _has_data_filter() -> bool:
    """Whether this Python's tarfile has the extraction filters (3.12, 3.11.4, 3.10.12 and later)."""
    return hasattr(tarfile, "data_filter")


def _filtered(archive: tarfile.TarFile, destination: str, name: str):
    """The members of ``archive``, each checked just before it is extracted (so that a link extracted
    earlier is followed, as the data filter does) and with the attributes the data filter gives it."""
    for member in archive:
        _refuse_unsafe(member, destination, name)
        yield _data_attributes(member)


def _refuse_unsafe(member: tarfile.TarInfo, destination: str, archive: str) -> None:
    """UnsafeArchiveError where ``member`` is absolute, lands outside ``destination``, is a link
    out of it, or is a device file or FIFO: the data filter's checks."""
    destination = os.path.realpath(destination)
    if member.name.startswith(("/", os.sep)) or os.path.isabs(member.name):
        raise UnsafeArchiveError(archive, member.name, "has an absolute name")
    target = os.path.realpath(os.path.join(destination, member.name))
    if not _inside(target, destination):
        raise UnsafeArchiveError(archive, member.name, f"would be written to {target}, outside {destination}")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(archive, member.name, f"is {_kind(member)}: only files, folders and links are extracted")
    if member.issym() or member.islnk():
        link = "a symbolic link" if member.issym() else "a hard link"
        if os.path.isabs(member.linkname):
            raise UnsafeArchiveError(archive, member.name, f"is {link} to {member.linkname}, outside {destination}")
        base = os.path.join(destination, os.path.dirname(member.name)) if member.issym() else destination
        pointed = os.path.realpath(os.path.join(base, member.linkname))
        if not _inside(pointed, destination):
            raise UnsafeArchiveError(archive, member.name,
                                     f"is {link} to {member.linkname} ({pointed}), outside {destination}")


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _kind(member: tarfile.TarInfo) -> str:
    if member.ischr():
        return "a character device"
    if member.isblk():
        return "a block device"
    if member.isfifo():
        return "a FIFO"
    return f"a special file (type {member.type!r})"


def _data_attributes(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """A copy of ``member`` as the data filter leaves it: no set-uid, set-gid, sticky or group/other
    write bit, owner read and write on files, folders with this process's default permissions,
    owned by this process."""
    member = copy.copy(member)
    if member.isreg() or member.islnk():
        mode = member.mode & 0o755
        if not mode & 0o100:
            mode &= ~0o111
        member.mode = mode | 0o600
    elif member.isdir():
        member.mode = 0o777 & ~_umask()
    member.uid, member.gid, member.uname, member.gname = os.geteuid(), os.getegid(), "", ""
    return member


def _umask() -> int:
    """This process's umask, read without changing it where Linux tells it (other threads may be
    creating files)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask
