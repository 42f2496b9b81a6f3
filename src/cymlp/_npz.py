"""Reading an untrusted ``.npz`` archive member by member, each header before its data.

``np.load`` allocates whatever an ``.npy`` header claims before reading a byte
of data, so a small file can make it allocate gigabytes. Here the caller sees
each member's header (shape, dtype, order) first and reads the data only once
the header matches what it expects; and a member's size in the zip directory,
which caps what decompressing it can produce, must agree with its header.
"""

from __future__ import annotations

import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

# numpy's own cap on header length when reading untrusted files
MAX_HEADER = 10000
# Model weights barely compress; a large member inflated from far fewer bytes is
# a zip bomb, not a model (deflate reaches about 1000:1 on constant data).
BOMB_RATIO = 100
BOMB_MIN_BYTES = 1 << 24


class NpzMembers:
    """The ``.npy`` members of an open ``.npz`` file, keyed by name without ``.npy``.

    ``header(key)`` returns ``(shape, fortran_order, dtype)`` without reading
    the data (and refuses a member that would inflate far beyond its compressed
    size); ``read(key)`` reads the array it declares. A member that is not
    what it claims is a ``ValueError`` naming ``path`` and the member; a
    damaged zip structure raises zipfile's own errors.
    """

    def __init__(self, archive: zipfile.ZipFile, path):
        self.path = path
        self._archive = archive
        self._infos = {}
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key == info.filename or key in self._infos:
                raise ValueError(f"{path}: unexpected member {info.filename!r} "
                                 f"(an .npz holds one .npy file per array)")
            self._infos[key] = info
        self._headers = {}

    def __contains__(self, key):
        return key in self._infos

    def keys(self):
        return self._infos.keys()

    def _open(self, key):
        info = self._infos[key]
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{self.path}: {key} uses zip compression method "
                             f"{info.compress_type}; numpy writes only stored or deflated members")
        return self._archive.open(info)

    def header(self, key):
        """``(shape, fortran_order, dtype)`` from the member's ``.npy`` header."""
        if key not in self._headers:
            with self._open(key) as member:
                try:
                    version = npy_format.read_magic(member)
                    if version not in ((1, 0), (2, 0)):
                        raise ValueError(f".npy format version {version} (numpy writes 1.0 or 2.0)")
                    read_header = (npy_format.read_array_header_1_0 if version == (1, 0)
                                   else npy_format.read_array_header_2_0)
                    shape, fortran, dtype = read_header(member, max_header_size=MAX_HEADER)
                    header_bytes = member.tell()
                except ValueError as error:
                    raise ValueError(f"{self.path}: {key} has no valid .npy header ({error})") from None
            data_bytes = 0 if dtype.hasobject else int(np.prod(shape, dtype=object)) * dtype.itemsize
            actual = self._infos[key].file_size - header_bytes
            if not dtype.hasobject and actual != data_bytes:
                raise ValueError(f"{self.path}: {key}'s header says {dtype} {shape} "
                                 f"({data_bytes} bytes) but the member holds {actual} bytes of data")
            info = self._infos[key]
            if info.file_size > BOMB_MIN_BYTES and info.file_size > BOMB_RATIO * info.compress_size:
                raise ValueError(f"{self.path}: {key} would inflate {info.compress_size} bytes "
                                 f"to {info.file_size}: not an array of model weights")
            self._headers[key] = (shape, fortran, dtype)
        return self._headers[key]

    def read(self, key):
        """The member's array (call :meth:`header` first and check it: this allocates it)."""
        shape, fortran, dtype = self.header(key)
        if dtype.hasobject:
            raise ValueError(f"{self.path}: {key} holds Python objects, which would need pickle")
        with self._open(key) as member:
            try:
                return npy_format.read_array(member, allow_pickle=False, max_header_size=MAX_HEADER)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
                raise ValueError(f"{self.path}: {key} is damaged ({type(error).__name__}: {error})") from None
