"""Course datasets: the data folder (fetch, verify) and one loader per dataset."""

from .loaders import (
    AMES_HELD_OUT_PERCENT,
    AMES_MAX_LIVING_AREA,
    ENRON_HELD_OUT_PERCENT,
    FASHION_MNIST_CLASSES,
    FLOWER_CLASSES,
    FLOWERS_HELD_OUT_PERCENT,
    SHAKESPEARE_HELD_OUT_PERCENT,
    flower_photos_dir,
    load_ames,
    load_california_housing,
    load_enron_spam,
    load_fashion_mnist,
    load_flower_photos,
    load_imdb_reviews,
    load_imdb_word_index,
    load_kaggle_house_prices,
    load_mnist,
    load_mobilenet_v2_base,
    load_shakespeare,
    mobilenet_v2_weights_path,
    read_idx,
)
from .manifest import STUDENT_MANIFEST, WITHHELD_MARKER, DataFile
from .store import FetchResult, data_dir, data_path, fetch, labels_withheld, sha256_of, verify

__all__ = [
    "AMES_HELD_OUT_PERCENT", "AMES_MAX_LIVING_AREA", "ENRON_HELD_OUT_PERCENT", "FASHION_MNIST_CLASSES", "FLOWER_CLASSES",
    "FLOWERS_HELD_OUT_PERCENT", "SHAKESPEARE_HELD_OUT_PERCENT",
    "STUDENT_MANIFEST", "WITHHELD_MARKER", "DataFile", "FetchResult",
    "data_dir", "data_path", "fetch", "verify", "sha256_of", "read_idx", "labels_withheld",
    "load_mnist", "load_fashion_mnist", "load_imdb_reviews", "load_imdb_word_index",
    "load_shakespeare", "load_enron_spam", "load_ames", "load_california_housing",
    "load_kaggle_house_prices", "flower_photos_dir", "load_flower_photos", "mobilenet_v2_weights_path", "load_mobilenet_v2_base",
]
