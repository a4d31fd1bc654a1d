"""The course data folder: fetching, verifying and loading."""

import functools
import gzip
import hashlib
import http.server
import io
import tarfile
import threading

import numpy as np
import pandas as pd
import pytest

from autograder import data
from autograder.data.view import without_metadata
from autograder.errors import DatasetError, DatasetNotFoundError, DatasetWithheldError
from coursekit.data import store
from coursekit.data.manifest import DataFile

CONTENT = {"small/a.txt": b"alpha\n", "small/b.bin": bytes(range(256))}


def manifest_for(files: dict[str, bytes], url_base: str | None = None) -> tuple[DataFile, ...]:
    return tuple(DataFile(path, hashlib.sha256(body).hexdigest(), len(body),
                          f"{url_base}/{path}" if url_base else None) for path, body in files.items())


def write_files(folder, files: dict[str, bytes]):
    for path, body in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(body)
    return folder


@pytest.fixture
def mirror(tmp_path):
    return write_files(tmp_path / "mirror", CONTENT)


@pytest.fixture
def http_server(mirror):
    """Serves the mirror folder on loopback, as a public download site would."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# --- fetch and verify -------------------------------------------------------------------------

def test_fetch_copies_every_file_from_a_mirror_folder_and_checks_it(data_folder, mirror):
    results = data.fetch(mirror=str(mirror), manifest=manifest_for(CONTENT))
    assert [(r.path, r.action) for r in results] == [("small/a.txt", "copied"), ("small/b.bin", "copied")]
    assert (data_folder / "small/b.bin").read_bytes() == CONTENT["small/b.bin"]
    assert data.verify(manifest_for(CONTENT)) == list(CONTENT)


def test_fetch_leaves_intact_files_alone(data_folder, mirror):
    data.fetch(mirror=str(mirror), manifest=manifest_for(CONTENT))
    again = data.fetch(mirror=str(mirror), manifest=manifest_for(CONTENT))
    assert {r.action for r in again} == {"present"}


def test_fetch_reads_the_mirror_from_the_environment(data_folder, mirror, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(mirror))
    assert {r.action for r in data.fetch(manifest=manifest_for(CONTENT))} == {"copied"}


def test_fetch_downloads_from_an_http_mirror(data_folder, http_server):
    results = data.fetch(mirror=http_server, manifest=manifest_for(CONTENT))
    assert {r.action for r in results} == {"downloaded"}
    assert (data_folder / "small/a.txt").read_bytes() == b"alpha\n"


def test_without_a_mirror_fetch_downloads_each_file_from_its_public_address(data_folder, http_server):
    results = data.fetch(manifest=manifest_for(CONTENT, url_base=http_server))
    assert {r.action for r in results} == {"downloaded"}
    assert data.verify(manifest_for(CONTENT)) == list(CONTENT)


def test_a_corrupt_download_is_refused_named_and_leaves_nothing_behind(data_folder, mirror):
    manifest = manifest_for(CONTENT)
    (mirror / "small/a.txt").write_bytes(b"tampered\n")
    with pytest.raises(DatasetError) as raised:
        data.fetch(mirror=str(mirror), manifest=manifest)
    message = str(raised.value)
    assert message.startswith("1 of 2 data files could not be fetched:\n- dataset file 'small/a.txt' has sha256 ")
    assert f"expected {manifest[0].sha256}" in message
    assert sorted(p.name for p in (data_folder / "small").iterdir()) == ["b.bin"], "the good file is kept"


def test_a_file_with_no_public_address_asks_for_a_mirror(data_folder):
    with pytest.raises(DatasetError, match=r"'small/a.txt' has no public download .*--mirror DIR_OR_URL"):
        data.fetch(manifest=manifest_for({"small/a.txt": b"x"}))


def test_an_unreachable_address_is_named(data_folder):
    manifest = (DataFile("small/a.txt", "0" * 64, 1, "http://127.0.0.1:9/small/a.txt"),)
    with pytest.raises(DatasetError, match=r"'small/a.txt' could not be downloaded from http://127.0.0.1:9/small/a.txt"):
        data.fetch(manifest=manifest)


def test_verify_names_every_missing_or_corrupt_file(data_folder):
    write_files(data_folder, {"small/a.txt": b"changed"})
    with pytest.raises(DatasetError) as raised:
        data.verify(manifest_for(CONTENT))
    message = str(raised.value)
    assert message.startswith("2 of 2 data files failed verification:")
    assert "'small/a.txt' has sha256" in message and "'small/b.bin' is not in the course data folder" in message


def test_a_missing_file_error_names_the_file_and_the_fetch_command(data_folder, monkeypatch):
    with pytest.raises(DatasetNotFoundError) as raised:
        data.load_shakespeare()
    assert str(raised.value) == (
        f"dataset file 'tinyshakespeare/input.txt' is not in the course data folder {data_folder}. "
        "Fetch it with `autograder data fetch` (add `--mirror DIR_OR_URL` to copy from the course's mirror), "
        "or point COURSE_DATA_DIR at a folder that holds it.")
    monkeypatch.setattr(store.importlib.util, "find_spec", lambda name: None)  # a student's machine: no grader
    with pytest.raises(DatasetNotFoundError, match=r"Fetch it with `coursekit data fetch` \(add `--mirror DIR_OR_URL`"):
        data.load_shakespeare()


def test_the_manifest_lists_each_file_of_the_shared_data_readme_once():
    paths = [entry.path for entry in data.MANIFEST]
    assert len(paths) == len(set(paths)) == 21
    assert {entry.dataset for entry in data.MANIFEST} == {
        "mnist", "fashion-mnist", "imdb", "tinyshakespeare", "enron-spam", "housing", "keras-models", "flowers"}


# --- loaders on tiny fixtures -----------------------------------------------------------------

def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_mnist_loader_reads_idx_files_into_uint8_arrays(data_folder):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    write_files(data_folder, {"mnist/t10k-images-idx3-ubyte.gz": idx_bytes(images),
                              "mnist/t10k-labels-idx1-ubyte.gz": idx_bytes(np.array([7, 2, 1]))})
    x, y = data.load_mnist("test")
    assert x.dtype == y.dtype == np.uint8 and x.shape == (3, 28, 28) and y.tolist() == [7, 2, 1]
    assert np.array_equal(x, images)


def test_loaders_refuse_an_unknown_split(data_folder):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\), got 'validation'"):
        data.load_fashion_mnist("validation")


def test_ames_held_out_split_is_fixed_disjoint_and_drops_the_huge_houses(data_folder):
    rows = ["Order\tPID\tGr Liv Area\tSalePrice"] + [f"{i}\t{1000 + i}\t{1000 + i}\t{100000 + i}" for i in range(200)]
    rows.append("201\t9999\t5000\t160000")  # a > 4000 sq ft partial sale: removed
    write_files(data_folder, {"housing/ames/AmesHousing.txt": "\n".join(rows).encode()})
    train, test = data.load_ames("train"), data.load_ames("test")
    assert len(train) + len(test) == 200 and not set(train.PID) & set(test.PID)
    assert 20 <= len(test) <= 60, "about a fifth is held out"
    assert list(data.load_ames("test").PID) == list(test.PID), "the same houses every time"
    assert train.SalePrice.dtype == np.int64


# --- students' data and the grading view: held-out answers withheld --------------------------------------------------

def test_graded_notebooks_see_the_test_images_but_not_their_labels(data_folder, inside_the_sandbox):
    write_files(data_folder, {f"{dataset}/{name}": idx_bytes(np.zeros((2, 28, 28) if "images" in name else 2))
                              for dataset in ("mnist", "fashion-mnist")
                              for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")})
    write_files(data_folder, {"keras-models/weights.h5": b"{}"})
    assert not data.labels_withheld()
    view = inside_the_sandbox()
    assert "mnist/t10k-labels-idx1-ubyte.gz" not in view and "fashion-mnist/t10k-labels-idx1-ubyte.gz" not in view
    assert view["keras-models"] == data_folder / "keras-models", "a folder with nothing withheld is shown whole"
    assert data.labels_withheld()
    images, labels = data.load_mnist("test")
    assert images.shape == (2, 28, 28) and labels is None
    assert data.load_fashion_mnist("train")[1].shape == (2,)


def test_imdb_loader_reads_labelled_reviews_of_one_split(data_folder):
    write_files(data_folder, {"imdb/aclImdb_v1.tar.gz": imdb_archive()})
    texts, labels = data.load_imdb_reviews("train")
    assert texts == ["great", "awful"] and labels.tolist() == [1, 0] and labels.dtype == np.int64
    texts, labels = data.load_imdb_reviews("test")
    assert all(text.startswith(("neg", "pos")[label]) for text, label in zip(texts, labels))
    assert labels.tolist() != sorted(labels), "test reviews do not come sorted by label"


def jpeg(shade: int, keywords: str = "") -> bytes:
    """A small JPEG photo; with ``keywords``, an XMP segment naming them, as some course photos have."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 255 - shade, 90)).save(buffer, "JPEG")
    photo = buffer.getvalue()
    if not keywords:
        return photo
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<dc:subject>" + keywords.encode() + b"</dc:subject>"
    return photo[:2] + b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp + photo[2:]


