"""MNIST and EMNIST from their IDX files, with checksum-verified download of MNIST.

IDX is the format these data sets come in: two zero bytes, a type code, the
number of dimensions, one big-endian uint32 per dimension, then the data in
row-major order, big-endian.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import math
import os
import secrets
import sys
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._validation import generator, scale_pixels
from ._validation import one_hot  # noqa: F401  (part of this module's API)

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

# MD5 of the decompressed IDX bytes, so any gzip re-compression is accepted.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

# Public mirrors of the gzip-compressed MNIST files, tried in order.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def _md5_of_contents(path):
    """MD5 of the file's bytes, decompressed if it is gzip (recognised by its magic bytes)."""
    digest = hashlib.md5()
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        try:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{path}: not a valid gzip file ({error})") from None
    return digest.hexdigest()


# Deflate expands a byte of compressed data to at most 1032 (258-byte matches in 2 bits)
DEFLATE_MOST_RATIO = 1032


def _read_idx(stream, name, size, size_mod_2_32=False, digest=None, most=None):
    """Read IDX from a binary stream holding ``size`` bytes in all.

    The header's claimed size is checked against ``size`` (for gzip only its
    value mod 2^32 is known, from the trailer, and ``most`` bounds it; if they
    disagree, the stream's bytes are counted) before anything is allocated,
    and the data is read straight into the array. ``digest`` (a hashlib
    object), if given, is fed the file's bytes as read.
    """
    header = stream.read(4)
    if len(header) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(header)} bytes)")
    if header[0] != 0 or header[1] != 0 or header[2] not in _IDX_TYPES:
        raise ValueError(f"{name}: not an IDX file (magic bytes {header.hex()})")
    dtype, ndim = _IDX_TYPES[header[2]], header[3]
    if ndim > 32:   # (NumPy's limit, in its oldest versions supported)
        raise ValueError(f"{name}: {ndim} dimensions, more than an array can have (32)")
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header ({4 + len(dims)} bytes, "
                         f"expected {4 + 4 * ndim})")
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    available = size - 4 - 4 * ndim
    if most is not None and expected > most:
        raise ValueError(f"{name}: truncated: header says shape {shape} ({expected} bytes of "
                         f"data), more than the file can hold")
    if size_mod_2_32 and expected != available:
        # A cut .gz ends in arbitrary bytes, not in its trailer, and the trailer cannot tell
        # sizes 4 GiB apart: count what it really holds.
        available = _count_bytes(stream, limit=expected)
        if available is None:
            raise ValueError(f"{name}: truncated: header says shape {shape} ({expected} bytes "
                             f"of data), and the gzip stream ends before its end marker")
        if available > expected:
            raise ValueError(f"{name}: has trailing bytes: header says shape {shape} "
                             f"({expected} bytes of data), file has more")
        if available == expected:  # several gzip members: the trailer was only the last one's
            stream.seek(4 + 4 * ndim)
    if expected != available:
        problem = "truncated" if expected > available else "has trailing bytes"
        raise ValueError(f"{name}: {problem}: header says shape {shape} "
                         f"({expected} bytes of data), file has {available}")
    array = np.empty(shape, dtype=dtype)
    data = memoryview(array.reshape(-1)).cast("B")
    read = stream.readinto(data) if expected else 0
    if read != expected or stream.read(1):
        raise ValueError(f"{name}: truncated or corrupt: expected {expected} bytes of data")
    if digest is not None:
        digest.update(header + dims)
        digest.update(data)
    return array if dtype.isnative or dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def _count_bytes(stream, limit):
    """Bytes left in the stream, counted in chunks, up to ``limit + 1``; None for a cut
    gzip stream (its last chunk is lost with the error, so no count would be true)."""
    count = 0
    try:
        while count <= limit and (chunk := stream.read(min(1 << 20, limit + 1 - count))):
            count += len(chunk)
    except EOFError:  # "Compressed file ended before the end-of-stream marker was reached"
        return None
    return count


def parse_idx(data, name="<bytes>"):
    """Decode IDX bytes into a NumPy array, checking the header against the size."""
    return _read_idx(io.BytesIO(data), name, len(data))


