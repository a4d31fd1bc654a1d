"""The course data as students and graded notebooks have it: the held-out answers withheld.

Students fetch these files (`student_data`, listed with their sha256 by `student_manifest` in the
wheel that `autograder release` builds), and the grading sandbox shows notebooks the same files
(`grading_view`) instead of the data folder. A notebook can still predict the held-out inputs, but
it cannot read their answers: the hidden tests export their predictions (for the language model,
its weights) and the grader's judges (`autograder.judges`) measure them with the real data.
Withheld:

- MNIST and Fashion-MNIST: the test label files;
- Ames: the held-out houses' ``SalePrice`` (left empty), and the 293 rows of the Kaggle table (of
  1,460) that match a held-out Ames house on `KAGGLE_KEY`: the Kaggle houses are Ames houses with
  their prices, 292 of them held-out ones (the 293rd is the twin next door of one, same price);
- IMDB: the test reviews' labels (the stand-in archive numbers them, unlabelled, in the loader's
  order), and the 123 training reviews whose text is a test review's;
- Enron-Spam: the held-out emails' labels (blanked in the class files; their text and mailbox in a
  file of their own), and the 1,233 training emails whose text is a held-out one's (copies of 1,118
  of the 6,637 held-out emails);
- flower photos: the held-out photos' class (numbered in a folder of their own, without the
  metadata that names the flower in some of them, their credits left out of LICENSE.txt);
- Tiny Shakespeare: the held-out last 10% (the text is its own answer).

Copies of a held-out input that carry its answer are left out of the students' training data
rather than out of the held-out set: the held-out sets, and so the thresholds calibrated on them,
stay as they are (dropping the 1,118 copied emails from the held-out set instead would lower the
held-out accuracy by about 0.3 points, half the margin of assignment 6's thresholds; leaving out
the training copies changes it by under 0.1). `tests/test_data_audit.py` joins every file of the
students' data and of the grading view with every held-out answer.

A stand-in is written once per version of its sources and of this code, into a folder named by
a hash of both (by default under ``~/.cache/autograder/grading-view``): a re-fetched file gets a
new stand-in, and grading runs, also side by side, share them. Stand-ins are byte-for-byte the
same every time they are made from the same data (no time stamps in their archives), so a
students' mirror written by one release matches the manifest of another.
"""

import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd

from coursekit.archives import safe_extract
from coursekit.data import loaders
from coursekit.data.loaders import (
    AMES_FILE, ENRON_FILES, ENRON_HELD_OUT, FLOWER_ARCHIVE, FLOWER_CLASSES, FLOWER_PHOTOS, FLOWERS_HELD_OUT_FOLDER,
    IMDB_ARCHIVE, IMDB_HELD_OUT_FOLDER, KAGGLE_FILE, SHAKESPEARE_FILE, ames_held_out_rows, enron_held_out_rows,
    enron_lines,
)
from coursekit.data.manifest import WITHHELD_MARKER, DataFile
from coursekit.data.store import data_dir, data_path, sha256_of

from .manifest import MANIFEST

HIDDEN = ("mnist/t10k-labels-idx1-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz")
"""Files students never get (their answers are all there is to them)."""


@dataclass(frozen=True)
class StandIn:
    shown_as: str
    """Path in the view (a file or a folder), in place of what the data folder has there."""
    sources: tuple[str, ...]
    """The data files it is made from; none of them is shown."""
    write: Callable[[Path], None]
    """Writes the stand-in at the given path, reading the sources from the data folder."""


def grading_view(folder: Path | None = None) -> dict[str, Path]:
    """{path inside the data folder: the file or folder shown there}: what graded notebooks see,
    the data folder less the held-out answers, with stand-ins made in ``folder`` (default:
    `stand_in_cache()`). Folders with nothing withheld are shown whole; the students' flower
    archive is also shown unpacked (the sandbox's data folder is read-only)."""
    folder = folder or stand_in_cache()
    folder.mkdir(parents=True, exist_ok=True)
    replaced = dict.fromkeys(HIDDEN) | {WITHHELD_MARKER: _marker(folder), FLOWER_PHOTOS: None}
    for stand_in in STAND_INS:
        replaced.update(dict.fromkeys(stand_in.sources))
    for stand_in in STAND_INS:  # after all sources: a stand-in's source may be another stand-in's path
        available = all((data_dir() / source).exists() for source in stand_in.sources)
        replaced[stand_in.shown_as] = _made(stand_in, folder) if available else None
    if replaced[FLOWER_ARCHIVE]:
        replaced[FLOWER_PHOTOS] = _unpacked(replaced[FLOWER_ARCHIVE])
    view = {relpath: path for relpath, path in replaced.items() if path is not None}
    _show(data_dir(), "", replaced, view)
    return view


