"""The audit of the students' data: no file that students get, and no file that the grading
sandbox shows a notebook, gives away a held-out answer.

The held-out answers come from the instructor's full course data (the loaders there): the labels of
the MNIST and Fashion-MNIST test images, of the IMDB test reviews, of the held-out Enron emails and
flower photos, the sale prices of the held-out Ames houses, and the held-out Tiny Shakespeare text.
Every file of the students' data (`data.student_data`) and of the grading view
(`data.grading_view`), archives member by member, is read into examples, each with the labels its
place gives it, and joined with those answers. An answer is given away where the view has:

- a held-out image (digit, garment, flower photo) with the same pixels as an image labelled with its
  class: by the label file beside an IDX image file, or by the folder a photo is in;
- a held-out review or email with the same text (`same_text`: letters and digits, lower-cased) as a
  text labelled with its class: by the folder a file is in (``pos/``, ``neg/``), by the file a line
  is in (``ham.txt``, ``spam.txt``) or by a ``label`` field of a JSON record;
- a held-out Ames house with its sale price: a row of a table that has a price and the same values
  as the house in every column it shares with the Ames file (De Cock's or Kaggle's spelling of the
  names), among them at least the lot area, living area, year built and month and year sold;
- a passage of `PASSAGE_WORDS` words of the held-out Tiny Shakespeare text, anywhere.

A file the audit cannot read fails it (a new kind of file needs a reader here first); model weights
(HDF5) are the only files without examples. The same joins on the instructor's full data find every
answer (`test_the_audit_finds_every_answer_in_the_full_data`): an empty result means no route, not
a blind audit.

Measured on the course data before the view left the copies out: the Kaggle table held 292 of the
573 held-out Ames houses with their prices (a join on its five key columns finds 293: the 293rd row
is the twin next door of a held-out house, parcel 904301060 beside 904301070, sold the same month
for the same $179,000; the twin, a training house, differs in its exterior condition and stays in
the Ames training data); IMDB's training reviews held 123 of the 25,000 test reviews, and Enron's
training emails 1,118 of the 6,637 held-out emails, each with its label. No test image has the
pixels of a training image (nor any held-out flower photo those of a training photo), and no passage
of eight words of the held-out Shakespeare text is anywhere else.
"""

import collections
import functools
import gzip
import hashlib
import io
import json
import re
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import report_figures
from PIL import Image

from autograder import data
from coursekit.data import loaders

pytestmark = pytest.mark.slow  # reads the full course data and two views of it: ~100 s on 2 shared cores

PASSAGE_WORDS = 8
"""A passage this long of the held-out Shakespeare text is a leak. Shorter ones are common phrases:
the training text shares 38 passages of five words with the held-out text, none of eight (and no
verbatim passage of 32 characters)."""
HOUSE_KEY = {"lotarea", "grlivarea", "yearbuilt", "yrsold", "mosold"}
"""The columns (as `column_key` names them) a table must share with the Ames file for its rows to be
joined with the houses: with fewer, a row is not one house."""
NOT_THE_HOUSE = {"order", "pid", "saleprice"}
"""Ames columns that are not the house: its number in the file, its parcel id, its answer."""
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def same_text(text: str) -> str:
    """What two texts that count as the same share: their ASCII letters and digits, lower-cased."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def column_key(name: str) -> str:
    """"Gr Liv Area" and "GrLivArea" alike: "grlivarea"."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def cell(value) -> str:
    """A table's value as one spelling: numbers without their form (20, "020" and 20.0 alike)."""
    if value is None or isinstance(value, float) and np.isnan(value) or str(value).strip() in ("", "NA"):
        return ""
    try:
        number = float(value)
    except ValueError:
        return str(value).strip()
    return str(int(number)) if number.is_integer() else repr(number)


def pixels(array: np.ndarray) -> bytes:
    return hashlib.sha256(str(array.shape).encode() + np.ascontiguousarray(array, dtype=np.uint8).tobytes()).digest()


def jpeg_pixels(body: bytes) -> bytes:
    with Image.open(io.BytesIO(body)) as image:
        return pixels(np.asarray(image.convert("RGB")))


