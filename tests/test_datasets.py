"""The IDX reader and the MNIST loader."""

import gzip
import shutil

import numpy as np
import pytest

from cymlp.datasets import MNIST_FILES, load_idx, load_mnist, parse_idx


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
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.*CYMLP_DATA"):
        load_mnist(tmp_path)
    monkeypatch.delenv("CYMLP_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="CYMLP_DATA"):
        load_mnist()


def test_truncated_mnist_file_names_the_file(mnist_dir, tmp_path):
    copy_mnist(mnist_dir, tmp_path, skip={"t10k-images-idx3-ubyte"})
    data = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(data[:-100])  # raw, not gzip
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: truncated"):
        load_mnist(tmp_path)


def test_mismatched_counts_are_an_error(mnist_dir, tmp_path):
    copy_mnist(mnist_dir, tmp_path, skip={"t10k-labels-idx1-ubyte"})
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5), 0x08))
    with pytest.raises(ValueError, match="10000 images but .* 5 labels"):
        load_mnist(tmp_path)