def student_data(folder: Path | None = None) -> dict[str, Path]:
    """{path inside the data folder: file}: the course data files students get, the files of the
    grading view (`grading_view`) that are course data (in `MANIFEST`) or stand-ins for it (every
    file of a stand-in folder: Enron's held-out emails without their labels too)."""
    course, stand_ins = {entry.path for entry in MANIFEST}, {stand_in.shown_as for stand_in in STAND_INS} | {WITHHELD_MARKER}
    files = {}
    for relpath, path in grading_view(folder).items():
        entries = [(relpath, path)] if path.is_file() else [
            (f"{relpath}/{inner.relative_to(path).as_posix()}", inner) for inner in sorted(path.rglob("*")) if inner.is_file()]
        files.update((name, file) for name, file in entries if relpath in stand_ins or name in course)
    return dict(sorted(files.items()))


def student_manifest(files: dict[str, Path]) -> tuple[DataFile, ...]:
    """The manifest of ``files`` (`student_data`): files that are the course's own keep their public
    addresses, stand-ins are mirror-only. Every file is hashed: the students' wheel vouches for
    exactly these bytes."""
    course = {entry.path: entry for entry in MANIFEST}
    entries = []
    for relpath, path in files.items():
        sha256 = sha256_of(path)
        same = relpath in course and course[relpath].sha256 == sha256
        entries.append(DataFile(relpath, sha256, path.stat().st_size, course[relpath].url if same else None))
    return tuple(entries)