def load_idx(path):
    """Read one IDX file (gzip-compressed or raw) into a NumPy array of its own dtype.

    The header's claimed size is checked against the file (for gzip, against
    the uncompressed size in its trailer) before anything is allocated, and the
    data is decompressed straight into the array: no giant allocation for a
    lying header, no second copy of the data.
    """
    return _load_idx(path)


def _load_idx(path, digest=None):
    """load_idx, feeding the file's (decompressed) bytes to ``digest`` if given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such IDX file: {path}")
    with open(path, "rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            raw.seek(0)
            return _read_idx(raw, str(path), path.stat().st_size, digest=digest)
        if path.stat().st_size < 18:  # a gzip header and trailer take 18 bytes
            raise ValueError(f"{path}: truncated: {path.stat().st_size} bytes, too short for gzip")
        raw.seek(-4, os.SEEK_END)  # the gzip trailer: uncompressed size mod 2^32
        size = int.from_bytes(raw.read(4), "little")
        raw.seek(0)
        try:
            return _read_idx(gzip.GzipFile(fileobj=raw), str(path), size, size_mod_2_32=True,
                             digest=digest, most=path.stat().st_size * DEFLATE_MOST_RATIO)
        except EOFError as error:
            raise ValueError(f"{path}: truncated: the gzip stream ends early ({error})") from None
        except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{path}: not a valid gzip file ({error})") from None


def cache_folder():
    """Where downloads go: ``$XDG_CACHE_HOME/cymlp``, else ``~/.cache/cymlp``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cymlp"


def _find(folders, stem):
    """The first ``stem.gz`` or ``stem`` in the folders, or None."""
    for folder in folders:
        for candidate in (folder / (stem + ".gz"), folder / stem):
            if candidate.is_file():
                return candidate
    return None


def _mnist_folders(path):
    """The folders load_mnist searches, in order: path, $CYMLP_DATA, the cache."""
    folders = [Path(p) for p in (path, os.environ.get("CYMLP_DATA")) if p]
    if path is not None and not Path(path).is_dir():
        raise FileNotFoundError(f"MNIST folder {path} does not exist")
    return folders + [cache_folder()]


def _new_part_file(folder, prefix):
    """``(fd, path)`` of a new temporary file in folder, to be renamed into place: readable
    as the umask allows any new file to be (mkstemp's would be the owner's only, and a
    shared cache is read by others)."""
    while True:
        path = os.path.join(folder, f"{prefix}.{secrets.token_hex(8)}.part")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                           0o666), path
        except FileExistsError:
            continue