def flower_archive() -> bytes:
    photos = {f"flower_photos/{flower}/{i}_n.jpg": jpeg(25 * i, keywords=f"{flower} in spring")
              for flower in data.FLOWER_CLASSES for i in range(10)}
    credits = "".join(f"{name.removeprefix('flower_photos/')} CC-BY by someone\n" for name in photos)
    return tar_gz({"flower_photos/LICENSE.txt": ("All images are CC-BY.\n\n" + credits).encode(), **photos})


def test_flower_held_out_split_takes_a_fixed_fifth_of_each_class(data_folder):
    write_files(data_folder, {"flowers/flower_photos_subset.tgz": flower_archive()})
    (train, train_labels), (test, test_labels) = data.load_flower_photos("train"), data.load_flower_photos("test")
    assert np.bincount(train_labels).tolist() == [8] * 5 and np.bincount(test_labels).tolist() == [2] * 5
    assert not set(train) & set(test) and all(f"/{data.FLOWER_CLASSES[label]}/" in path
                                              for path, label in zip(train + test, [*train_labels, *test_labels]))
    assert data.load_flower_photos("test")[0] == test, "the same photos are held out every time"
    assert test_labels.tolist() != sorted(test_labels), "held-out photos do not come sorted by class"


def enron_files(mailboxes: dict[str, tuple[int, int]]) -> dict[str, bytes]:
    """An Enron-Spam folder whose mailboxes have (ham, spam) emails named by mailbox, class and number."""
    lines = {"ham": [], "spam": []}
    index = ["class\tline\tsource"]
    for mailbox, counts in mailboxes.items():
        for label_name, count in zip(("ham", "spam"), counts):
            for number in range(count):
                lines[label_name].append(f"Subject: {mailbox} {label_name} {number}")
                index.append(f"{label_name}\t{len(lines[label_name])}\t{mailbox}/{label_name}/{number}.txt")
    return {"enron-spam/ham.txt.gz": gzip.compress("\r\n".join(lines["ham"]).encode() + b"\r\n"),
            "enron-spam/spam.txt.gz": gzip.compress("\r\n".join(lines["spam"]).encode() + b"\r\n"),
            "enron-spam/enron_index.tsv.gz": gzip.compress("\n".join(index).encode() + b"\n")}


