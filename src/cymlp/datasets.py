"""Reading MNIST from its canonical IDX files.

IDX is the format the MNIST files come in: two zero bytes, a type code, the
number of dimensions, one big-endian uint32 per dimension, then the data in
row-major order, big-endian.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

# IDX type code -> big-endian dtype
_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _read_bytes(path):
    """The file's bytes, decompressed if it is gzip (recognised by its magic bytes)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: not a valid gzip file ({error})") from None
    return raw


def parse_idx(data, name="<bytes>"):
    """Decode IDX bytes into a NumPy array, checking the header against the size."""
    if len(data) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{name}: not an IDX file (magic bytes {data[:4].hex()})")
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(data)} bytes, expected {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{name}: {problem}: header says shape {shape} ({expected} bytes), "
            f"file has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def load_idx(path):
    """Read one IDX file (gzip-compressed or raw) into a NumPy array of its own dtype."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such IDX file: {path}")
    return parse_idx(_read_bytes(path), name=str(path))


def _find(folder, stem):
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {stem}(.gz) not found in {folder}. Put the four MNIST IDX files "
        f"there, or pass path=... or set CYMLP_DATA to the folder that holds them."
    )


def mnist_folder(path=None):
    """The folder to read MNIST from: ``path``, else ``$CYMLP_DATA``."""
    folder = path if path is not None else os.environ.get("CYMLP_DATA")
    if folder is None:
        raise FileNotFoundError(
            "no MNIST folder given: pass path=... or set the environment variable "
            "CYMLP_DATA to a folder holding the four MNIST IDX files"
        )
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist")
    return folder


def load_mnist(path=None, raw=False):
    """MNIST as ``((X_train, y_train), (X_test, y_test))``.

    X has one flattened 28x28 image per row, shape (n, 784), float64 scaled
    to [0, 1] as in the paper (``raw=True``: the uint8 pixels); y holds the
    digits 0-9 as ``intp``. Reads ``path``, else ``$CYMLP_DATA``.
    """
    folder = mnist_folder(path)
    parts = {}
    for key, stem in MNIST_FILES.items():
        file = _find(folder, stem)
        array = load_idx(file)
        kind = "images" if key.endswith("images") else "labels"
        if array.dtype != np.uint8:
            raise ValueError(f"{file}: MNIST {kind} must be unsigned bytes, got {array.dtype}")
        if kind == "images" and (array.ndim != 3 or array.shape[1:] != (28, 28)):
            raise ValueError(f"{file}: MNIST images must have shape (n, 28, 28), got {array.shape}")
        if kind == "labels":
            if array.ndim != 1:
                raise ValueError(f"{file}: MNIST labels must be 1-D, got shape {array.shape}")
            if array.size and array.max() > 9:
                raise ValueError(f"{file}: MNIST labels must be digits 0-9, found {array.max()}")
        parts[key] = (file, array)
    result = []
    for split in ("train", "test"):
        (image_file, images), (label_file, labels) = parts[f"{split}_images"], parts[f"{split}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{image_file} holds {images.shape[0]} images but {label_file} "
                f"{labels.shape[0]} labels"
            )
        X = images.reshape(images.shape[0], -1)
        if not raw:
            X = X / 255.0
        result.append((X, labels.astype(np.intp)))
    return tuple(result)
