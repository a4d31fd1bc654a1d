"""One loader per course dataset, reading only the course data folder (never the network).

Held-out splits: where a dataset has an official test split (MNIST, Fashion-MNIST, IMDB) it is
``split="test"``. The Ames houses, the flower photos and the Enron emails have none, so the kit
holds back a fixed 20% (chosen by a stable hash of the parcel id or file name, identical on every
machine) as ``split="test"``; Tiny Shakespeare, one continuous text, holds back its last 10%.
Assignments train on ``split="train"`` and the hidden tests predict the inputs of
``split="test"``, whose order never follows the labels (held-out reviews, photos and emails come
in the order of a hash of their file names; held-out emails, whose file names hold their class, in
the order of a hash of their mailbox and text). Students and graded notebooks have the data without
the held-out answers (a data folder with the `WITHHELD_MARKER` file, made by the grader's
``autograder/data/view.py``): held-out labels are None there (NaN prices and labels in
DataFrames), and the held-out Shakespeare text, which is its own answer, is not there at all; only
the grader, with the full data, reads the answers. Nor is any other copy of a held-out answer there:
training reviews and emails whose text is a held-out one, and the Kaggle table's rows of held-out
Ames houses, are left out of students' data (`tests/test_data_audit.py`).
"""

import gzip
import hashlib
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..archives import safe_extract
from ..errors import DatasetWithheldError
from .store import data_dir, data_path, labels_withheld

AMES_HELD_OUT_PERCENT = 20
# De Cock's documentation recommends removing the five houses above 4000 sq ft (three partial
# sales far below market value, two unusual sales) before giving the data to students.
AMES_MAX_LIVING_AREA = 4000
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")
FLOWER_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
FLOWERS_HELD_OUT_PERCENT = 20
SHAKESPEARE_HELD_OUT_PERCENT = 10
ENRON_HELD_OUT_PERCENT = 20
_SPLITS = ("train", "test")


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (the MNIST format) into a uint8 array of the shape in its header."""
    with gzip.open(path, "rb") as stream:
        raw = stream.read()
    zero, dtype_code, ndim = raw[0] * 256 + raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_idx_pair(folder: str, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    _check_split(split)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(data_path(f"{folder}/{prefix}-images-idx3-ubyte.gz"))
    if split == "test" and labels_withheld():
        return images, None
    return images, read_idx(data_path(f"{folder}/{prefix}-labels-idx1-ubyte.gz"))


def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: images uint8 (60000, 28, 28) in 0..255 and labels uint8 (60000,) in 0..9;
    10000 of each for ``split="test"`` (None in students' data)."""
    return _load_idx_pair("mnist", split)


def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: same shapes and dtypes as ``load_mnist``; labels index ``FASHION_MNIST_CLASSES``."""
    return _load_idx_pair("fashion-mnist", split)


IMDB_ARCHIVE = "imdb/aclImdb_v1.tar.gz"
IMDB_HELD_OUT_FOLDER = "aclImdb/test/held-out"
"""Where the students' archive keeps the test reviews, numbered in the loader's order, unlabelled."""


def load_imdb_reviews(split: str = "train") -> tuple[list[str], np.ndarray]:
    """Large Movie Review Dataset: 25000 review texts (str) and labels int64 (25000,), 1 = positive.

    Training reviews are in archive order (sorted by file name within neg/ then pos/); shuffle
    before use. Test reviews come in a fixed order unrelated to their labels (None in students'
    data). Students' data lacks the 123 training reviews whose text is also a test review's.
    """
    _check_split(split)
    if split == "test" and labels_withheld():
        return [text for _, text in _archive_texts(IMDB_ARCHIVE, rf"{IMDB_HELD_OUT_FOLDER}/\d+\.txt$")], None
    reviews = [(name, text, int(name.split("/")[2] == "pos"))
               for name, text in _archive_texts(IMDB_ARCHIVE, rf"aclImdb/{split}/(pos|neg)/\d+_\d+\.txt$")]
    if split == "test":
        reviews.sort(key=lambda review: _held_out_order(review[0]))
    return [text for _, text, _ in reviews], np.array([label for *_, label in reviews], dtype=np.int64)


def _archive_texts(relpath: str, pattern: str):
    """(member name, UTF-8 text) of the archive's members whose names match ``pattern``, in archive order."""
    matcher = re.compile(pattern)
    with tarfile.open(data_path(relpath), "r:gz") as archive:
        for member in archive:
            if matcher.match(member.name):
                yield member.name, archive.extractfile(member).read().decode("utf-8")


def load_imdb_word_index() -> dict[str, int]:
    """The Keras IMDB word index: 88584 words to their frequency rank (1 = most frequent)."""
    return json.loads(data_path("imdb/imdb_word_index.json").read_text(encoding="utf-8"))


SHAKESPEARE_FILE = "tinyshakespeare/input.txt"