def passage_hashes(text: str) -> np.ndarray:
    """A hash of every run of `PASSAGE_WORDS` words (letters only, lower-cased) of ``text``."""
    words = re.findall(r"[a-z]+", text.lower())
    if len(words) < PASSAGE_WORDS:
        return np.empty(0, np.uint64)
    code = {word: int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big") for word in set(words)}
    tokens = np.array([code[word] for word in words], dtype=np.uint64)
    hashes = np.zeros(len(tokens) - PASSAGE_WORDS + 1, dtype=np.uint64)
    for offset in range(PASSAGE_WORDS):
        hashes = hashes * np.uint64(1_000_003) + tokens[offset:len(tokens) - PASSAGE_WORDS + 1 + offset]
    return hashes


# --- the held-out answers (the instructor's full data) ----------------------------------------------

@dataclass
class HeldOut:
    """A held-out set of images or texts: each item's key and the labels that answer it."""
    dataset: str
    kind: str
    """'images' or 'texts': the examples of the views it is joined with."""
    keys: list
    answers: list[frozenset[str]]
    """Each item's answer in every spelling a label could have: its index and its class name."""
    items: dict = field(init=False)
    """{key: the items with that key}"""
    labels: frozenset = field(init=False)
    """Every label that answers an item."""

    def __post_init__(self):
        self.items = collections.defaultdict(list)
        for item, key in enumerate(self.keys):
            self.items[key].append(item)
        self.labels = frozenset().union(*self.answers)


def spellings(labels, names) -> list[frozenset[str]]:
    return [frozenset({str(int(label)), names[int(label)]}) for label in labels]


@dataclass
class Answers:
    sets: list[HeldOut]
    houses: pd.DataFrame
    """The held-out Ames houses, every column (`column_key` names) as `cell` spells it."""
    shakespeare: np.ndarray
    """`passage_hashes` of the held-out Shakespeare text."""

    @property
    def count(self) -> int:
        return sum(len(held.keys) for held in self.sets) + len(self.houses) + 1


@pytest.fixture(scope="module")
def answers() -> Answers:
    assert not data.labels_withheld(), "the audit needs the instructor's full course data (COURSE_DATA_DIR)"
    sets = []
    for dataset, load, names in (("MNIST", data.load_mnist, [str(digit) for digit in range(10)]),
                                 ("Fashion-MNIST", data.load_fashion_mnist, data.FASHION_MNIST_CLASSES)):
        images, labels = load("test")
        sets.append(HeldOut(dataset, "images", [pixels(image) for image in images], spellings(labels, names)))
    texts, labels = data.load_imdb_reviews("test")
    sets.append(HeldOut("IMDB", "texts", [same_text(text) for text in texts], spellings(labels, ("neg", "pos"))))
    emails = data.load_enron_spam("test")
    sets.append(HeldOut("Enron-Spam", "texts", [same_text(text) for text in emails["text"]],
                        spellings(emails["label"], ("ham", "spam"))))
    paths, labels = data.load_flower_photos("test")
    sets.append(HeldOut("flower photos", "images", [jpeg_pixels(Path(path).read_bytes()) for path in paths],
                        spellings(labels, data.FLOWER_CLASSES)))
    houses = data.load_ames("test").rename(columns=column_key).map(cell)
    return Answers(sets, houses, np.unique(passage_hashes(data.load_shakespeare("test"))))


# --- what a view's files hold ---------------------------------------------------------------------

@dataclass
class Examples:
    """What one file holds: images and texts keyed as the held-out ones, with the labels their
    place gives them; tables (`cell` spelling); and all of its text."""
    images: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    text: list = field(default_factory=list)

    @functools.cached_property
    def passages(self) -> np.ndarray:
        """`passage_hashes` of its text (across two texts too, which can only find more)."""
        return passage_hashes("\n".join(self.text))


def idx_labels(path: Path, files: dict[str, Path]) -> Path | None:
    """The label file beside an IDX image file, where the view shows one."""
    beside = path.with_name(path.name.replace("-images-idx3-", "-labels-idx1-"))
    return beside if beside != path and beside in files.values() else None


def read_file(path: Path, labels: Path | None) -> Examples:
    """The examples of one file, by its content (``labels``: the labels of an IDX image file).
    AssertionError naming the file if the audit cannot read it."""
    found = Examples()
    body = path.read_bytes()
    if body.startswith(HDF5_SIGNATURE):
        return found  # model weights
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile():
                    read_member(member.name, archive.extractfile(member).read(), found, path)
    elif body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
        if body[:3] == b"\x00\x00\x08":
            read_idx_images(path, labels, found)
        else:
            read_member(f"{path.parent.name}/{path.name.removesuffix('.gz')}", body, found, path)
    else:
        read_member(f"{path.parent.name}/{path.name}", body, found, path)
    return found


def read_idx_images(path: Path, label_file: Path | None, found: Examples) -> None:
    """An IDX image file's images, labelled by ``label_file`` (a label file alone holds nothing:
    what it labels is in its image file)."""
    images = loaders.read_idx(path)
    if images.ndim == 1:
        return
    labels = loaders.read_idx(label_file) if label_file else None
    found.images += [(pixels(image), frozenset() if labels is None else frozenset({str(labels[number])}))
                     for number, image in enumerate(images)]


def read_member(name: str, body: bytes, found: Examples, path: Path) -> None:
    """A file of an archive or of the view, ``name`` ending in its folder and file name."""
    folder, stem = Path(name).parent.name, Path(name).name.split(".", 1)[0]
    if body[:2] == b"\xff\xd8":
        found.images.append((jpeg_pixels(body), frozenset({folder})))
        return
    assert body.count(b"\x00") <= len(body) // 1000, (  # Enron's spam has a few
        f"the audit cannot read {path} ({name}): neither model weights, an archive, IDX, JPEG nor text")
    text = body.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if name.endswith(".jsonl"):
        for record in map(json.loads, lines):
            labels = frozenset(str(record[key]) for key in ("label", "class") if record.get(key) is not None)
            for value in record.values():
                if isinstance(value, str):
                    found.texts.append((same_text(value), labels | {stem}))
                    found.text.append(value)
        return
    found.text.append(text)
    found.texts.append((same_text(text), frozenset({folder, stem})))
    if len(lines) > 1:
        found.texts += [(same_text(line), frozenset({folder, stem})) for line in lines]
        header = {column_key(column) for column in re.split(r"[\t,]", lines[0])}
        if HOUSE_KEY <= header:
            table = pd.read_csv(io.StringIO(text), sep="\t" if "\t" in lines[0] else ",")
            found.tables.append(table.rename(columns=column_key).map(cell))


