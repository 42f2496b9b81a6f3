"""The IDX reader and the MNIST loader."""

import gzip
import json
import shutil

import numpy as np
import pytest

from cymlp.datasets import (MNIST_FILES, flatten, load_emnist, load_idx, load_mnist, one_hot,
                            parse_idx, subset)


def idx_bytes(array, code):
    """Encode an array as IDX: 0, 0, type code, ndim, big-endian dims, big-endian data."""
    dtype = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(dtype).tobytes()


@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_idx_round_trip_for_every_type(tmp_path, code):
    array = (np.arange(24).reshape(2, 3, 4) % 100).astype(float)
    raw = tmp_path / "a.idx"
    raw.write_bytes(idx_bytes(array, code))
    zipped = tmp_path / "a.idx.gz"
    zipped.write_bytes(gzip.compress(idx_bytes(array, code)))
    for path in (raw, zipped):
        loaded = load_idx(path)
        assert loaded.shape == (2, 3, 4) and loaded.dtype.isnative
        np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize("data,message", [
    (b"\x00\x00", "too short"),
    (b"\x01\x00\x08\x01" + b"\x00" * 8, "not an IDX file"),
    (b"\x00\x00\x07\x01" + b"\x00" * 8, "not an IDX file"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "trailing bytes"),
    (b"\x00\x00\x08\x02\xff\xff\xff\xff\xff\xff\xff\xff", "truncated"),  # huge claim, tiny file
])
def test_bad_idx_bytes_are_rejected_with_the_reason(data, message):
    with pytest.raises(ValueError, match=message):
        parse_idx(data, name="x.idx")


@pytest.mark.parametrize("compress", [False, True])
def test_lying_idx_headers_are_rejected_before_allocating(tmp_path, compress):
    data = bytes([0, 0, 0x0E, 2]) + np.array([4_000_000_000, 4_000_000_000], ">u4").tobytes() + b"x" * 64
    path = tmp_path / "lie.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match="truncated"):
        load_idx(path)  # 128 PB claimed: must fail at once, not try to allocate


def test_a_gzip_header_claiming_a_multiple_of_4_gib_is_rejected_before_allocating(tmp_path):
    # gzip's trailer holds the size mod 2^32: 2^40 claimed bytes and none present agree there
    path = tmp_path / "lie.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 2]) + np.array([2**20, 2**20], ">u4").tobytes()))
    with pytest.raises(ValueError, match=r"truncated: header says shape \(1048576, 1048576\).*"
                                         r"more than the file can hold"):
        load_idx(path)


def test_a_gzip_header_claiming_4_gib_more_than_its_data_is_counted_not_allocated(tmp_path):
    # 4 MiB of data (too random to compress) under a header claiming 2^32 + 4 MiB bytes: the
    # trailer's size mod 2^32 and deflate's bound both allow that, so the bytes are counted
    data = np.random.default_rng(0).integers(0, 256, 1 << 22, dtype=np.uint8).tobytes()
    path = tmp_path / "lie.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 2]) + np.array([1025, 1 << 22], ">u4").tobytes()
                                   + data, compresslevel=1))
    with pytest.raises(ValueError, match=r"truncated: header says shape \(1025, 4194304\) "
                                         r"\(4299161600 bytes of data\), file has 4194304"):
        load_idx(path)


def test_array_helpers_take_empty_and_float_input_and_name_bad_values():
    assert flatten(np.zeros((0, 28, 28), np.uint8)).shape == (0, 784)
    assert one_hot([]).shape == (0, 10)
    assert one_hot([1.0, 2.0], 3).tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="n_classes must be >= 1, got -1"):
        one_hot([0], -1)
    with pytest.raises(ValueError, match="labels must be whole numbers"):
        one_hot([0.5], 3)
    with pytest.raises(ValueError, match=r"labels must be in 0..2, got 0..3"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match=r"labels must be in 0..2, got 0.0..inf"):
        one_hot([0, np.inf], 3)
    with pytest.raises(ValueError, match="X and y must have the same length, got 5 and 3"):
        subset(np.zeros((5, 2)), np.zeros(3), 0.5)


