"""Writing a file so that an interruption or a failed write never leaves it half written."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile


def write_replacing(path, write, taker):
    """``write(file)`` into the file ``path``, through its links (``taker`` names the caller
    in errors).

    A new file is written in place and removed if writing fails; an existing one is
    replaced by renaming a complete temporary file from its folder over it, with its
    permissions (written in place where its folder cannot take the temporary file).
    The data reaches the disk before the rename, so a crash just after it cannot leave
    an empty file under the old name.
    """
    path = os.path.realpath(os.fsdecode(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"Is a directory: {taker} takes a file name", path)
    if not os.path.exists(path):
        try:
            with open(path, "wb") as file:
                write(file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(path)
            raise
        return
    if not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, "Permission denied", path)
    folder, name = os.path.split(path)
    try:
        handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{name[:100]}.", suffix=".partial")
    except OSError:   # (a folder we may not create in: the file itself may still be written)
        with open(path, "wb") as file:
            write(file)
        return
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(partial, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