def view_files(view: dict[str, Path]) -> dict[str, Path]:
    """{path in the view: file}, folders listed file by file."""
    files = {}
    for relpath, path in view.items():
        if path.is_dir():
            files.update((f"{relpath}/{inner.relative_to(path).as_posix()}", inner)
                         for inner in sorted(path.rglob("*")) if inner.is_file())
        else:
            files[relpath] = path
    return files


# --- the joins ----------------------------------------------------------------------------------------

def joined(held: HeldOut, examples: list) -> tuple[set[int], set[int]]:
    """(held-out items that ``examples`` hold with their answer, items they hold with another of the
    set's labels)."""
    given, other = set(), set()
    for key, labels in examples:
        for item in held.items.get(key, ()) if key else ():
            if labels & held.answers[item]:
                given.add(item)
            elif labels & held.labels:
                other.add(item)
    return given, other


def joined_houses(houses: pd.DataFrame, table: pd.DataFrame) -> tuple[set[int], set[int]]:
    """(held-out houses that a row of ``table`` is, with their price; those it is, with another price)."""
    shared = sorted((set(table.columns) & set(houses.columns)) - NOT_THE_HOUSE)
    if "saleprice" not in table.columns or not HOUSE_KEY <= set(shared):
        return set(), set()
    rows = houses[shared + ["saleprice"]].reset_index(names="item").merge(
        table[shared + ["saleprice"]], on=shared, suffixes=("", " in the table"))
    priced = rows[rows["saleprice in the table"] != ""]
    same = priced["saleprice"] == priced["saleprice in the table"]
    return set(priced.loc[same, "item"]), set(priced.loc[~same, "item"])


@dataclass
class Leak:
    file: str
    dataset: str
    answers: int
    """How many held-out answers the file gives away."""
    example: str


def audit(view: dict[str, Path], answers: Answers, cache: dict) -> tuple[list[Leak], collections.Counter]:
    """Every file of ``view`` joined with every held-out answer: the leaks, and what was read (with
    the held-out inputs that files hold with a label that is not theirs). ``cache``: each file's
    results, for the other views that show it."""
    leaks, tally = [], collections.Counter()
    files = view_files(view)
    for relpath, path in files.items():
        labels = idx_labels(path, files)
        key = (path.resolve(), labels and labels.resolve())
        if key not in cache:
            cache[key] = audit_file(read_file(path, labels), answers)
        found, counts = cache[key]
        tally.update(counts)
        leaks += [Leak(relpath, *leak) for leak in found]
    return leaks, tally


