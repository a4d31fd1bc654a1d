"""The evidence a graded notebook's collectors saved (`coursekit.evidence`), read back by the grader.

The notebook wrote these files with the student's rights, so nothing in them is trusted: no
pickles, no code, no links or special files, only arrays of numbers or strings, capped in size
both as stored and as unpacked (a small archive can unpack to gigabytes). The grader's judges
then decide what the evidence is worth.
"""

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from coursekit.evidence import EXPORTS, MODEL_CONFIG, PLAIN_KINDS, TOKEN_KEY

from .untrusted import UnreadableFile, read_regular

MAX_BYTES = 200 * 2**20
"""The most one export may hold, stored or unpacked."""
MAX_STRING_CHARACTERS = 100_000
"""The longest string an export may hold (the longest the course's collectors save: a few thousand)..."""
MAX_MODEL_CONFIG_CHARACTERS = 1_000_000
"""...but for a model's Keras config (`coursekit.evidence.model_arrays`; MobileNetV2's is 160,000),
which only `autograder.models` reads."""


class ExportError(Exception):
    """The notebook's exported arrays are missing or unusable."""


def load(folder: Path, name: str, token: str | None = None, written: dict | None = None) -> dict[str, np.ndarray]:
    """The arrays the collector ``name`` exported in the notebook's working ``folder``; ExportError if
    missing, oversized or not plain numbers or strings. With ``token``, the export must carry the
    run's token (`coursekit.evidence.TOKEN_KEY`, removed from the arrays); with ``written`` (the
    runner's digests of the exports the judged cell wrote), it must be as its cell left it."""
    if Path(folder, EXPORTS).is_symlink():  # a link would let the grader read exports from elsewhere
        raise ExportError(f"the notebook's {EXPORTS} folder is a link; the grader reads its own run's exports only")
    try:
        data = read_regular(Path(folder) / EXPORTS / f"{name}.npz", MAX_BYTES)
    except FileNotFoundError:
        raise ExportError(f"the notebook exported nothing for {name} (was the test cell changed?)") from None
    except UnreadableFile as error:
        raise ExportError(f"the export {error}") from None
    if written is not None:
        digest = written.get(f"{name}.npz")
        if digest is None:
            raise ExportError(f"the export for {name} was not written while its test cell ran (by another cell, or "
                              "not by the hidden test)")
        if digest != hashlib.sha256(data).hexdigest():
            raise ExportError(f"the export for {name} was changed after its test cell ran")
    arrays = _plain_arrays(name, io.BytesIO(data))
    if token is not None and str(arrays.pop(TOKEN_KEY, "")) != token:
        raise ExportError(f"the export for {name} does not carry this grading run's token (made in another run?)")
    return arrays


def _plain_arrays(name: str, stream) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
            unpacked = sum(member.file_size for member in members)
            if unpacked > MAX_BYTES:
                raise ExportError(f"the export for {name} unpacks to {unpacked // 2**20} MB, more than {MAX_BYTES // 2**20} MB")
            # zipfile stops at each member's declared size, so no member unpacks to more than counted.
            keys = [member.filename.removesuffix(".npy") for member in members]
            return {key: _array(name, key, archive.read(member)) for key, member in zip(keys, members)}
    except ExportError:
        raise
    except Exception as error:
        raise ExportError(f"the export for {name} is not a NumPy archive of plain arrays ({type(error).__name__})") from None


def _array(name: str, key: str, data: bytes) -> np.ndarray:
    """The array ``key`` of one .npy file, once its header proves it plain and exactly as large as its data."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ExportError(f"the export for {name} holds an array in .npy format {version}, not 1.0 or 2.0")
    shape, _, dtype = readers[version](stream)
    if dtype.kind not in PLAIN_KINDS or dtype.hasobject:
        raise ExportError(f"the export for {name} holds {dtype}, not numbers or strings")
    longest = MAX_MODEL_CONFIG_CHARACTERS if key.endswith(MODEL_CONFIG) else MAX_STRING_CHARACTERS
    if dtype.kind == "U" and dtype.itemsize // 4 > longest:
        raise ExportError(f"the export for {name} holds strings of {dtype.itemsize // 4} characters, more than {longest}")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(data) - stream.tell():
        raise ExportError(f"the export for {name} holds an array whose header does not match its data")
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False)
