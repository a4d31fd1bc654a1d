"""Copying made visible (`autograder similarity`): how much of two students' answers is the same
code, up to renamed variables, reformatting and reordered functions.

A student's answers are the source of the notebook's solution cells, less the lines every student
was given (the student version's cells). Their Python tokens are normalised (names other than
attributes become ``N``, strings ``S``, numbers ``0``: renaming changes nothing, while ``.fit`` or
``.mean`` still tell code apart), every run of ``K`` tokens is hashed, and winnowing (Schleimer,
Wilkerson and Aiken, SIGMOD 2003) keeps the smallest hash of each window of ``W`` hashes: a
fingerprint that holds every passage of at least K + W - 1 tokens two answers share, wherever it
sits (reordered functions keep their passages). A pair's similarity is the share of the smaller
answer's fingerprint that the other answer also has.

Copied results are looked for too (`identical_evidence`): arrays two students' runs exported
exactly alike.
"""

import csv
import hashlib
import io
import itertools
import keyword
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np

from coursekit.evidence import EXPORTS, TOKEN_KEY

from . import exports
from .untrusted import clip

K, W = 12, 8
"""Tokens per hashed run, and hashes per winnowing window."""
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
           tokenize.ENDMARKER}


@dataclass(frozen=True)
class Answers:
    student: str
    lines: list[str]
    """The student's own lines of code, all solution cells in notebook order."""
    fingerprint: dict[int, tuple[int, int]]
    """Kept hash -> the first and last line (indices into ``lines``) of the tokens it hashes."""


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    similarity: float
    """Share of the smaller fingerprint found in the other (0 to 1)."""
    shared: list[tuple[str, str]]
    """Passages both hold: (the first student's lines, the second's), as text."""


def answers_of(student: str, notebook, given: dict[str, str]) -> Answers:
    """The student's answers in ``notebook``: the tokens of its solution cells that are not on a line
    of ``given`` (grade id -> the code the student version has in that cell)."""
    lines, fingerprints = [], {}
    for cell in notebook.cells:
        metadata = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and metadata.get("solution"):
            handed_out = {line.strip() for line in given.get(metadata.get("grade_id"), "").splitlines()}
            source = cell.source.splitlines()
            for first, block in _blocks(source):
                own = [(text, len(lines) + first + line) for text, line in tokens(block)
                       if source[first + line].strip() not in handed_out]
                fingerprints |= fingerprint(own)
            lines += source
    return Answers(student, lines, fingerprints)


def _blocks(lines: list[str]) -> list[tuple[int, str]]:
    """(first line, source) of each top-level definition and of the code between them: hashed runs
    of tokens stay inside one, so that reordering functions keeps every run."""
    starts = [0] + [index for index, line in enumerate(lines) if index and re.match(r"(def |class |@|async def )", line)]
    return [(start, "\n".join(lines[start:end])) for start, end in zip(starts, [*starts[1:], len(lines)])]


def tokens(source: str) -> list[tuple[str, int]]:
    """(normalised token, line index) of ``source``; code Python cannot tokenize is split on words."""
    try:
        found = [(_normalised(token), token.start[0] - 1) for token in tokenize.generate_tokens(io.StringIO(source).readline)
                 if token.type not in SKIPPED]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        found = [("\0" + word if word.isidentifier() and not keyword.iskeyword(word) else word, index)
                 for index, line in enumerate(source.splitlines()) if not line.lstrip().startswith("#")
                 for word in re.findall(r"\w+|[^\w\s]", line)]
    attribute = [index > 0 and found[index - 1][0] == "." for index in range(len(found))]
    return [("N" if text.startswith("\0") and not after_dot else text.lstrip("\0"), line)
            for (text, line), after_dot in zip(found, attribute)]


def _normalised(token) -> str:
    if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
        return "\0" + token.string  # a name: kept only where it is an attribute (see `tokens`)
    if token.type == tokenize.STRING or token.type in _F_STRING:
        return "S"
    if token.type == tokenize.NUMBER:
        return "0"
    return token.string


_F_STRING = {getattr(tokenize, name) for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)}


def fingerprint(found: list[tuple[str, int]]) -> dict[int, tuple[int, int]]:
    """Winnowed hashes of every K consecutive tokens, each with the lines it spans (a shorter run of
    tokens is hashed whole)."""
    grams = [(_stable_hash(" ".join(text for text, _ in found[i:i + K])), (found[i][1], found[min(i + K, len(found)) - 1][1]))
             for i in range(max(1, len(found) - K + 1))] if found else []
    kept = {}
    for window in (grams[i:i + W] for i in range(max(1, len(grams) - W + 1))):
        if window:
            smallest = min(window, key=lambda gram: gram[0])
            kept.setdefault(smallest[0], smallest[1])
    return kept


def _stable_hash(text: str) -> int:
    """The same in every process (Python's hash() of a str is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def compare(first: Answers, second: Answers) -> SimilarPair:
    shared = first.fingerprint.keys() & second.fingerprint.keys()
    smaller = min(len(first.fingerprint), len(second.fingerprint))
    passages = [(_text(first, spans), _text(second, spans2)) for spans, spans2 in _passages(first, second, shared)]
    return SimilarPair(first.student, second.student, len(shared) / smaller if smaller else 0.0, passages)


def _passages(first: Answers, second: Answers, shared) -> list[tuple[list[int], list[int]]]:
    """Shared hashes grouped into passages: runs of adjacent lines in the first student's answers."""
    ordered = sorted(shared, key=lambda hashed: first.fingerprint[hashed])
    groups = []
    for hashed in ordered:
        start, end = first.fingerprint[hashed]
        if groups and start <= groups[-1][0][-1] + 1:
            groups[-1][0].extend(range(groups[-1][0][-1] + 1, end + 1))
        else:
            groups.append((list(range(start, end + 1)), []))
        other_start, other_end = second.fingerprint[hashed]
        groups[-1][1].extend(line for line in range(other_start, other_end + 1) if line not in groups[-1][1])
    return groups


