"""One loader per course dataset, reading only the course data folder (never the network).

Held-out splits: where a dataset has an official test split (MNIST, Fashion-MNIST, IMDB) it is
``split="test"``. The Ames houses, the flower photos and the Enron emails have none, so the kit
holds back a fixed 20% (chosen by a stable hash of the parcel id or file name, identical on every
machine) as ``split="test"``; Tiny Shakespeare, one continuous text, holds back its last 10%.
Assignments hand students only ``split="train"`` and the checks re-measure models on
``split="test"``. In graded notebooks some held-out labels are withheld (`view`): the MNIST and
Fashion-MNIST test labels are None there, and the held-out Ames prices are missing.
"""

import gzip
import hashlib
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

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
    10000 of each for ``split="test"`` (labels None in graded notebooks)."""
    return _load_idx_pair("mnist", split)


def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: same shapes and dtypes as ``load_mnist``; labels index ``FASHION_MNIST_CLASSES``."""
    return _load_idx_pair("fashion-mnist", split)


def load_imdb_reviews(split: str = "train") -> tuple[list[str], np.ndarray]:
    """Large Movie Review Dataset: 25000 review texts (str) and labels int64 (25000,), 1 = positive.

    Reviews are in archive order (sorted by file name within neg/ then pos/); shuffle before use.
    """
    _check_split(split)
    pattern = re.compile(rf"aclImdb/{split}/(pos|neg)/\d+_\d+\.txt$")
    texts, labels = [], []
    with tarfile.open(data_path("imdb/aclImdb_v1.tar.gz"), "r:gz") as archive:
        for member in archive:
            match = pattern.match(member.name)
            if match:
                texts.append(archive.extractfile(member).read().decode("utf-8"))
                labels.append(int(match.group(1) == "pos"))
    return texts, np.array(labels, dtype=np.int64)


def load_imdb_word_index() -> dict[str, int]:
    """The Keras IMDB word index: 88584 words to their frequency rank (1 = most frequent)."""
    return json.loads(data_path("imdb/imdb_word_index.json").read_text(encoding="utf-8"))


def load_shakespeare(split: str = "train") -> str:
    """Tiny Shakespeare (1,115,394 characters, 65 distinct): its first 90% as one string
    (1,003,855 characters), or for ``split="test"`` the last 10% (111,539)."""
    _check_split(split)
    text = data_path("tinyshakespeare/input.txt").read_text(encoding="utf-8")
    boundary = len(text) - len(text) * SHAKESPEARE_HELD_OUT_PERCENT // 100
    return text[:boundary] if split == "train" else text[boundary:]


def _hash_percent(key: str) -> int:
    """A bucket in 0..99 from a stable hash of ``key``: the same on every machine and process."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100


def load_enron_spam(split: str = "train") -> pd.DataFrame:
    """Enron-Spam emails, one row each: ``text`` (str), ``label`` (int64, 1 = spam) and ``client``
    (str, the mailbox owner ``enron1`` .. ``enron6``).

    ``split="train"`` has 27,078 emails, ``split="test"`` the 6,637 held out by the kit (a fixed
    ~20% of every mailbox, chosen by a hash of the email's file name).
    """
    _check_split(split)
    index = pd.read_csv(data_path("enron-spam/enron_index.tsv.gz"), sep="\t")
    frames = []
    for label_name in ("ham", "spam"):
        with gzip.open(data_path(f"enron-spam/{label_name}.txt.gz"), "rt", encoding="utf-8",
                       errors="ignore", newline="") as stream:
            texts = [line.rstrip("\r\n") for line in stream]
        rows = index[index["class"] == label_name].sort_values("line")
        held_out = rows["source"].map(lambda source: _hash_percent(source) < ENRON_HELD_OUT_PERCENT)
        rows = rows[held_out == (split == "test")]
        frames.append(pd.DataFrame({
            "text": [texts[line - 1] for line in rows["line"]],
            "label": np.int64(label_name == "spam"),
            "client": rows["source"].str.split("/").str[0].to_numpy(),
        }))
    return pd.concat(frames, ignore_index=True)


AMES_FILE = "housing/ames/AmesHousing.txt"


def ames_held_out_rows(frame: pd.DataFrame) -> pd.Series:
    """Which rows of the Ames file the kit holds out (by a stable hash of the parcel id)."""
    return frame["PID"].map(lambda pid: _hash_percent(str(pid)) < AMES_HELD_OUT_PERCENT)


def load_ames(split: str = "train") -> pd.DataFrame:
    """Ames, Iowa house sales (De Cock 2011): one row per sale, 82 columns as in the data
    documentation, including the target ``SalePrice`` (int64, dollars).

    The five houses above 4000 sq ft of living area are removed, as the data's author
    recommends. ``split="train"`` has 2,352 rows, ``split="test"`` (held out by the kit) 573,
    whose ``SalePrice`` is missing (NaN) in graded notebooks.
    """
    _check_split(split)
    frame = pd.read_csv(data_path(AMES_FILE), sep="\t")
    frame = frame[frame["Gr Liv Area"] <= AMES_MAX_LIVING_AREA]
    frame = frame[ames_held_out_rows(frame) == (split == "test")].reset_index(drop=True)
    if frame["SalePrice"].notna().all():  # the withheld prices make the column float in graded notebooks
        frame["SalePrice"] = frame["SalePrice"].astype(np.int64)
    return frame


def load_california_housing() -> pd.DataFrame:
    """California housing (Hands-On ML edition): 20640 rows, 10 columns, target
    ``median_house_value``; ``total_bedrooms`` has 207 missing values."""
    return pd.read_csv(data_path("housing/housing.csv"))


def load_kaggle_house_prices() -> pd.DataFrame:
    """Kaggle "House Prices" train.csv: 1460 rows, 81 columns including ``SalePrice``."""
    return pd.read_csv(data_path("housing/kaggle-house-prices/train.csv"))


def _flower_held_out(file_names: list[str]) -> set[str]:
    order = sorted(file_names, key=lambda name: hashlib.sha256(name.encode()).hexdigest())
    return set(order[len(order) - len(order) * FLOWERS_HELD_OUT_PERCENT // 100:])


def load_flower_photos(split: str = "train") -> tuple[list[str], np.ndarray]:
    """JPEG file paths and int64 labels (indices into ``FLOWER_CLASSES``), class by class.

    The held-out ``split="test"`` is a fixed 20% of each class (40 photos), chosen by the sha256
    of the file name, as in the data README's linear-probe check.
    """
    _check_split(split)
    folder = flower_photos_dir()
    paths, labels = [], []
    for label, name in enumerate(FLOWER_CLASSES):
        files = sorted(path.name for path in (folder / name).glob("*.jpg"))
        held_out = _flower_held_out(files)
        chosen = [file for file in files if (file in held_out) == (split == "test")]
        paths += [str(folder / name / file) for file in chosen]
        labels += [label] * len(chosen)
    return paths, np.array(labels, dtype=np.int64)


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
    LICENSE.txt); extracted from the course archive on first use."""
    archive = data_path("flowers/flower_photos_subset.tgz")
    folder = data_dir() / "flowers" / "flower_photos"
    if not (folder / "LICENSE.txt").exists():
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(folder.parent, filter="data")
    return folder


def mobilenet_v2_weights_path() -> Path:
    """ImageNet weights of MobileNetV2 (alpha 1.0, no top), for
    ``keras.applications.MobileNetV2(weights=None, include_top=False).load_weights(path)``."""
    return data_path("keras-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