def test_load_mnist_has_the_papers_shapes_and_scaling(mnist):
    (X_train, y_train), (X_test, y_test) = mnist
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float64 and X_train.min() == 0.0 and X_train.max() == 1.0
    assert np.array_equal(np.bincount(y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]


def test_load_mnist_raw_and_environment_variable(mnist_dir, monkeypatch):
    monkeypatch.setenv("CYMLP_DATA", str(mnist_dir))
    (X, y), (Xt, yt) = load_mnist(raw=True)
    assert X.dtype == np.uint8 and X.shape == (60000, 784) and X.max() == 255


def copy_mnist(source, target, skip=()):
    for stem in MNIST_FILES.values():
        if stem not in skip:
            shutil.copy(source / (stem + ".gz"), target / (stem + ".gz"))


def test_missing_file_and_missing_folder_say_where_to_put_the_data(mnist_dir, tmp_path, monkeypatch):
    copy_mnist(mnist_dir, tmp_path, skip={"t10k-labels-idx1-ubyte"})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.*CYMLP_DATA"):
        load_mnist(tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere", download=False)
    with pytest.raises(FileNotFoundError, match=r"cache.*CYMLP_DATA"):
        load_mnist(download=False)


def test_truncated_mnist_file_names_the_file(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    copy_mnist(mnist_dir, tmp_path, skip={"t10k-images-idx3-ubyte"})
    data = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(data[:-100])  # raw, not gzip
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: truncated"):
        load_mnist(tmp_path)


def test_mismatched_counts_are_an_error(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    copy_mnist(mnist_dir, tmp_path, skip={"t10k-labels-idx1-ubyte"})
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5), 0x08))
    with pytest.raises(ValueError, match="10000 images but .* 5 labels"):
        load_mnist(tmp_path, verify=False)


@pytest.mark.parametrize("cut", [10, 30, 2000, -9])
def test_a_truncated_gzip_file_says_truncated(mnist_dir, tmp_path, cut):
    data = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()  # 4542 bytes
    (tmp_path / "cut.gz").write_bytes(data[:cut])
    with pytest.raises(ValueError, match=r"cut.gz: truncated") as error:
        load_idx(tmp_path / "cut.gz")
    assert "file has 0" not in str(error.value)   # (the cut stream's last chunk is lost)


def test_gzip_with_trailing_data_or_several_members(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    (tmp_path / "long.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x08) + b"extra"))
    with pytest.raises(ValueError, match=r"long.gz: has trailing bytes: header says shape \(10,\) "
                                         r"\(10 bytes of data\), file has more"):
        load_idx(tmp_path / "long.gz")
    data = idx_bytes(labels, 0x08)  # two gzip members, as `cat a.gz b.gz` makes: one stream
    (tmp_path / "two.gz").write_bytes(gzip.compress(data[:11]) + gzip.compress(data[11:]))
    np.testing.assert_array_equal(load_idx(tmp_path / "two.gz"), labels)


def change_one_label(folder, compress=True):
    """Flip the last test label: still a well-formed IDX file, of the same size."""
    stem = "t10k-labels-idx1-ubyte"
    data = bytearray(gzip.decompress((folder / (stem + ".gz")).read_bytes()))
    data[-1] = (data[-1] + 1) % 10
    (folder / (stem + ".gz")).unlink()
    target = folder / (stem + ".gz" if compress else stem)
    target.write_bytes(gzip.compress(bytes(data)) if compress else bytes(data))
    return target, data[-1]


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache folder of the test's own (downloads, the list of verified files); no $CYMLP_DATA."""
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "cymlp"


@pytest.mark.parametrize("compress", [True, False])
def test_a_local_file_with_one_label_changed_is_rejected(mnist_dir, mnist, tmp_path, own_cache, compress):
    data = tmp_path / "data"
    data.mkdir()
    copy_mnist(mnist_dir, data)
    changed, label = change_one_label(data, compress)
    with pytest.raises(ValueError, match=rf"{changed.name}: not the published MNIST file: the MD5 .*"
                                         rf"verify=False .* cymlp.datasets.load_idx"):
        load_mnist(data)
    _, (Xt, yt) = load_mnist(data, verify=False)
    assert yt[-1] == label != mnist[1][1][-1]
    np.testing.assert_array_equal(yt[:-1], mnist[1][1][:-1])


LOAD_WITHOUT_HASHING = """
import hashlib, sys
from cymlp.datasets import load_mnist

def no_hashing(*args):
    raise AssertionError("hashed")

hashlib.md5 = no_hashing
load_mnist(sys.argv[1])
"""


def test_a_verified_file_is_not_hashed_again_until_it_changes(mnist_dir, tmp_path, own_cache):
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    for stem in MNIST_FILES.values():  # uncompressed: a changed label keeps the file's size
        (data / stem).write_bytes(gzip.decompress((mnist_dir / (stem + ".gz")).read_bytes()))
    load_mnist(data)  # verifies and remembers the four files
    listed = json.loads((own_cache / "verified.json").read_text())
    assert sorted(listed) == sorted(str((data / stem).resolve()) for stem in MNIST_FILES.values())

    def load_in_a_new_process():
        return subprocess.run([sys.executable, "-c", LOAD_WITHOUT_HASHING, str(data)],
                              capture_output=True, text=True, timeout=120)

    assert load_in_a_new_process().returncode == 0  # nothing hashed
    # a changed file is hashed again, even with its old size and modification time (its
    # status-change time moved; on Windows st_ctime is the creation time, so there it is the
    # modification time that tells)
    file = data / "t10k-labels-idx1-ubyte"
    before = file.stat()
    with open(file, "r+b") as labels:
        labels.seek(-1, os.SEEK_END)
        labels.write(bytes([(file.read_bytes()[-1] + 1) % 10]))
    if sys.platform != "win32":
        os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (file.stat().st_size, file.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert "AssertionError: hashed" in load_in_a_new_process().stderr
    with pytest.raises(ValueError, match="not the published MNIST file"):
        load_mnist(data)


def test_verification_works_without_a_writable_cache(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("not a folder")
    (X, y), _ = load_mnist(mnist_dir, raw=True)
    assert X.shape == (60000, 784)


@pytest.fixture
def http_server():
    """Serve a folder over HTTP on 127.0.0.1 (no test touches the internet)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def serve(folder):
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_download_verifies_checksums_into_the_cache(mnist_dir, mnist, tmp_path, monkeypatch, http_server, capsys):
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    missing = http_server(tmp_path / "empty")  # answers 404 for everything
    good = http_server(mnist_dir)
    (X, y), (Xt, yt) = load_mnist(mirrors=[missing, good])
    np.testing.assert_array_equal(X, mnist[0][0])
    np.testing.assert_array_equal(yt, mnist[1][1])
    cached = sorted(p.name for p in (tmp_path / "cache" / "cymlp").iterdir())
    assert cached == sorted([stem + ".gz" for stem in MNIST_FILES.values()] + ["verified.json"])
    assert "downloading" in capsys.readouterr().err
    # a second load reads the cache: no server needed
    load_mnist(mirrors=[])


def test_a_mirror_that_breaks_http_falls_back_and_the_cache_is_readable(
        mnist_dir, mnist, tmp_path, monkeypatch, http_server, capsys):
    """A mirror answering garbage (not an HTTP status line) is one more failed mirror: the
    next one serves. Cached files are as readable as the umask makes any new file, and
    progress=False prints nothing."""
    import os
    import socket
    import stat
    import threading

    monkeypatch.delenv("CYMLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_garbage():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"GARBAGE\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    garbage = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    umask = os.umask(0o022)
    try:
        (X, y), _ = load_mnist(mirrors=[garbage, http_server(mnist_dir)], progress=False)
    finally:
        os.umask(umask)
        listener.close()
    np.testing.assert_array_equal(y, mnist[0][1])
    assert capsys.readouterr().err == ""
    for file in (tmp_path / "cache" / "cymlp").iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file


def test_download_with_a_wrong_checksum_leaves_nothing(mnist_dir, tmp_path, monkeypatch, http_server):
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = tmp_path / "bad"
    bad.mkdir()
    copy_mnist(mnist_dir, bad)
    data = bytearray(gzip.decompress((bad / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    data[-1] ^= 1  # one label changed: still a valid IDX file
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(OSError, match="t10k-labels-idx1-ubyte.*checksum mismatch"):
        load_mnist(mirrors=[http_server(bad)])
    left = [p.name for p in (tmp_path / "cache" / "cymlp").iterdir()]
    assert "t10k-labels-idx1-ubyte.gz" not in left and not any(n.endswith(".part") for n in left)


def write_emnist(folder, split, upright, labels, mapping, part):
    """EMNIST-format files: images stored transposed, as the real EMNIST does."""
    for kind, array in (("images-idx3", upright.transpose(0, 2, 1)), ("labels-idx1", labels)):
        path = folder / f"emnist-{split}-{part}-{kind}-ubyte.gz"
        path.write_bytes(gzip.compress(idx_bytes(np.ascontiguousarray(array), 0x08)))
    (folder / f"emnist-{split}-mapping.txt").write_text(
        "".join(f"{label} {ord(char)}\n" for label, char in mapping.items()))


def test_emnist_comes_back_upright_with_its_characters(tmp_path):
    rng = np.random.default_rng(0)
    mapping = {i: c for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt")}
    upright = rng.integers(0, 256, (6, 28, 28)).astype(np.uint8)
    upright[:, :3, :] = 255  # a bar at the top: upright means it stays in the first rows
    labels = np.array([0, 10, 36, 46, 5, 20], dtype=np.uint8)
    write_emnist(tmp_path, "balanced", upright, labels, mapping, "train")
    write_emnist(tmp_path, "balanced", upright[:2], labels[:2], mapping, "test")
    (X, y), (Xt, yt), chars = load_emnist("balanced", path=tmp_path, raw=True)
    np.testing.assert_array_equal(X.reshape(-1, 28, 28), upright)
    assert (X.reshape(-1, 28, 28)[:, :3, :] == 255).all()
    assert [chars[label] for label in y] == ["0", "A", "a", "t", "5", "K"]
    assert len(chars) == 47 and Xt.shape == (2, 784)
    (Xs, _), _, _ = load_emnist("balanced", path=tmp_path)
    assert Xs.max() == 1.0 and Xs.dtype == np.float64
    with pytest.raises(ValueError, match="split must be one of"):
        load_emnist("nope", path=tmp_path)
    with pytest.raises(FileNotFoundError, match="emnist-letters-mapping.txt"):
        load_emnist("letters", path=tmp_path)


def test_helpers():
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    X, y = np.arange(200).reshape(100, 2), np.arange(100)
    Xs, ys = subset(X, y, 0.1, seed=3)
    assert len(Xs) == 10 and np.array_equal(Xs[:, 0] // 2, ys)
    assert np.array_equal(subset(X, y, 0.1, seed=3)[1], ys)
    assert np.array_equal(subset(X, y, 0.1, seed=np.random.default_rng(3))[1], ys)
    for seed in (True, 1.5, -1):  # the seed check MLP uses: True is not taken as 1
        with pytest.raises((TypeError, ValueError), match=f"seed must be None or an integer >= 0.*{seed}"):
            subset(X, y, 0.1, seed=seed)
    with pytest.raises(ValueError, match="fraction"):
        subset(X, y, 0)