def test_enron_loader_labels_each_email_and_names_its_mailbox_owner(data_folder):
    write_files(data_folder, enron_files({"enron1": (60, 40), "enron2": (30, 70)}))
    emails = pd.concat([data.load_enron_spam("train"), data.load_enron_spam("test")])
    assert len(emails) == 200 and list(emails.columns) == ["text", "label", "client"]
    assert all(text == f"Subject: {client} {('ham', 'spam')[label]} {text.split()[-1]}"
               for text, label, client in emails.itertuples(index=False))
    assert emails.label.dtype == np.int64


def test_enron_held_out_split_is_a_fixed_fifth_of_every_mailbox(data_folder):
    write_files(data_folder, enron_files({"enron1": (150, 50), "enron2": (50, 150)}))
    train, test = data.load_enron_spam("train"), data.load_enron_spam("test")
    assert not set(train.text) & set(test.text)
    assert all(25 <= count <= 55 for count in test.client.value_counts()), "about a fifth of each mailbox"
    assert data.load_enron_spam("test").text.tolist() == test.text.tolist(), "the same emails every time"


def test_graded_notebooks_see_the_held_out_houses_without_their_prices(data_folder, inside_the_sandbox):
    # Real parcel ids are written with a leading zero, as here.
    rows = ["Order\tPID\tGr Liv Area\tAlley\tSalePrice"] + [f"{i}\t0{1000 + i}\t{1000 + i}\t\t{100000 + i}" for i in range(200)]
    write_files(data_folder, {"housing/ames/AmesHousing.txt": "\n".join(rows).encode()})
    assert_only_the_answers_are_withheld(data.load_ames, "SalePrice", inside_the_sandbox)