def load_shakespeare(split: str = "train") -> str:
    """Tiny Shakespeare (1,115,394 characters, 65 distinct): its first 90% as one string
    (1,003,855 characters), or for ``split="test"`` the last 10% (111,539), which students' data
    lacks (DatasetWithheldError)."""
    _check_split(split)
    text = data_path(SHAKESPEARE_FILE).read_text(encoding="utf-8")
    if labels_withheld():  # students' file holds the training text alone
        if split == "test":
            raise DatasetWithheldError("the held-out last 10% of Tiny Shakespeare")
        return text
    boundary = len(text) - len(text) * SHAKESPEARE_HELD_OUT_PERCENT // 100
    return text[:boundary] if split == "train" else text[boundary:]


def _stable_hash(key: str) -> str:
    """sha256 of ``key``: the same on every machine and process."""
    return hashlib.sha256(key.encode()).hexdigest()


def _held_out_order(key: str) -> str:
    """Sort key of a held-out item, by its file name: unrelated to its label, and to the hash that
    chose it (held-out photos are each class's top hashes; ordered by those, classes would bunch)."""
    return _stable_hash(f"held-out order:{key}")


def _hash_percent(key: str) -> int:
    """A bucket in 0..99 from a stable hash of ``key``: the same on every machine and process."""
    return int(_stable_hash(key)[:8], 16) % 100


ENRON_FILES = ("enron-spam/ham.txt.gz", "enron-spam/spam.txt.gz", "enron-spam/enron_index.tsv.gz")
ENRON_HELD_OUT = "enron-spam/held-out.jsonl.gz"
"""The students' file of held-out emails (text and mailbox, in the loader's order, unlabelled)."""


def load_enron_spam(split: str = "train") -> pd.DataFrame:
    """Enron-Spam emails, one row each: ``text`` (str), ``label`` (int64, 1 = spam) and ``client``
    (str, the mailbox owner ``enron1`` .. ``enron6``).

    ``split="train"`` has 27,078 emails (ham, then spam), ``split="test"`` the 6,637 held out by
    the kit (a fixed ~20% of every mailbox, chosen by a hash of the email's file name) in the order
    of a hash of their mailbox and text, which students have anyway (the file name, which holds the
    class, would make the order an answer key to anyone who can guess the names); in students' data
    their ``label`` is NaN, and the training emails whose text is a held-out one's (1,233) are left
    out.
    """
    _check_split(split)
    if split == "test" and labels_withheld():
        with gzip.open(data_path(ENRON_HELD_OUT), "rt", encoding="utf-8") as stream:
            held_out = pd.DataFrame([json.loads(line) for line in stream], columns=["text", "client"])
        return held_out.assign(label=np.nan)[["text", "label", "client"]]
    index = pd.read_csv(data_path(ENRON_FILES[2]), sep="\t")
    frames = []
    for label_name, relpath in zip(("ham", "spam"), ENRON_FILES):
        texts = enron_lines(relpath)
        rows = index[index["class"] == label_name].sort_values("line")
        rows = rows[enron_held_out_rows(rows) == (split == "test")]
        frames.append(pd.DataFrame({
            "text": [texts[line - 1] for line in rows["line"]],
            "label": np.int64(label_name == "spam"),
            "client": rows["source"].str.split("/").str[0].to_numpy(),
            "source": rows["source"].to_numpy(),
        }))
    emails = pd.concat(frames, ignore_index=True)
    if split == "test":
        order = pd.DataFrame({"content": (emails["client"] + "\n" + emails["text"]).map(_held_out_order),
                              "name": emails["source"].map(_held_out_order)})  # a tie: the same text twice
        emails = emails.loc[order.sort_values(["content", "name"]).index].reset_index(drop=True)
    return emails.drop(columns="source")


def enron_lines(relpath: str) -> list[str]:
    """The emails of one Enron-Spam class file, one per line (the index numbers lines from 1)."""
    with gzip.open(data_path(relpath), "rt", encoding="utf-8", errors="ignore", newline="") as stream:
        return [line.rstrip("\r\n") for line in stream]


def enron_held_out_rows(index: pd.DataFrame) -> pd.Series:
    """Which rows of the Enron-Spam index the kit holds out (by a stable hash of the email's file name)."""
    return index["source"].map(lambda source: _hash_percent(source) < ENRON_HELD_OUT_PERCENT)


AMES_FILE = "housing/ames/AmesHousing.txt"


def ames_held_out_rows(frame: pd.DataFrame) -> pd.Series:
    """Which rows of the Ames file the kit holds out (by a stable hash of the parcel id)."""
    return frame["PID"].map(lambda pid: _hash_percent(str(pid)) < AMES_HELD_OUT_PERCENT)