def stand_in_cache() -> Path:
    """``$XDG_CACHE_HOME/autograder/grading-view`` (``~/.cache`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autograder" / "grading-view"


def _show(directory: Path, prefix: str, replaced: dict, view: dict) -> None:
    for entry in sorted(directory.iterdir()):
        relpath = prefix + entry.name
        if entry.name.startswith(".") or relpath in replaced:
            continue
        if entry.is_dir() and any(path.startswith(relpath + "/") for path in replaced):
            _show(entry, relpath + "/", replaced, view)
        else:
            view[relpath] = entry


def _marker(folder: Path) -> Path:
    marker = folder / WITHHELD_MARKER
    if not marker.exists():
        _publish(folder, marker.name, lambda target: target.write_text(
            "The held-out answers are withheld from this copy of the course data; the grader measures them.\n"))
    return marker


def _unpacked(archive: Path) -> Path:
    """The folder that ``archive`` (the students' flower photos) unpacks to, unpacked once beside it."""
    unpacked = archive.parent / "unpacked"
    if not unpacked.exists():
        def unpack(target: Path) -> None:
            with tarfile.open(archive, "r:gz") as tar:
                safe_extract(tar, target)
        _publish(archive.parent, unpacked.name, unpack)
    return unpacked / Path(FLOWER_PHOTOS).name


def _made(stand_in: StandIn, folder: Path) -> Path:
    """The stand-in for the current sources, made unless an earlier call made it."""
    version = _version(stand_in)
    made = folder / version / Path(stand_in.shown_as).name
    if not made.exists():
        _publish(folder, version, lambda target: (target.mkdir(), stand_in.write(target / made.name)))
    return made


def _version(stand_in: StandIn) -> str:
    """A hash of the sources' sizes and modification times and of the code that writes the stand-in."""
    digest = hashlib.sha256(stand_in.shown_as.encode())
    for path in (data_dir() / source for source in stand_in.sources):
        digest.update(f"{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode())
    for module in (loaders.__file__, __file__):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()[:16]


def _publish(folder: Path, name: str, write) -> None:
    """``write(path)``, then rename it to ``folder/name``, readable by all: a run that looks
    meanwhile sees all of it or nothing, and of two graders writing it at once one wins."""
    scratch = Path(tempfile.mkdtemp(dir=folder, prefix=".partial-"))
    try:
        write(scratch / name)
        for path in [scratch / name, *(scratch / name).rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        os.rename(scratch / name, folder / name)
    except OSError:
        if not (folder / name).exists():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- the stand-ins ------------------------------------------------------------------------------

def _write_gzip(target: Path, text: str) -> None:
    """``text`` gzipped with no time stamp or file name in the header: the same bytes every time."""
    target.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))


@contextlib.contextmanager
def _tar_gz_writer(target: Path):
    """A tar.gz archive into ``target`` that holds only what is added, without a time stamp."""
    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as stream, \
            tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as archive:
        yield archive


def _add(archive: tarfile.TarFile, name: str, body: bytes | None) -> None:
    """A file (``body``) or a folder (None) with fixed owner, mode and time."""
    member = tarfile.TarInfo(name)
    member.mode = 0o755 if body is None else 0o644
    if body is None:
        member.type = tarfile.DIRTYPE
        archive.addfile(member)
    else:
        member.size = len(body)
        archive.addfile(member, BytesIO(body))


def same_text(text: str) -> str:
    """What two texts that count as the same have in common: their letters and digits, lower-cased
    (a copy that differs in case, spacing, punctuation or markup still gives its label away)."""
    return "".join(character for character in text.lower() if character.isascii() and character.isalnum())


def _ames_without_held_out_prices(target: Path) -> None:
    frame = pd.read_csv(data_path(AMES_FILE), sep="\t", dtype=str, keep_default_na=False)
    # The loader hashes the parcel id as a number (the file writes some with a leading zero).
    frame.loc[ames_held_out_rows(frame.assign(PID=frame["PID"].astype(np.int64))), "SalePrice"] = ""
    frame.to_csv(target, sep="\t", index=False)


KAGGLE_KEY = {"LotArea": "Lot Area", "GrLivArea": "Gr Liv Area", "YearBuilt": "Year Built", "YrSold": "Yr Sold",
              "MoSold": "Mo Sold"}
"""Kaggle's columns that find a house in the Ames file (Kaggle's name: De Cock's), as a student
would join them. Each Kaggle row equals an Ames house on all 79 columns they share; on these five
it matches that house, or also a twin sold with it (left out with it: a row too many is no loss)."""


def _kaggle_without_held_out_houses(target: Path) -> None:
    """The Kaggle table less its rows that match a held-out Ames house on `KAGGLE_KEY`, the other
    lines byte for byte."""
    houses = pd.read_csv(data_path(KAGGLE_FILE))
    lines = data_path(KAGGLE_FILE).read_bytes().splitlines(keepends=True)
    if len(lines) != len(houses) + 1:
        raise ValueError(f"{KAGGLE_FILE} has a row over several lines: its stand-in cannot keep rows by line")
    held_out = set(loaders.load_ames("test")[list(KAGGLE_KEY.values())].itertuples(index=False, name=None))
    matches = [key in held_out for key in houses[list(KAGGLE_KEY)].itertuples(index=False, name=None)]
    target.write_bytes(lines[0] + b"".join(line for line, match in zip(lines[1:], matches) if not match))


def _imdb_without_test_labels(target: Path) -> None:
    texts, _ = loaders.load_imdb_reviews("test")
    answered = {same_text(text) for text in texts}
    with tarfile.open(data_path(IMDB_ARCHIVE), "r:gz") as source, _tar_gz_writer(target) as archive:
        for member in source:
            if member.name.startswith("aclImdb/test"):
                continue
            body = source.extractfile(member).read() if member.isfile() else None
            if re.match(r"aclImdb/train/(pos|neg)/", member.name) and same_text(body.decode("utf-8")) in answered:
                continue  # a copy of a test review, with its label
            archive.addfile(member, BytesIO(body) if member.isfile() else None)
        for number, text in enumerate(texts):
            _add(archive, f"{IMDB_HELD_OUT_FOLDER}/{number:05d}.txt", text.encode("utf-8"))


def _enron_without_held_out_labels(target: Path) -> None:
    target.mkdir()
    index = pd.read_csv(data_path(ENRON_FILES[2]), sep="\t")
    emails = loaders.load_enron_spam("test")
    answered = {same_text(text) for text in emails["text"]}
    lines = {label_name: enron_lines(relpath) for label_name, relpath in zip(("ham", "spam"), ENRON_FILES)}
    copies = index.apply(lambda row: same_text(lines[row["class"]][row["line"] - 1]) in answered, axis=1)
    withheld = enron_held_out_rows(index) | copies  # held out, or a copy of a held-out email with its label
    for label_name, relpath in zip(("ham", "spam"), ENRON_FILES):
        blanked = set(index.loc[withheld & (index["class"] == label_name), "line"])
        _write_gzip(target / Path(relpath).name, "".join(("" if number in blanked else line) + "\r\n"
                                                          for number, line in enumerate(lines[label_name], start=1)))
    _write_gzip(target / Path(ENRON_FILES[2]).name, index[~withheld].to_csv(sep="\t", index=False))
    _write_gzip(target / Path(ENRON_HELD_OUT).name, "".join(json.dumps({"text": text, "client": client}) + "\n"
                                                          for text, client in zip(emails["text"], emails["client"])))


def _flowers_without_held_out_classes(target: Path) -> None:
    """The photo archive as `loaders.flower_photos_dir` unpacks it: the training photos in their
    class folders, the held-out ones numbered in ``held-out/`` without metadata, and the credits
    of the training photos only."""
    top = Path(FLOWER_PHOTOS).name
    held_out = loaders.load_flower_photos("test")[0]
    credits = {f"{Path(path).parent.name}/{Path(path).name}" for path in held_out}
    license_text = (loaders.flower_photos_dir() / "LICENSE.txt").read_text(encoding="utf-8")
    kept = [line for line in license_text.splitlines() if line.split(" ", 1)[0] not in credits]
    kept.append("(The credits of the held-out photos are in the course's own copy of this file.)")
    with _tar_gz_writer(target) as archive:
        _add(archive, top, None)
        _add(archive, f"{top}/LICENSE.txt", ("\n".join(kept) + "\n").encode("utf-8"))
        for name in FLOWER_CLASSES:
            _add(archive, f"{top}/{name}", None)
        for path in loaders.load_flower_photos("train")[0]:
            _add(archive, f"{top}/{Path(path).parent.name}/{Path(path).name}", Path(path).read_bytes())
        _add(archive, f"{top}/{FLOWERS_HELD_OUT_FOLDER}", None)
        for number, path in enumerate(held_out):
            _add(archive, f"{top}/{FLOWERS_HELD_OUT_FOLDER}/{number:03d}.jpg", without_metadata(Path(path).read_bytes()))


def without_metadata(jpeg: bytes) -> bytes:
    """The JPEG without its comments and APP segments other than JFIF, ICC and Adobe (which
    decoding may use): EXIF, XMP and IPTC keywords can name what the photo shows. The
    compressed image is untouched, so it decodes to the same pixels."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file")
    kept, position = [jpeg[:2]], 2
    while position < len(jpeg):
        marker = jpeg[position + 1]
        if jpeg[position] != 0xFF or marker == 0xDA:  # the start of the image data: keep the rest
            kept.append(jpeg[position:])
            break
        end = position + 2 + int.from_bytes(jpeg[position + 2:position + 4], "big")
        if not (0xE1 <= marker <= 0xEF and marker not in (0xE2, 0xEE) or marker == 0xFE):
            kept.append(jpeg[position:end])
        position = end
    return b"".join(kept)


def _shakespeare_training_text(target: Path) -> None:
    target.write_text(loaders.load_shakespeare("train"), encoding="utf-8")


STAND_INS = (
    StandIn(AMES_FILE, (AMES_FILE,), _ames_without_held_out_prices),
    StandIn(KAGGLE_FILE, (KAGGLE_FILE, AMES_FILE), _kaggle_without_held_out_houses),
    StandIn(IMDB_ARCHIVE, (IMDB_ARCHIVE,), _imdb_without_test_labels),
    StandIn("enron-spam", ENRON_FILES, _enron_without_held_out_labels),
    StandIn(FLOWER_ARCHIVE, (FLOWER_ARCHIVE,), _flowers_without_held_out_classes),
    StandIn(SHAKESPEARE_FILE, (SHAKESPEARE_FILE,), _shakespeare_training_text),
)
