"""The files of the students' course data, with their sha256 and public download addresses.

Students get the course data without the held-out answers: the grading sandbox shows notebooks
exactly these files. The instructor's `autograder release` writes this list into the wheel it
builds (``student_manifest.json`` beside this module), from the course data it releases, so that
``coursekit data fetch`` checks every file against the data the grader holds back answers from.
"""

import json
from dataclasses import dataclass
from pathlib import Path

WITHHELD_MARKER = "HELD-OUT-LABELS-WITHHELD"
"""A file at the top of a data folder without the held-out answers (students' and the sandbox's)."""
RELEASED_MANIFEST = Path(__file__).with_name("student_manifest.json")


@dataclass(frozen=True)
class DataFile:
    path: str
    """Path inside the course data folder (and inside a mirror)."""
    sha256: str
    size: int
    """Size in bytes (a reader's cross-check; sha256 is what fetch checks)."""
    url: str | None
    """Public download address of these exact bytes, or None (mirror only)."""

    @property
    def dataset(self) -> str:
        """The dataset a file belongs to: its top folder."""
        return self.path.split("/", 1)[0]


def released_manifest(path: Path = RELEASED_MANIFEST) -> tuple[DataFile, ...]:
    """The students' files as `autograder release` recorded them (none in a copy it did not build)."""
    if not path.exists():
        return ()
    return tuple(DataFile(**entry) for entry in json.loads(path.read_text(encoding="utf-8")))


STUDENT_MANIFEST = released_manifest()