def assert_only_the_answers_are_withheld(load, answers: str, inside_the_sandbox) -> None:
    """In the sandbox, ``load("train")`` is unchanged and ``load("test")`` lacks only its ``answers`` column."""
    train, test = load("train"), load("test")
    inside_the_sandbox()
    pd.testing.assert_frame_equal(load("train"), train)
    seen = load("test")
    assert seen[answers].isna().all()
    pd.testing.assert_frame_equal(seen.drop(columns=answers), test.drop(columns=answers))


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def imdb_archive() -> bytes:
    """Two training reviews, 40 test reviews (20 of each label, negative first as in the archive)."""
    test = {f"aclImdb/test/{label}/{number}_{rating}.txt": f"{label} review {number}".encode()
            for label, rating in (("neg", 2), ("pos", 9)) for number in range(20)}
    return tar_gz({"aclImdb/train/pos/1_9.txt": b"great", "aclImdb/train/neg/2_1.txt": b"awful", **test,
                   "aclImdb/train/unsupBow.feat": b"x", "aclImdb/test/urls_pos.txt": b"http://"})


def test_graded_notebooks_see_the_test_reviews_unlabelled_in_the_same_order(data_folder, inside_the_sandbox):
    write_files(data_folder, {"imdb/aclImdb_v1.tar.gz": imdb_archive()})
    train, (test_texts, _) = data.load_imdb_reviews("train"), data.load_imdb_reviews("test")
    inside_the_sandbox()
    texts, labels = data.load_imdb_reviews("test")
    assert texts == test_texts and labels is None
    seen = data.load_imdb_reviews("train")
    assert seen[0] == train[0] and seen[1].tolist() == train[1].tolist()
    with tarfile.open(data.data_dir() / "imdb/aclImdb_v1.tar.gz") as archive:
        assert not any("/pos/" in name or "/neg/" in name or "urls" in name for name in archive.getnames()
                       if name.startswith("aclImdb/test")), "no test file name gives its label away"


def test_graded_notebooks_see_the_held_out_emails_without_labels(data_folder, inside_the_sandbox):
    write_files(data_folder, enron_files({"enron1": (60, 40), "enron2": (30, 70)}))
    test = data.load_enron_spam("test")
    assert_only_the_answers_are_withheld(data.load_enron_spam, "label", inside_the_sandbox)
    for label_name in ("ham", "spam"):
        shown = gzip.decompress((data.data_dir() / f"enron-spam/{label_name}.txt.gz").read_bytes()).decode()
        assert not set(test.text) & set(shown.split("\r\n")), f"no held-out email is left in {label_name}.txt.gz"


def test_graded_notebooks_see_the_held_out_photos_without_class_or_metadata(data_folder, inside_the_sandbox):
    write_files(data_folder, {"flowers/flower_photos_subset.tgz": flower_archive()})
    (train, train_labels), (test, _) = data.load_flower_photos("train"), data.load_flower_photos("test")
    inside_the_sandbox()
    seen, labels = data.load_flower_photos("test")
    assert labels is None and [path.rsplit("/", 1)[1] for path in seen] == [f"{i:03d}.jpg" for i in range(10)]
    for shown, original in zip(seen, test):
        assert open(shown, "rb").read() == without_metadata(open(original, "rb").read())
        assert not any(flower.encode() in open(shown, "rb").read() for flower in data.FLOWER_CLASSES)
    seen_train, seen_labels = data.load_flower_photos("train")
    assert [p.rsplit("/", 2)[1:] for p in seen_train] == [p.rsplit("/", 2)[1:] for p in train]
    assert seen_labels.tolist() == train_labels.tolist()
    credits = (data.flower_photos_dir() / "LICENSE.txt").read_text()
    assert not any(path.split("/", -1)[-1] in credits for path in test), "no credit line names a held-out photo's class"


