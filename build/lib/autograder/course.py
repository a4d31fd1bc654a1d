"""The course folder: where it is, its assignments and notebooks, and nbgrader set up for it."""

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .errors import CourseError

CONFIG_FILE = "nbgrader_config.py"


@dataclass(frozen=True)
class Course:
    root: Path
    """Folder holding nbgrader_config.py, source/, assignments/ and solutions/."""

    @classmethod
    def find(cls, start: Path | str | None = None) -> "Course":
        """The course containing ``start`` (default: $COURSE_ROOT, else the working folder)."""
        start = Path(start or os.environ.get("COURSE_ROOT") or Path.cwd()).resolve()
        for folder in (start, *start.parents):
            if (folder / CONFIG_FILE).exists() and (folder / "source").is_dir():
                return cls(folder)
        raise CourseError(f"no course folder (with {CONFIG_FILE} and source/) at or above {start}")

    @property
    def source_dir(self) -> Path:
        return self.root / "source"

    @property
    def release_dir(self) -> Path:
        return self.root / "assignments"

    @property
    def solution_dir(self) -> Path:
        return self.root / "solutions"

    def assignments(self, names=None) -> list[str]:
        """Assignment names in order; ``names`` may be given in full or by number ("01")."""
        available = sorted(p.name for p in self.source_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not names:
            return available
        chosen = []
        for name in names:
            matches = [a for a in available if a == name or a.split("_", 1)[0] == name]
            if len(matches) != 1:
                raise CourseError(f"unknown assignment {name!r}; the course has: {', '.join(available)}")
            chosen.append(matches[0])
        return chosen

    def notebook_names(self, assignment: str) -> list[str]:
        return sorted(p.name for p in (self.source_dir / assignment).glob("*.ipynb"))

    def grade_cells(self, assignment: str) -> list[tuple[str, float]]:
        """(grade_id, points) of each autograded cell, in notebook order."""
        cells = []
        for name in self.notebook_names(assignment):
            notebook = nbformat.read(self.source_dir / assignment / name, as_version=4)
            for cell in notebook.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade") and cell.cell_type == "code":
                    cells.append((meta["grade_id"], float(meta.get("points", 0))))
        return cells

    def nbgrader_config(self, **course_directory) -> Config:
        """The course's nbgrader configuration, with CourseDirectory traits overridden."""
        config = PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()
        config.CourseDirectory.root = str(self.root)
        for trait, value in course_directory.items():
            setattr(config.CourseDirectory, trait, str(value))
        return config
