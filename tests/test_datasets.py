"""The IDX reader and the MNIST loader."""

import gzip
import shutil

import numpy as np
import pytest

from cymlp.datasets import MNIST_FILES, load_emnist, load_idx, load_mnist, one_hot, parse_idx, subset


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
        load_mnist(tmp_path)


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
    assert cached == sorted(stem + ".gz" for stem in MNIST_FILES.values())
    assert "downloading" in capsys.readouterr().err
    # a second load reads the cache: no server needed
    load_mnist(mirrors=[])


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
    with pytest.raises(ValueError, match="fraction"):
        subset(X, y, 0)
