"""MLP.load on files that lie: every header is checked before its data is read.

The memory figures are peak RSS (VmHWM in /proc/self/status) of a fresh
process around the call, so nothing this test process did counts; without
/proc (macOS, Windows) only the errors are checked.
"""

import io
import os
import re
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from cymlp import MLP

MiB = 1 << 20
LINUX = sys.platform.startswith("linux")

PEAK_OF_LOADS = """
import sys
from cymlp import MLP

def peak():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except FileNotFoundError:  # not Linux: no peak to read
        return None

before = peak()
for path in sys.argv[1:]:
    try:
        MLP.load(path)
        print("loaded")
    except ValueError as error:
        print(error)
print(before and peak() - before)
"""


def peak_of_loads(*paths):
    """The message of MLP.load (or "loaded") for each path, loaded one after the other in a
    fresh process, and how much that process's peak RSS grew over all of them (bytes; None
    without /proc)."""
    result = subprocess.run([sys.executable, "-c", PEAK_OF_LOADS, *map(str, paths)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    *messages, growth = result.stdout.strip().split("\n")
    return messages, None if growth == "None" else int(growth)


def saved_members(tmp_path, sizes=(4, 3, 2)):
    """The members of a good saved model, as {name: array}."""
    MLP(list(sizes), seed=0).save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as data:
        return {key: data[key] for key in data.files}


def write_npz(path, members, lies=None):
    """An .npz of the members, where ``lies`` maps a name to (header, data bytes): a header that
    claims an array (e.g. a shape) and the zeros that back it, deflated (a few hundred KB)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, value in members.items():
            if lies and key in lies:
                continue
            with archive.open(key + ".npy", "w") as member:
                npy_format.write_array(member, np.asanyarray(value), allow_pickle=False)
        for key, (header, n_bytes) in (lies or {}).items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                npy_format.write_array_header_1_0(member, header)
                zeros = bytes(MiB)
                for start in range(0, n_bytes, MiB):
                    member.write(zeros[: min(MiB, n_bytes - start)])
    return path


def test_headers_that_lie_cost_no_memory(tmp_path):
    # Each header claims far more than the model [4, 3, 2] needs, backed by real (deflated)
    # zeros: np.load would allocate and fill all of it before any shape could be checked.
    lies = {
        # the case, scaled down to 128 MiB: weights_0 claims (4096, 4096), the model (3, 4)
        "weights_0": ({"descr": "<f8", "fortran_order": False, "shape": (4096, 4096)}, 8 * 4096**2,
                      "weights_0 must be float64 of shape (3, 4), got float64 (4096, 4096)"),
        # layer_sizes itself claiming 10 million entries (80 MB)
        "layer_sizes": ({"descr": "<i8", "fortran_order": False, "shape": (10**7,)}, 8 * 10**7,
                        "'layer_sizes' must be a 1-D list of at most 1000 values, got shape (10000000,)"),
        # an option claiming a 40 MB string
        "cost": ({"descr": "<U10000000", "fortran_order": False, "shape": ()}, 4 * 10**7,
                 "'cost' has dtype <U10000000"),
    }
    members = saved_members(tmp_path)
    paths = [write_npz(tmp_path / f"{key}.npz", members, lies={key: (header, n_bytes)})
             for key, (header, n_bytes, _) in lies.items()]
    assert all(path.stat().st_size < 2 * MiB for path in paths)
    messages, growth = peak_of_loads(*paths)
    for path, message, (_, _, expected) in zip(paths, messages, lies.values()):
        # (the zeros deflate 200:1 or more: a member may be refused as a bomb first)
        assert message.startswith(f"{path}: ") and (expected in message or "would inflate" in message)
    if LINUX:
        assert growth < 16 * MiB, f"peak RSS grew by {growth / MiB:.0f} MiB"


@pytest.mark.skipif(not LINUX, reason="peak RSS is read from Linux's /proc")
@pytest.mark.parametrize("key,header,message", [
    ("weights_0", {"descr": "<f8", "fortran_order": False, "shape": (1000, 1000)},
     "weights_0 must be float64 of shape (3, 4), got float64 (1000, 1000)"),
    ("layer_sizes", {"descr": "<i8", "fortran_order": False, "shape": (10**6,)},
     "'layer_sizes' must be a 1-D list of at most 1000 values, got shape (1000000,)"),
    ("cost", {"descr": "<U1000000", "fortran_order": False, "shape": ()},
     "'cost' has dtype <U1000000"),
])
def test_each_header_is_checked_against_the_declared_model(tmp_path, key, header, message):
    # (8 MB or less claimed: under the zip-bomb rule's 16 MB, so the header checks answer)
    n_bytes = int(np.prod(header["shape"])) * np.dtype(header["descr"]).itemsize
    path = write_npz(tmp_path / "lie.npz", saved_members(tmp_path), lies={key: (header, n_bytes)})
    with pytest.raises(ValueError, match=re.escape(message)):
        MLP.load(path)


def test_an_honest_model_loads_within_a_small_multiple_of_its_size(tmp_path):
    sizes = [784, 1000, 1000, 10]
    net = MLP(sizes, seed=0)
    net.save(tmp_path / "big.npz")
    model_bytes = sum(W.nbytes for W in net.weights + net.biases)  # 14.4 MB
    messages, growth = peak_of_loads(tmp_path / "big.npz")
    assert messages == ["loaded"]
    # the new model's own (randomly initialised) arrays, then each saved array read into them
    assert growth < 3 * model_bytes + 16 * MiB, f"{growth / MiB:.0f} MiB for a {model_bytes / MiB:.0f} MiB model"


@pytest.mark.skipif(not LINUX, reason="peak RSS is read from Linux's /proc")
def test_a_new_model_peaks_at_its_own_size():
    # [2000, 4000, 10] in float64: 64 MB of weights, drawn a layer at a time and scaled in place
    code = ("from cymlp import MLP\n"
            "def hwm():\n"
            "    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status')\n"
            "                if l.startswith('VmHWM'))\n"
            "base = hwm(); net = MLP([2000, 4000, 10])\n"
            "print(hwm() - base, sum(a.nbytes for a in net.weights + net.biases))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    growth, model_bytes = map(int, result.stdout.split())
    assert growth < model_bytes * 1.2 + 8 * MiB, f"{growth / MiB:.0f} MiB for a {model_bytes / MiB:.0f} MiB model"


def test_a_zip_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    # a model that declares 32 MB of weights and backs them with 32 MB of zeros, deflated to 30 KB
    sizes = (2000, 2000, 2)
    members = saved_members(tmp_path, sizes)
    path = write_npz(tmp_path / "bomb.npz", members, lies={
        "weights_0": ({"descr": "<f8", "fortran_order": False, "shape": (2000, 2000)}, 8 * 2000 * 2000)})

    def build(*args, **kwargs):   # (a declared model is only built once its members are checked)
        raise AssertionError("the declared model was built before the bomb was found")

    monkeypatch.setattr(MLP, "__init__", build)
    with pytest.raises(ValueError, match=r"weights_0 would inflate \d+ bytes to 32000128"):
        MLP.load(path)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links and POSIX modes")
def test_save_writes_the_path_it_is_given_and_an_interrupted_save_keeps_the_old_file(
        tmp_path, monkeypatch):
    net, other = MLP([4, 3, 2], seed=0), MLP([4, 3, 2], seed=1)
    net.save(tmp_path / "model")   # no suffix added
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert np.array_equal(MLP.load(tmp_path / "model").weights[0], net.weights[0])

    def interrupted(self, file, arrays):
        file.write(b"PK half a file")
        raise KeyboardInterrupt

    os.chmod(tmp_path / "model", 0o600)
    (tmp_path / "link").symlink_to("model")
    with monkeypatch.context() as patch:
        patch.setattr(MLP, "_write_npz", interrupted)
        for target in ("model", "link"):
            with pytest.raises(KeyboardInterrupt):
                other.save(tmp_path / target)
            assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "model"]
            assert np.array_equal(MLP.load(tmp_path / "model").weights[0], net.weights[0])
        with pytest.raises(KeyboardInterrupt):   # a new file is not left half written
            other.save(tmp_path / "new")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "model"]
    other.save(tmp_path / "link")   # replaces the file the link names, keeping its mode
    assert (tmp_path / "link").is_symlink() and stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o600
    assert np.array_equal(MLP.load(tmp_path / "model").weights[0], other.weights[0])
    buffer = io.BytesIO()   # a file object takes the archive as it is
    net.save(buffer)
    buffer.seek(0)
    (tmp_path / "from_buffer").write_bytes(buffer.read())
    assert np.array_equal(MLP.load(tmp_path / "from_buffer").weights[0], net.weights[0])


def test_a_member_whose_size_disagrees_with_its_header_is_rejected(tmp_path):
    path = write_npz(tmp_path / "long.npz", saved_members(tmp_path), lies={
        "weights_0": ({"descr": "<f8", "fortran_order": False, "shape": (3, 4)}, 8096)})
    with pytest.raises(ValueError, match=r"weights_0's header says float64 \(3, 4\) \(96 bytes\) "
                                         r"but the member holds 8096 bytes"):
        MLP.load(path)


def test_pickles_other_compression_and_fortran_order(tmp_path):
    members = saved_members(tmp_path)
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as archive:
        for key, value in members.items():
            with archive.open(key + ".npy", "w") as member:
                if key == "biases_0":
                    value = np.array([{"x": 1}, None, None], dtype=object)
                npy_format.write_array(member, value, allow_pickle=True)
    with pytest.raises(ValueError, match=r"not a cymlp model file: 'biases_0' holds Python objects"):
        MLP.load(tmp_path / "pickled.npz")

    with zipfile.ZipFile(tmp_path / "bz2.npz", "w", zipfile.ZIP_BZIP2) as archive:
        for key, value in members.items():
            with archive.open(key + ".npy", "w") as member:
                npy_format.write_array(member, value)
    with pytest.raises(ValueError, match="compression method 12"):
        MLP.load(tmp_path / "bz2.npz")

    # an array stored in Fortran order is read as the array it is
    net = MLP.load(tmp_path / "good.npz")
    members["weights_0"] = np.asfortranarray(members["weights_0"])
    write_npz(tmp_path / "fortran.npz", members)
    np.testing.assert_array_equal(MLP.load(tmp_path / "fortran.npz").weights[0], net.weights[0])


def test_a_truncated_archive_names_the_problem(tmp_path):
    MLP([4, 3, 2], seed=0).save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    for cut in (len(data) // 3, len(data) - 30):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a readable .npz file"):
            MLP.load(tmp_path / "cut.npz")


def test_save_to_a_folder_is_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="save takes a file name"):
        MLP([4, 3, 2], seed=0).save(folder)
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_a_replaced_model_file_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    MLP([4, 3, 2], seed=0).save(path)
    events = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda *a: (events.append("replace"), replace(*a))[1])
    MLP([4, 3, 2], seed=1).save(path)
    assert events == ["fsync", "replace"]
    np.testing.assert_array_equal(MLP.load(path).weights[0], MLP([4, 3, 2], seed=1).weights[0])
