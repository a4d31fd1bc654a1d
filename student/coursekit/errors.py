"""Exceptions raised by the course kit (this package and the instructor's grader).

CourseKitError                  root: catch this to handle any kit error
├── DatasetError
│   ├── DatasetNotFoundError    a data file is missing from the course data folder
│   ├── DatasetCorruptError     a data file's sha256 differs from the manifest
│   ├── DatasetUnavailableError no source (mirror or URL) can provide a file
│   ├── DatasetWithheldError    held-out data that students' notebooks may not read
│   └── UnsafeArchiveError      an archive member would land outside its folder, or is a device file
├── HiddenInputsMissing         a hidden test ran outside a grading run (no inputs were handed to it)
└── AutograderError             the grader's own errors (autograder.errors)

Check failures inside notebooks are plain ``AssertionError``s: nbgrader scores them.
"""

__all__ = [
    "CourseKitError",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetCorruptError",
    "DatasetUnavailableError",
    "DatasetWithheldError",
    "UnsafeArchiveError",
    "HiddenInputsMissing",
]


class CourseKitError(Exception):
    """Root of every error the kit raises on purpose."""


class DatasetError(CourseKitError):
    pass


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    def __init__(self, relpath, data_dir, fetch_command="coursekit data fetch"):
        self.relpath, self.data_dir = relpath, data_dir
        super().__init__(
            f"dataset file {relpath!r} is not in the course data folder {data_dir}. "
            f"Fetch it with `{fetch_command}` (add `--mirror DIR_OR_URL` to copy from the course's mirror), "
            "or point COURSE_DATA_DIR at a folder that holds it."
        )


class DatasetCorruptError(DatasetError):
    def __init__(self, relpath, expected, actual, fetch_command="coursekit data fetch"):
        self.relpath, self.expected, self.actual = relpath, expected, actual
        super().__init__(
            f"dataset file {relpath!r} has sha256 {actual}, expected {expected}: "
            f"it is corrupt or a different version. Fetch it again with `{fetch_command}`."
        )


class DatasetUnavailableError(DatasetError):
    pass


class DatasetWithheldError(DatasetError):
    def __init__(self, what):
        super().__init__(f"{what} is withheld from students' notebooks: the grader measures the model on it")


class UnsafeArchiveError(DatasetError):
    """A member of ``archive`` that extracting would write outside its destination folder (an
    absolute name, ``..``, a link out of it), or a device file or FIFO (`coursekit.archives`)."""

    def __init__(self, archive, member, reason):
        self.archive, self.member, self.reason = archive, member, reason
        super().__init__(f"refusing to extract {archive}: its member {member!r} {reason}")

    def __reduce__(self):
        return type(self), (self.archive, self.member, self.reason)


class HiddenInputsMissing(CourseKitError):
    pass