def audit_file(found: Examples, answers: Answers) -> tuple[list[tuple], collections.Counter]:
    """The leaks of one file's examples (without the file's name), and what it holds."""
    leaks = []
    tally = collections.Counter(files=1, images=len(found.images), texts=len(found.texts), tables=len(found.tables))
    for held in answers.sets:
        given, other = joined(held, getattr(found, held.kind))
        tally[held.dataset] += len(other)
        if given:
            leaks.append((held.dataset, len(given), f"item {min(given)}: {sorted(held.answers[min(given)])}"))
    for table in found.tables:
        given, other = joined_houses(answers.houses, table)
        tally["Ames"] += len(other)
        if given:
            house = answers.houses.loc[min(given)]
            leaks.append(("Ames", len(given), f"parcel {house['pid']}: ${house['saleprice']}"))
    passages = int(np.isin(answers.shakespeare, found.passages).sum())
    if passages:
        leaks.append(("Tiny Shakespeare", passages, f"passages of {PASSAGE_WORDS} words of the held-out text"))
    return leaks, tally


@pytest.fixture(scope="module")
def cache() -> dict:
    """Each file's results: a file is read and joined once, for all the views that show it."""
    return {}


VIEWS = {"the students' data": data.student_data, "the grading view": data.grading_view}


@pytest.mark.parametrize("view_name", VIEWS)
def test_no_file_of_the_view_gives_away_a_held_out_answer(view_name, answers, cache):
    start = time.monotonic()
    view = VIEWS[view_name]()  # stand-ins made once per version of the data, in the grader's cache
    leaks, tally = audit(view, answers, cache)
    report_figures(
        f"{view_name}: {tally['files']} files ({tally['images']} images, {tally['texts']} texts and lines, "
        f"{tally['tables']} tables) joined with {answers.count} held-out answers in {time.monotonic() - start:.0f} s; "
        "held-out inputs there with another label: " + ", ".join(
            f"{held.dataset} {tally[held.dataset]}" for held in answers.sets) + f", Ames {tally['Ames']}")
    assert not leaks, f"{view_name} gives away held-out answers:\n" + "\n".join(
        f"- {leak.file}: {leak.answers} of {leak.dataset} (e.g. {leak.example})" for leak in leaks)


def test_the_audit_finds_every_answer_in_the_full_data(answers, cache):
    full = {entry.path: data.data_dir() / entry.path for entry in data.MANIFEST}
    leaks, _ = audit(full, answers, cache)
    assert {(leak.file, leak.dataset): leak.answers for leak in leaks} == {
        ("mnist/t10k-images-idx3-ubyte.gz", "MNIST"): 10_000,
        ("fashion-mnist/t10k-images-idx3-ubyte.gz", "Fashion-MNIST"): 10_000,
        ("imdb/aclImdb_v1.tar.gz", "IMDB"): 25_000,  # 123 of them twice: in test/ and in train/
        ("enron-spam/ham.txt.gz", "Enron-Spam"): 3_268,
        ("enron-spam/spam.txt.gz", "Enron-Spam"): 3_369,
        ("flowers/flower_photos_subset.tgz", "flower photos"): 200,
        ("housing/ames/AmesHousing.txt", "Ames"): 573,
        ("housing/kaggle-house-prices/train.csv", "Ames"): 292,  # and the twin next door of another (below)
        ("tinyshakespeare/input.txt", "Tiny Shakespeare"): len(answers.shakespeare),
    }


def test_the_held_out_emails_come_in_an_order_students_could_compute_themselves():
    """An email's file name holds its class (``enron1/spam/0006.2003-12-18.GP.spam.txt``), and the
    view gives most held-out names away (the numbers missing between the training emails' and the
    dates of their neighbours: 4,641 of the 6,637 guessed exactly), so an order by file name would
    be an answer key. The held-out emails come in the order of a hash of what students have anyway,
    their mailbox and text."""
    with gzip.open(data.student_data()[loaders.ENRON_HELD_OUT], "rt", encoding="utf-8") as stream:
        emails = [json.loads(line) for line in stream]
    order = [loaders._held_out_order(f"{email['client']}\n{email['text']}") for email in emails]
    assert len(emails) == 6637 and order == sorted(order)
