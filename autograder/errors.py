"""Exceptions raised by the course kit.

AutograderError                 root: catch this to handle any kit error
├── DatasetError
│   ├── DatasetNotFoundError    a data file is missing from the course data folder
│   ├── DatasetCorruptError     a data file's sha256 differs from the manifest
│   ├── DatasetUnavailableError no source (mirror or URL) can provide a file
│   └── DatasetWithheldError    held-out data that graded notebooks may not read
├── CourseError                 the course folder is missing or malformed
├── BuildError                  nbgrader could not generate a student or solution version
└── SubmissionError             one student's submission cannot be graded (never aborts a batch)

Check failures inside notebooks are plain ``AssertionError``s: nbgrader scores them.
"""

__all__ = [
    "AutograderError",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetCorruptError",
    "DatasetUnavailableError",
    "DatasetWithheldError",
    "CourseError",
    "BuildError",
    "SubmissionError",
]


class AutograderError(Exception):
    """Root of every error the kit raises on purpose."""


class DatasetError(AutograderError):
    pass


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    def __init__(self, relpath, data_dir):
        self.relpath, self.data_dir = relpath, data_dir
        super().__init__(
            f"dataset file {relpath!r} is not in the course data folder {data_dir}. "
            "Fetch it with `autograder data fetch` (add `--mirror DIR` to copy from a local mirror), "
            "or point COURSE_DATA_DIR at a folder that holds it."
        )


class DatasetCorruptError(DatasetError):
    def __init__(self, relpath, expected, actual):
        self.relpath, self.expected, self.actual = relpath, expected, actual
        super().__init__(
            f"dataset file {relpath!r} has sha256 {actual}, expected {expected}: "
            "it is corrupt or a different version. Fetch it again with `autograder data fetch`."
        )


class DatasetUnavailableError(DatasetError):
    pass


class DatasetWithheldError(DatasetError):
    def __init__(self, what):
        super().__init__(f"{what} is withheld from graded notebooks: the grader measures the model on it")


class CourseError(AutograderError):
    pass


class BuildError(AutograderError):
    pass


class SubmissionError(AutograderError):
    pass