def download_mnist_file(stem, folder, mirrors=MNIST_MIRRORS, progress=True):
    """Fetch ``stem.gz`` from the first mirror that serves it with the right checksum.

    Writes to a temporary file in ``folder`` and renames it only once the MD5
    of the decompressed bytes matches, so a failed download leaves nothing.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (stem + ".gz")
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + stem + ".gz"
        fd, tmp = _new_part_file(folder, stem)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
                total = int(response.headers.get("Content-Length") or 0)
                done = 0
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
                        print(f"\rdownloading {url}: {size}", end="", file=sys.stderr, flush=True)
            if progress:
                print(file=sys.stderr)
            digest = _md5_of_contents(tmp)
            if digest != MNIST_MD5[stem]:
                raise ValueError(f"checksum mismatch for {stem} (MD5 {digest}, expected {MNIST_MD5[stem]})")
            os.replace(tmp, target)
            _remember_verified(*_stamp(target, digest))
            return target
        except (OSError, ValueError, http.client.HTTPException) as error:  # (the next mirror)
            errors.append(f"{url}: {error!r}" if isinstance(error, http.client.HTTPException)
                          else f"{url}: {error}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise OSError(f"could not download {stem}: " + "; ".join(errors))


def load_mnist(path=None, download=True, raw=False, mirrors=MNIST_MIRRORS, verify=True,
               progress=True):
    """MNIST as ``((X_train, y_train), (X_test, y_test))``.

    X has one flattened 28x28 image per row, shape (n, 784), float64 scaled
    to [0, 1] as in the paper (``raw=True``: the uint8 pixels); y holds the
    digits 0-9 as ``intp``.

    The four IDX files (gzip or not) are looked for in ``path``, then
    ``$CYMLP_DATA``, then the cache folder (``$XDG_CACHE_HOME/cymlp`` or
    ``~/.cache/cymlp``). Missing files are downloaded into the cache when
    ``download`` is true, and kept only if their checksums match (``progress``:
    a download's progress on stderr).

    Every file, found or downloaded, must have the published MNIST checksum
    (MD5 of the decompressed bytes), else ``ValueError``: a damaged or edited
    copy would silently train on wrong data. A file that passed is remembered
    by its path, size and times in the cache folder, so it is not hashed again
    in this or any later process. ``verify=False`` skips the check (for data
    in MNIST's format that is not MNIST, see :func:`load_idx`).
    """
    folders = _mnist_folders(path)
    parts = {}
    for key, stem in MNIST_FILES.items():
        file = _find(folders, stem)
        if file is None and download:
            file = download_mnist_file(stem, cache_folder(), mirrors, progress)
        if file is None:
            raise FileNotFoundError(
                f"MNIST file {stem}(.gz) not found in {', '.join(map(str, folders))}. "
                f"Put the four MNIST IDX files in one of them: pass path=... or set "
                f"CYMLP_DATA to their folder, or allow download=True."
            )
        images = key.endswith("images")
        array = _load_verified(file, MNIST_MD5[stem]) if verify else load_idx(file)
        parts[key] = (file, _check_idx(array, file, images, n_classes=10))
    return tuple(_split(parts, split, raw, transposed=False) for split in ("train", "test"))


def _load_verified(file, md5):
    """load_idx, checking the MD5 of the file's contents unless it passed before unchanged."""
    key, stamp = _stamp(file, md5)
    if _read_verified_list().get(key) == stamp:
        return load_idx(file)
    digest = hashlib.md5()
    array = _load_idx(file, digest)  # hashed while read: no second pass over the file
    if digest.hexdigest() != md5:
        raise ValueError(
            f"{file}: not the published MNIST file: the MD5 of its contents is "
            f"{digest.hexdigest()}, MNIST's is {md5}, so it is damaged or was changed. "
            f"Replace it with the original, pass verify=False to load it anyway, or read "
            f"other data in MNIST's format with cymlp.datasets.load_idx."
        )
    if _stamp(file, md5) == (key, stamp):  # (not changed while it was read)
        _remember_verified(key, stamp)
    return array


def _verified_list():
    """Where the files that passed their checksum are remembered (beside the downloads)."""
    return cache_folder() / "verified.json"


def _stamp(file, md5):
    """What must be unchanged for a verified file to count as verified: its path, size,
    modification and status-change times (the latter cannot be set back by hand; on
    Windows st_ctime is the creation time)."""
    stat = file.stat()
    return str(file.resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, md5]


def _read_verified_list():
    try:
        entries = json.loads(_verified_list().read_text())
    except (OSError, ValueError):  # none yet, unreadable or damaged: verify again
        return {}
    return entries if isinstance(entries, dict) else {}


def _remember_verified(key, stamp):
    """Add a file's stamp to the verified list (best effort: a read-only cache means hashing
    again next time)."""
    entries = {path: value for path, value in _read_verified_list().items() if os.path.exists(path)}
    entries[key] = stamp
    target = _verified_list()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _new_part_file(target.parent, "verified")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(entries, out, indent=1)
        os.replace(tmp, target)  # atomic: a reader sees the old list or the new one
    except OSError:
        os.remove(tmp)


def _check_idx(array, file, images, n_classes):
    """An IDX array as MNIST-style images (n, 28, 28) or labels (n,), both uint8."""
    kind = "images" if images else "labels"
    if array.dtype != np.uint8:
        raise ValueError(f"{file}: {kind} must be unsigned bytes, got {array.dtype}")
    if images and (array.ndim != 3 or array.shape[1:] != (28, 28)):
        raise ValueError(f"{file}: images must have shape (n, 28, 28), got {array.shape}")
    if not images:
        if array.ndim != 1:
            raise ValueError(f"{file}: labels must be 1-D, got shape {array.shape}")
        if array.size and array.max() >= n_classes:
            raise ValueError(f"{file}: labels must be in 0..{n_classes - 1}, found {array.max()}")
    return array


def _split(parts, split, raw, transposed):
    (image_file, images), (label_file, labels) = parts[f"{split}_images"], parts[f"{split}_labels"]
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{image_file} holds {images.shape[0]} images but {label_file} {labels.shape[0]} labels"
        )
    if transposed:  # EMNIST stores each image transposed
        images = images.transpose(0, 2, 1)
    X = flatten(images)
    return (X if raw else scale(X)), labels.astype(np.intp)


EMNIST_CLASSES = {"balanced": 47, "byclass": 62, "bymerge": 47, "digits": 10, "letters": 27, "mnist": 10}


def load_emnist(split="balanced", path=None, raw=False):
    """EMNIST ``((X_train, y_train), (X_test, y_test), mapping)`` for one split.

    Reads ``emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte(.gz)`` and
    ``emnist-<split>-mapping.txt`` from ``path`` or ``$CYMLP_DATA``. Images are
    returned upright (EMNIST stores them transposed), flattened and scaled as
    MNIST; ``mapping`` maps each label to its character (Balanced: 47 classes;
    Letters: both cases, "Aa"). A label the mapping lacks is a ``ValueError``.
    """
    if split not in EMNIST_CLASSES:
        raise ValueError(f"split must be one of {', '.join(EMNIST_CLASSES)}; got {split!r}")
    prefix = f"emnist-{split}"
    folder = emnist_folder(split, path)
    if folder is None:
        folders = [str(p) for p in (path, os.environ.get("CYMLP_DATA")) if p]
        raise FileNotFoundError(
            f"{prefix}-mapping.txt not found in {', '.join(folders) or '(no folder)'}: "
            f"pass path=... or set CYMLP_DATA to the folder with the EMNIST files"
        )
    mapping_file = folder / f"{prefix}-mapping.txt"
    mapping = read_emnist_mapping(mapping_file)
    parts = {}
    for part in ("train", "test"):
        for key, kind in (("images", "images-idx3"), ("labels", "labels-idx1")):
            stem = f"{prefix}-{part}-{kind}-ubyte"
            file = _find([mapping_file.parent], stem)
            if file is None:
                raise FileNotFoundError(f"EMNIST file {stem}(.gz) not found in {mapping_file.parent}")
            array = load_idx(file)
            if key == "labels":
                _check_mapping_covers(mapping, mapping_file, array, file)
            array = _check_idx(array, file, key == "images", n_classes=max(mapping) + 1)
            parts[f"{part}_{key}"] = (file, array)
    train, test = (_split(parts, part, raw, transposed=True) for part in ("train", "test"))
    return train, test, mapping


# ---------------------------------------------------------------- helpers the paper describes

def flatten(images):
    """(n, 28, 28) images -> (n, 784) rows, as the paper's 784-dimensional inputs."""
    images = np.asarray(images)
    if images.ndim < 1:
        raise ValueError("images must have shape (n, ...), got a scalar")
    return images.reshape(images.shape[0], math.prod(images.shape[1:]))


def scale(pixels):
    """uint8 pixels -> float64 in [0, 1]: x * (1/255), exactly as the core scales uint8 input."""
    return scale_pixels(pixels, np.float64)


def subset(X, y, fraction, seed=0):
    """A reproducible random ``fraction`` (0, 1] of the examples, as in the paper's Figure 7."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    n = max(1, round(len(X) * fraction))
    rows = np.sort(generator(seed).permutation(len(X))[:n])
    return X[rows], y[rows]


# ---------------------------------------------------------------- EMNIST's files, any IDX folder, by name

def emnist_folder(split="balanced", path=None):
    """The first of ``path``, ``$CYMLP_DATA`` holding ``emnist-<split>-mapping.txt``, or None."""
    for folder in (Path(p) for p in (path, os.environ.get("CYMLP_DATA")) if p):
        if (folder / f"emnist-{split}-mapping.txt").is_file():
            return folder
    return None


def read_emnist_mapping(path):
    """EMNIST's ``label code [code ...]`` lines as ``{label: characters}``.

    Most splits give one ASCII code per label (``10 65``: label 10 is "A");
    Letters gives the upper- and lower-case codes (``1 65 97``: label 1 is "Aa").
    """
    path = Path(path)
    mapping = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            label, *codes = (int(v) for v in line.split())
            if not codes or label < 0 or label in mapping:
                raise ValueError
            mapping[label] = "".join(chr(code) for code in codes)
        except (ValueError, OverflowError):
            raise ValueError(f"{path}:{number}: expected 'label ascii-code' with a new label, "
                             f"got {line!r}") from None
    if not mapping:
        raise ValueError(f"{path}: the mapping is empty")
    return mapping


def _check_mapping_covers(mapping, mapping_file, labels, labels_file):
    """Every label in the labels file must have a character in the mapping."""
    unknown = sorted(set(np.unique(labels).tolist()) - set(mapping))
    if unknown:
        shown = ", ".join(map(str, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
        raise ValueError(f"{mapping_file} does not match {labels_file}: no character for "
                         f"label {shown} ({len(mapping)} labels mapped)")


def load_idx_folder(path, raw=False):
    """Any data set in MNIST's layout as ``((X_train, y_train), (X_test, y_test))``.

    ``path`` holds the four files with MNIST's names (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each gzip-compressed or not): unsigned-byte
    images (n, height, width), the same size in both parts, and unsigned-byte
    labels (n,). Nothing is checksummed or downloaded: this is for data sets
    that are not MNIST (Fashion-MNIST, Kuzushiji-MNIST, your own). Images are
    flattened to rows and scaled to [0, 1] (``raw=True``: uint8 pixels); the
    classes are ``0 .. max(label)``.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    parts = {}
    for key, stem in MNIST_FILES.items():
        file = _find([folder], stem)
        if file is None:
            raise FileNotFoundError(f"{stem}(.gz) not found in {folder}: an MNIST-layout folder "
                                    f"holds {', '.join(MNIST_FILES.values())}")
        array = load_idx(file)
        kind = "images" if key.endswith("images") else "labels"
        if array.dtype != np.uint8:
            raise ValueError(f"{file}: {kind} must be unsigned bytes, got {array.dtype}")
        if kind == "images" and (array.ndim != 3 or 0 in array.shape[1:]):
            raise ValueError(f"{file}: images must have shape (n, height, width), got {array.shape}")
        if kind == "labels" and array.ndim != 1:
            raise ValueError(f"{file}: labels must be 1-D, got shape {array.shape}")
        parts[key] = (file, array)
    (train_file, train_images), (test_file, test_images) = parts["train_images"], parts["test_images"]
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError(f"{train_file} holds {train_images.shape[1:]} images but {test_file} "
                         f"{test_images.shape[1:]}")
    return tuple(_split(parts, split, raw, transposed=False) for split in ("train", "test"))


class LoadedDataset(NamedTuple):
    """A data set chosen by name: ``train, test, classes = load_dataset(...)``.

    ``classes[label]`` says what a label stands for ("7", "A", ...; "" for a
    label EMNIST Letters leaves unused); ``len(classes)`` is the number of
    output units a network needs.
    """

    train: tuple
    test: tuple
    classes: tuple


#: --dataset names: "mnist", "idx" (any MNIST-layout folder), "emnist-<split>" for every split.
DATASETS = ("mnist", "idx", *(f"emnist-{split}" for split in EMNIST_CLASSES))


def check_dataset_name(name):
    """``name`` if it is one of :data:`DATASETS`, else a ``ValueError`` listing them."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: choose one of {', '.join(DATASETS)}")
    return name


def load_dataset(name="mnist", path=None, download=True, raw=False, progress=True):
    """Load a data set by its command-line name (one of :data:`DATASETS`).

    "mnist": :func:`load_mnist` (``path``, ``$CYMLP_DATA``, the cache,
    downloaded if allowed); "emnist-<split>": :func:`load_emnist` (``path`` or
    ``$CYMLP_DATA``); "idx": :func:`load_idx_folder`, which needs ``path``.
    """
    check_dataset_name(name)
    if name == "mnist":
        train, test = load_mnist(path, download=download, raw=raw, progress=progress)
        return LoadedDataset(train, test, tuple(str(digit) for digit in range(10)))
    if name == "idx":
        if path is None:
            raise ValueError("the 'idx' data set needs the folder with its four IDX files "
                             "(path=..., or --data DIR on the command line)")
        train, test = load_idx_folder(path, raw=raw)
        n_classes = int(max(train[1].max(initial=0), test[1].max(initial=0))) + 1
        return LoadedDataset(train, test, tuple(str(label) for label in range(n_classes)))
    train, test, mapping = load_emnist(name.removeprefix("emnist-"), path=path, raw=raw)
    return LoadedDataset(train, test, tuple(mapping.get(label, "") for label in range(max(mapping) + 1)))