def test_graded_notebooks_cannot_read_the_held_out_text(data_folder, inside_the_sandbox):
    write_files(data_folder, {"tinyshakespeare/input.txt": b"".join(b"line %d\n" % i for i in range(100))})
    train = data.load_shakespeare("train")
    inside_the_sandbox()
    assert data.load_shakespeare("train") == train
    with pytest.raises(DatasetWithheldError, match=r"^the held-out last 10% of Tiny Shakespeare is withheld from "
                                                   r"students' notebooks: the grader measures the model on it$"):
        data.load_shakespeare("test")


def test_stripping_metadata_keeps_the_compressed_photo_as_it_was():
    plain = jpeg(100)
    assert without_metadata(jpeg(100, keywords="daisy")) == without_metadata(plain) == plain


def test_stand_ins_are_made_once_per_version_of_their_source(data_folder, tmp_path):
    write_files(data_folder, {"tinyshakespeare/input.txt": b"To be, or not to be\n" * 20})
    first = data.grading_view(tmp_path / "view")["tinyshakespeare/input.txt"]
    modified = first.stat().st_mtime_ns
    assert data.grading_view(tmp_path / "view")["tinyshakespeare/input.txt"] == first
    assert first.stat().st_mtime_ns == modified, "the second view reuses the stand-in"
    write_files(data_folder, {"tinyshakespeare/input.txt": b"Now is the winter\n" * 20})  # fetched again
    again = data.grading_view(tmp_path / "view")["tinyshakespeare/input.txt"]
    assert again != first and again.read_text().startswith("Now is the winter")


# --- the real course data (fetched by `make setup`) -----------------------------------------

@pytest.mark.slow
def test_the_fetched_course_data_matches_the_manifest():
    assert len(data.verify()) == 21


@pytest.mark.slow
def test_real_loaders_give_the_documented_shapes():
    x, y = data.load_mnist("train")
    assert x.shape == (60000, 28, 28) and np.bincount(y).tolist()[:3] == [5923, 6742, 5958]
    x, y = data.load_fashion_mnist("test")
    assert x.shape == (10000, 28, 28) and np.bincount(y).tolist() == [1000] * 10
    texts, labels = data.load_imdb_reviews("test")
    assert len(texts) == 25000 and labels.sum() == 12500
    assert len(data.load_imdb_word_index()) == 88584
    train, test = data.load_shakespeare("train"), data.load_shakespeare("test")
    assert (len(train), len(test)) == (1003855, 111539) and len(set(train)) == 65
    assert test.startswith("\n\nGREMIO:\nGood morrow") and test.endswith("Whiles thou art waking.\n")
    emails, held_out = data.load_enron_spam("train"), data.load_enron_spam("test")
    assert (len(emails), len(held_out)) == (27078, 6637) and emails.label.sum() + held_out.label.sum() == 17170
    assert sorted(held_out.client.unique()) == [f"enron{number}" for number in range(1, 7)]
    assert (len(data.load_ames("train")), len(data.load_ames("test"))) == (2352, 573)
    assert data.load_california_housing().shape == (20640, 10)
    assert data.load_kaggle_house_prices().shape == (1460, 81)
    photos = data.flower_photos_dir()
    assert sorted(len(list((photos / c).glob("*.jpg"))) for c in
                  ("daisy", "dandelion", "roses", "sunflowers", "tulips")) == [200] * 5
    paths, labels = data.load_flower_photos("train")
    assert len(paths) == 800 and np.bincount(labels).tolist() == [160] * 5
    assert len(data.load_flower_photos("test")[0]) == 200
    assert data.mobilenet_v2_weights_path().stat().st_size == 9421704
    base = data.load_mobilenet_v2_base(96)
    assert base.output_shape == (None, 3, 3, 1280) and base.count_params() == 2_257_984
