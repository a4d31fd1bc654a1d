"""The course data folder: where it is, filling it (fetch) and checking it (verify).

The folder is ``$COURSE_DATA_DIR`` or ``~/course-data``. ``fetch`` copies each file of a
manifest (by default the students' one, `manifest.STUDENT_MANIFEST`) from a mirror (a folder, or
an http(s) address laid out like the data folder) or, with no mirror, from the file's public
download address, and keeps it only if its sha256 matches.
"""

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetCorruptError, DatasetError, DatasetNotFoundError, DatasetUnavailableError
from .manifest import STUDENT_MANIFEST, WITHHELD_MARKER, DataFile

DOWNLOAD_TIMEOUT_S = 60


def data_dir() -> Path:
    """The course data folder (not created here)."""
    return Path(os.environ.get("COURSE_DATA_DIR") or Path.home() / "course-data").expanduser()


def labels_withheld() -> bool:
    """True where held-out answers are withheld: students' data folders and the grading sandbox."""
    return (data_dir() / WITHHELD_MARKER).exists()


def fetch_command() -> str:
    """The command that fills this machine's data folder: the grader's where it is installed."""
    return "autograder data fetch" if importlib.util.find_spec("autograder") else "coursekit data fetch"


def data_path(relpath: str) -> Path:
    """Absolute path of a course data file; DatasetNotFoundError if it is absent."""
    path = data_dir() / relpath
    if not path.exists():
        raise DatasetNotFoundError(relpath, data_dir(), fetch_command())
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FetchResult:
    path: str
    """The file's path inside the data folder."""
    action: str
    """'present' (already there and intact), 'copied' (from a mirror folder) or 'downloaded'."""


def fetch(mirror: str | None = None, manifest: tuple[DataFile, ...] = STUDENT_MANIFEST) -> list[FetchResult]:
    """Fill the data folder with every manifest file that is missing or corrupt.

    Every file is tried; files that could not be provided are named together in one
    DatasetError raised at the end, after the others were fetched.
    """
    mirror = mirror or os.environ.get("COURSE_DATA_MIRROR") or None
    results, failures = [], []
    for entry in manifest:
        try:
            results.append(_fetch_one(entry, mirror))
        except DatasetError as error:
            failures.append(str(error))
    if failures:
        raise DatasetError(f"{len(failures)} of {len(manifest)} data files could not be fetched:\n- "
                           + "\n- ".join(failures))
    return results


def verify(manifest: tuple[DataFile, ...] = STUDENT_MANIFEST) -> list[str]:
    """Check every file's sha256; return the checked paths, or raise naming every bad file."""
    problems = []
    for entry in manifest:
        try:
            _check(entry, data_path(entry.path))
        except DatasetError as error:
            problems.append(str(error))
    if problems:
        raise DatasetError(f"{len(problems)} of {len(manifest)} data files failed verification:\n- "
                           + "\n- ".join(problems))
    return [entry.path for entry in manifest]


def _check(entry: DataFile, path: Path) -> None:
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise DatasetCorruptError(entry.path, entry.sha256, actual, fetch_command())


PUBLIC_FILE_MODE = 0o644
"""Data files are readable by all: graded notebooks run as an unprivileged user."""


def _fetch_one(entry: DataFile, mirror: str | None) -> FetchResult:
    target = data_dir() / entry.path
    if target.exists() and sha256_of(target) == entry.sha256:
        target.chmod(PUBLIC_FILE_MODE)
        return FetchResult(entry.path, "present")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename only once the hash matches: a failed fetch leaves no
    # half-written or wrong file behind.
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".partial-", delete=False) as partial:
        partial_path = Path(partial.name)
    try:
        action = _copy_from_source(entry, mirror, partial_path)
        _check(entry, partial_path)
        partial_path.chmod(PUBLIC_FILE_MODE)
        os.replace(partial_path, target)
    finally:
        partial_path.unlink(missing_ok=True)
    return FetchResult(entry.path, action)


def _copy_from_source(entry: DataFile, mirror: str | None, destination: Path) -> str:
    if mirror and not mirror.startswith(("http://", "https://")):
        source = Path(mirror).expanduser() / entry.path
        if not source.exists():
            raise DatasetUnavailableError(f"{entry.path!r} is not in the mirror folder {mirror}")
        shutil.copyfile(source, destination)
        return "copied"
    url = f"{mirror.rstrip('/')}/{entry.path}" if mirror else entry.url
    if url is None:
        raise DatasetUnavailableError(
            f"{entry.path!r} has no public download (the course copy is a repack or rebuild): "
            f"fetch it from the course's mirror with `{fetch_command()} --mirror DIR_OR_URL`")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:  # URLError and HTTPError are OSErrors
        raise DatasetUnavailableError(f"{entry.path!r} could not be downloaded from {url}: {error}") from error
    return "downloaded"