def _text(answers: Answers, lines: list[int]) -> str:
    return "\n".join(answers.lines[line] for line in sorted(set(lines)))


def similar_pairs(submitted: Path, assignment: str, given_notebooks: dict[str, object]) -> list[SimilarPair]:
    """Every pair of students under ``submitted/<student>/<assignment>/``, most similar first.
    ``given_notebooks``: notebook name -> the student version handed out."""
    students = {}
    for folder in sorted(path for path in submitted.iterdir() if (path / assignment).is_dir()):
        lines, fingerprints = [], {}
        for name, student_version in given_notebooks.items():
            path = folder / assignment / name
            if not path.exists():
                continue
            given = {cell.metadata.nbgrader.grade_id: cell.source for cell in student_version.cells
                     if cell.metadata.get("nbgrader", {}).get("solution")}
            found = answers_of(folder.name, nbformat.read(path, as_version=4), given)
            offset = len(lines)
            lines += found.lines
            fingerprints |= {hashed: (start + offset, end + offset) for hashed, (start, end) in found.fingerprint.items()}
        students[folder.name] = Answers(folder.name, lines, fingerprints)
    pairs = [compare(first, second) for first, second in itertools.combinations(students.values(), 2)]
    return sorted(pairs, key=lambda pair: (-pair.similarity, pair.first, pair.second))


def write_similarity_csv(pairs: list[SimilarPair], path: Path) -> Path:
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["first", "second", "similarity", "shared_passages", "longest_shared_passage"])
        for pair in pairs:
            longest = max((first for first, _ in pair.shared), key=len, default="")
            writer.writerow([pair.first, pair.second, f"{pair.similarity:.3f}", len(pair.shared), longest])
    return path


MIN_VALUES = 100
"""The fewest values an array must hold for its being identical to tell anything."""


@dataclass(frozen=True)
class IdenticalPair:
    first: str
    second: str
    arrays: list[tuple[str, int]]
    """Each array both students' runs exported exactly alike: ("collector/key", its number of values)."""


@dataclass(frozen=True)
class Similarity:
    """What `autograder similarity` found: similar code and identical evidence."""
    pairs: list[SimilarPair]
    identical: list[IdenticalPair]


def identical_evidence(runs: Path) -> list[IdenticalPair]:
    """Every pair of students under ``runs/<student>/<notebook>/exports/`` whose collectors exported
    an array exactly alike (same collector and key, dtype, shape and bytes), most such arrays first.

    Code similarity misses a pasted result: a classmate's held-out predictions or trained weights
    copied into a notebook of one's own code. Evidence on inputs drawn per run differs between runs
    and never matches, but predictions of fixed held-out inputs and exported weights stay the same
    across runs. Two trained models rarely agree to the last bit, yet the handed-out notebooks fix
    the random seed, so two students who write the prescribed model the same way may get the same
    numbers honestly: this is a lead for the instructor to look into, not a penalty. Only arrays of
    at least MIN_VALUES values that are not one value repeated count (a model that predicts one
    class for everything is no sign of copying); the run's token is left out, and so is an array
    that three or more students, and more than half of those who handed the notebook in, exported
    alike (such as the pretrained base a transfer model hands in with its own weights).

    The exports were written by the students' notebooks: they are read with `exports.load` (no
    links, special files, pickles or oversized archives) and one it refuses is skipped. Each array
    is hashed, and students are grouped by (notebook, collector, key, hash), so the work grows with
    the number of students, not of pairs. Names of collectors and keys are the notebook's: shown
    clipped, unprintable characters as "?"."""
    holders, handed_in = defaultdict(list), defaultdict(int)
    for student in _folders(runs):
        for notebook in _folders(student):
            handed_in[notebook.name] += 1
            for path in sorted((notebook / EXPORTS).glob("*.npz")):  # `exports.load` refuses a linked folder
                try:
                    arrays = exports.load(notebook, path.stem)
                except exports.ExportError:
                    continue
                for key, array in arrays.items():
                    if key != TOKEN_KEY and array.size >= MIN_VALUES and np.unique(array).size > 1:
                        holders[notebook.name, path.stem, key, array.size, _digest(array)].append(student.name)
    shared = defaultdict(list)
    for (notebook, collector, key, size, _), students in sorted(holders.items()):
        if len(students) >= 3 and len(students) > handed_in[notebook] / 2:
            continue  # most of the class has it: it came with the assignment (pretrained weights), not from a classmate
        label = clip("".join(c if c.isprintable() else "?" for c in f"{collector}/{key}"), 100)
        for pair in itertools.combinations(students, 2):
            shared[pair].append((label, size))
    pairs = [IdenticalPair(first, second, arrays) for (first, second), arrays in shared.items()]
    return sorted(pairs, key=lambda pair: (-len(pair.arrays), pair.first, pair.second))


def _folders(folder: Path) -> list[Path]:
    """The folders in ``folder``, links left out (a notebook could have put one in its run folder)."""
    return sorted(path for path in folder.iterdir() if not path.is_symlink() and path.is_dir()) if folder.is_dir() else []


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(array.dtype.str.encode() + str(array.shape).encode() + array.tobytes()).hexdigest()


def write_identical_csv(pairs: list[IdenticalPair], path: Path) -> Path:
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["first", "second", "arrays"])
        for pair in pairs:
            writer.writerow([pair.first, pair.second, "; ".join(f"{label} ({size})" for label, size in pair.arrays)])
    return path