def load_ames(split: str = "train") -> pd.DataFrame:
    """Ames, Iowa house sales (De Cock 2011): one row per sale, 82 columns as in the data
    documentation, including the target ``SalePrice`` (int64, dollars).

    The five houses above 4000 sq ft of living area are removed, as the data's author
    recommends. ``split="train"`` has 2,352 rows, ``split="test"`` (held out by the kit) 573,
    whose ``SalePrice`` is missing (NaN) in students' data.
    """
    _check_split(split)
    frame = pd.read_csv(data_path(AMES_FILE), sep="\t")
    frame = frame[frame["Gr Liv Area"] <= AMES_MAX_LIVING_AREA]
    frame = frame[ames_held_out_rows(frame) == (split == "test")].reset_index(drop=True)
    if frame["SalePrice"].notna().all():  # the withheld prices make the column float in students' data
        frame["SalePrice"] = frame["SalePrice"].astype(np.int64)
    return frame


def load_california_housing() -> pd.DataFrame:
    """California housing (Hands-On ML edition): 20640 rows, 10 columns, target
    ``median_house_value``; ``total_bedrooms`` has 207 missing values."""
    return pd.read_csv(data_path("housing/housing.csv"))


KAGGLE_FILE = "housing/kaggle-house-prices/train.csv"


def load_kaggle_house_prices() -> pd.DataFrame:
    """Kaggle "House Prices" train.csv: 1460 rows, 81 columns including ``SalePrice``. Its houses
    are Ames houses (De Cock's data), so students' data lacks the 293 rows that match a house the
    kit holds out of ``load_ames`` (292 are such houses, one is the twin of one): 1167 rows left."""
    return pd.read_csv(data_path(KAGGLE_FILE))


FLOWER_ARCHIVE = "flowers/flower_photos_subset.tgz"
FLOWER_PHOTOS = "flowers/flower_photos"
FLOWERS_HELD_OUT_FOLDER = "held-out"
"""Where the students' photo folder keeps the held-out photos, numbered in the loader's order."""


def _flower_held_out(file_names: list[str]) -> set[str]:
    order = sorted(file_names, key=_stable_hash)
    return set(order[len(order) - len(order) * FLOWERS_HELD_OUT_PERCENT // 100:])


def load_flower_photos(split: str = "train") -> tuple[list[str], np.ndarray]:
    """JPEG file paths and int64 labels (indices into ``FLOWER_CLASSES``): the training photos class
    by class, or the held-out ones in a fixed order unrelated to their class (labels None in graded
    notebooks).

    The held-out ``split="test"`` is a fixed 20% of each class (40 photos), chosen by the sha256
    of the file name, as in the data README's linear-probe check.
    """
    _check_split(split)
    folder = flower_photos_dir()
    if labels_withheld():  # students' class folders hold the training photos alone
        if split == "test":
            return sorted(str(path) for path in (folder / FLOWERS_HELD_OUT_FOLDER).glob("*.jpg")), None
    photos = []
    for label, name in enumerate(FLOWER_CLASSES):
        files = sorted(path.name for path in (folder / name).glob("*.jpg"))
        held_out = set() if labels_withheld() else _flower_held_out(files)
        photos += [(str(folder / name / file), label) for file in files if (file in held_out) == (split == "test")]
    if split == "test":
        photos.sort(key=lambda photo: _held_out_order(Path(photo[0]).name))
    return [path for path, _ in photos], np.array([label for _, label in photos], dtype=np.int64)


def load_mobilenet_v2_base(image_size: int = 160):
    """ImageNet-pretrained MobileNetV2 without its classifier, for (image_size, image_size, 3)
    inputs preprocessed to [-1, 1]; outputs feature maps (None, s, s, 1280), s = image_size / 32.

    Built from the course's weights file (the no-top weights fit any input size), so nothing is
    downloaded.
    """
    import keras  # here, so that the data commands do not start TensorFlow

    base = keras.applications.MobileNetV2(input_shape=(image_size, image_size, 3), include_top=False,
                                          weights=None)
    base.load_weights(mobilenet_v2_weights_path())
    return base


def flower_photos_dir() -> Path:
    """Folder ``flower_photos/`` with 5 class folders of 200 JPEG photos each (CC-BY 2.0, see its
    LICENSE.txt); extracted from the course archive on first use. (In students' data the class
    folders hold the training photos, and ``held-out/`` the others.)"""
    folder = data_dir() / FLOWER_PHOTOS
    if not (folder / "LICENSE.txt").exists():
        with tarfile.open(data_path(FLOWER_ARCHIVE), "r:gz") as tar:
            safe_extract(tar, folder.parent)
    return folder


def mobilenet_v2_weights_path() -> Path:
    """ImageNet weights of MobileNetV2 (alpha 1.0, no top), for
    ``keras.applications.MobileNetV2(weights=None, include_top=False).load_weights(path)``."""
    return data_path("keras-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
