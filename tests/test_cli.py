"""The command line: its checks in-process (fast), its runs in a subprocess, as a user runs it."""

import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from cymlp.__main__ import main


def cymlp(*args, env=None, cwd=None, timeout=300):
    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "cymlp", *args], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=timeout)


def run_main(capsys, *args):
    """``cymlp args`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as exit:  # argparse: --help, or a command line it cannot parse
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, out, err, message):
    assert status == 2, (status, out, err)
    assert len(err.splitlines()) == 1 and message in err, err
    assert "Traceback" not in err and "Epoch" not in out


def is_image(path, magic=b"\x89PNG\r\n\x1a\n"):
    return path.is_file() and path.read_bytes()[:len(magic)] == magic and path.stat().st_size > 1000


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No MNIST anywhere and no download: an option checked after loading would fail on the data."""
    monkeypatch.setenv("CYMLP_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("")
    return tmp_path


@pytest.fixture
def tiny_idx(tmp_path):
    """A folder in MNIST's layout with 20 training and 10 test images of 4x4 pixels, 3 classes:
    `train --dataset idx` on it takes a fraction of a second."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for part, n in (("train", 20), ("t10k", 10)):
        for name, array in ((f"{part}-images-idx3-ubyte", rng.integers(0, 256, (n, 4, 4))),
                            (f"{part}-labels-idx1-ubyte", np.arange(n) % 3)):
            array = array.astype(np.uint8)
            (folder / name).write_bytes(bytes([0, 0, 8, array.ndim])
                                        + struct.pack(f">{array.ndim}I", *array.shape)
                                        + array.tobytes())
    return folder


@pytest.mark.parametrize("args,message", [
    (["train", "--lr", "-1"], "--lr -1: must be a finite number > 0"),
    (["train", "--lr", "nan"], "--lr nan: must be a finite number > 0"),
    (["train", "--l2", "-1"], "--l2 -1: must be a finite number >= 0"),
    (["train", "--momentum", "1"], "--momentum 1: must be in [0, 1)"),
    (["train", "--batch-size", "0"], "--batch-size 0: must be an integer >= 1"),
    (["train", "--epochs", "0"], "--epochs 0: must be an integer >= 1"),
    (["train", "--interval", "0"], "--interval 0: must be an integer >= 1"),
    (["train", "--patience", "0"], "--patience 0: must be an integer >= 1"),
    (["train", "--seed", "-1"], "--seed -1: must be an integer >= 0"),
    (["reproduce", "fig7", "--jobs", "0"], "--jobs 0: must be an integer >= 1"),
    (["bench", "--repeats", "0"], "--repeats 0: must be an integer >= 1"),
    (["train", "--layers", "784,x"], "argument --layers: expected comma-separated integers"),
    (["train", "--layers", "784"], "--layers 784: needs at least an input and an output layer"),
    (["train", "--layers", "784,0,10"], "--layers 784,0,10: every layer needs at least one unit"),
    (["train", "--cost", "cross_entropy", "--output-activation", "relu"],
     "--cost cross_entropy needs --output-activation sigmoid or softmax, got relu"),
    (["train", "--gd", "stochastic"], "argument --gd: invalid choice"),
    (["train", "--output-activation", "identity"], "argument --output-activation: invalid choice"),
    (["train", "--layers", "784,1000000000000,10"],
     "--layers 784,1000000000000,10: the network's 795,000,000,000,010 weights do not fit in "
     "this machine's memory"),
    (["reproduce", "fig99"], "invalid choice: 'fig99'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["reproduce", "fig7", "--backend", "spark"], "argument --backend: backend must be one of"),
    (["reproduce", "fig7", "--backend", "dask="], "expected dask=SCHEDULER_ADDRESS"),
    (["train", "--save", "{tmp}/missing/model"],
     "--save {tmp}/missing/model: folder {tmp}/missing does not exist"),
    (["train", "--save", "{tmp}"], "--save {tmp}: is a folder"),
    (["train", "--plot", "{tmp}/curve.xyz"], "--plot {tmp}/curve.xyz: matplotlib cannot write .xyz files"),
    (["train", "--plot", "{tmp}/a_file/curve.png"], "{tmp}/a_file is not a folder"),
    (["reproduce", "fig3", "--out", "{tmp}/a_file/figures"], "--out {tmp}/a_file/figures: cannot create"),
    (["train", "--data", "{tmp}/nowhere"], "--data {tmp}/nowhere: no such folder"),
    # an empty path is not taken for the option left out
    (["train", "--save", ""], "argument --save: expected a path, got ''"),
    (["train", "--plot", ""], "argument --plot: expected a path, got ''"),
    (["train", "--data", ""], "argument --data: expected a path, got ''"),
    (["reproduce", "fig3", "--out", ""], "argument --out: expected a path, got ''"),
    (["bench", "--out", ""], "argument --out: expected a path, got ''"),
    # under the subcommand's name where it follows the subcommand
    (["train", "--bogus"], "cymlp train: error: unrecognized arguments: --bogus"),
    (["reproduce", "fig3", "extra"], "cymlp reproduce: error: unrecognized arguments: extra"),
    (["--bogus", "bench"], "cymlp: error: unrecognized arguments: --bogus"),
])
def test_bad_options_end_in_one_line_before_any_data_is_loaded(capsys, no_data, args, message):
    if "--plot" in args:
        pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    args = [arg.replace("{tmp}", str(no_data)) for arg in args]
    status, out, err = run_main(capsys, *args, "--no-download")
    assert_one_line_error(status, out, err, message.replace("{tmp}", str(no_data)))
    assert out == ""


@pytest.mark.skipif(not os.path.isdir("/sys") or sys.platform == "win32",
                    reason="needs a folder nobody may write in: /sys on Linux")
def test_a_folder_that_cannot_be_written_is_refused(capsys, no_data):
    folder = no_data / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root may write anywhere; /sys refuses even root
        folder = "/sys"
    status, out, err = run_main(capsys, "train", "--save", f"{folder}/model.npz", "--no-download")
    assert_one_line_error(status, out, err, f"--save {folder}/model.npz: cannot write in {folder}")


def test_pgf_without_latex_is_refused_before_training_and_not_suggested(capsys, no_data,
                                                                          monkeypatch):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    monkeypatch.setenv("PATH", str(no_data / "empty"))  # no xelatex, which matplotlib's pgf runs
    status, out, err = run_main(capsys, "train", "--plot", f"{no_data}/curve.pgf", "--no-download")
    assert_one_line_error(status, out, err, f"--plot {no_data}/curve.pgf: matplotlib writes .pgf "
                                            f"files with xelatex, which is not installed")
    status, out, err = run_main(capsys, "train", "--plot", f"{no_data}/curve.xyz", "--no-download")
    assert_one_line_error(status, out, err, "use one of .")
    assert ".pdf" in err and ".pgf" not in err


@pytest.mark.parametrize("args", [["reproduce", "table1"], ["reproduce", "fig9"], ["bench"]])
def test_a_refused_argument_leaves_no_out_folder_behind(capsys, no_data, args):
    status, out, err = run_main(capsys, *args, "--out", f"{no_data}/new/a/b",
                                "--data", f"{no_data}/nowhere")
    assert_one_line_error(status, out, err, f"--data {no_data}/nowhere: no such folder")
    assert not (no_data / "new").exists()


def test_bench_refuses_an_out_folder_it_cannot_create(capsys, no_data, monkeypatch):
    # (without --no-download, which bench's MNIST check, made before --out's, would refuse)
    monkeypatch.setattr("cymlp.bench.main", lambda argv: pytest.fail("bench ran"))
    status, out, err = run_main(capsys, "bench", "--out", f"{no_data}/a_file/x")
    assert_one_line_error(status, out, err, f"--out {no_data}/a_file/x: cannot create")


def test_no_download_says_where_it_looked_and_how_to_pass_a_folder(capsys, no_data):
    status, out, err = run_main(capsys, "train", "--no-download")
    assert_one_line_error(status, out, err, "--no-download: MNIST file train-images-idx3-ubyte")
    assert str(no_data / "empty") in err and str(no_data / "cache" / "cymlp") in err
    assert "--data FOLDER" in err and "CYMLP_DATA" in err


@pytest.mark.parametrize("args,message", [
    (["--layers", "783,10"], "--layers 783,10: the input layer must have 784 units"),
    (["--layers", "784,16,5"], "--layers 784,16,5: the output layer must have 10 units"),
    (["--batch-size", "60001"], "--batch-size 60001: larger than the 60000 training images"),
])
def test_options_that_need_the_data_are_checked_before_the_first_epoch(capsys, mnist_dir, args,
                                                                       message):
    status, out, err = run_main(capsys, "train", *args, "--data", str(mnist_dir), "--no-download")
    assert_one_line_error(status, out, err, message)
    assert out == ""


def test_train_prints_each_result_once_and_names_the_files_it_wrote(mnist_dir, mnist, tmp_path):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    from cymlp import MLP

    args = ["train", "--layers", "784,30,10", "--lr", "3", "--batch-size", "10", "--epochs", "2",
            "--interval", "1", "--seed", "0", "--data", str(mnist_dir)]
    result = cymlp(*args, "--save", str(tmp_path / "model"), "--plot", str(tmp_path / "curve"))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["Epoch 0", "Epoch 1", "Epoch 2"]
    assert lines[3].startswith("MLP([784, 30, 10]), 23860 parameters: 2 epochs in ")
    # the files actually written: numpy appends .npz, matplotlib's default format is png
    assert lines[4:] == [f"saved the model to {tmp_path / 'model.npz'}", f"wrote {tmp_path / 'curve.png'}"]
    assert is_image(tmp_path / "curve.png")
    assert lines[2].split()[2] == str(MLP.load(tmp_path / "model.npz").evaluate(mnist[1]))

    quiet = cymlp(*args, "--quiet")
    assert quiet.returncode == 0 and quiet.stdout.splitlines() == [lines[2]]  # the result only


def test_train_with_options_and_patience_saves_the_weights_it_says_it_kept(mnist_dir, mnist, tmp_path):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    from cymlp import MLP

    path = tmp_path / "model.npz"
    result = cymlp("train", "--layers", "784,20,10", "--activation", "relu", "--output-activation",
                   "softmax", "--cost", "cross_entropy", "--init", "he", "--lr", "0.05",
                   "--momentum", "0.9", "--l2", "1", "--epochs", "3", "--interval", "1",
                   "--patience", "2", "--seed", "3", "--data", str(mnist_dir), "--save", str(path),
                   "--plot", str(tmp_path / "curve.svg"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    kept = [line for line in lines if "kept the weights of epoch" in line]
    assert len(kept) == 1
    epoch = kept[0].split()[-1]
    net = MLP.load(path)
    assert net.activation == "relu" and net.cost == "cross_entropy"
    assert [line.split()[2] for line in lines if line.startswith(f"Epoch {epoch}:")] == \
        [str(net.evaluate(mnist[1]))]
    assert (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for xelatex")
def test_a_plot_that_fails_after_training_is_one_line_and_the_model_is_saved_first(tiny_idx,
                                                                                   tmp_path):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    from cymlp import MLP

    # an xelatex that fails, as one without LaTeX's fonts or packages would: the up-front check
    # finds it, and matplotlib's pgf backend fails on it only once training is over
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "xelatex").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "bin" / "xelatex").chmod(0o755)
    model, curve = tmp_path / "model.npz", tmp_path / "curve.pgf"
    result = cymlp("train", "--dataset", "idx", "--data", str(tiny_idx), "--epochs", "1",
                   "--batch-size", "4", "--save", str(model), "--plot", str(curve),
                   env={"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"cymlp train: error: --plot {curve}: drawing the plot "
                                    f"failed (") and "Traceback" not in result.stderr
    assert result.stderr.endswith(f"; the model was saved to {model}\n")
    assert not curve.exists()  # no partial .pgf is left behind
    assert f"saved the model to {model}" in result.stdout
    assert MLP.load(model).layer_sizes == (16, 64, 32, 3)


def test_the_readme_command_prints_table1_once_and_writes_nothing(mnist_dir, tmp_path):
    """`CYMLP_DATA=... cymlp reproduce table1` run in a folder leaves it as it was (the
    checkout stays clean), and prints each row once: as it comes, or at the end with --quiet."""
    env = {"CYMLP_DATA": str(mnist_dir)}
    result = cymlp("reproduce", "table1", "--epochs", "1", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    lines = result.stdout.splitlines()
    rows = [line for line in lines if line.split()[:1] in (["0"], ["1"])]
    assert len(rows) == 2 and "815/10000" in rows[0] and "1049/10000" in rows[0]  # beside the paper
    assert sum("815/10000" in line for line in lines) == 1
    assert any(line.startswith("table1: done in") for line in lines)

    quiet = cymlp("reproduce", "table1", "--epochs", "1", "--quiet", env=env, cwd=tmp_path)
    assert quiet.returncode == 0 and list(tmp_path.iterdir()) == []
    assert [line for line in quiet.stdout.splitlines() if line in rows] == rows
    assert "done in" not in quiet.stdout


def test_reproduce_everything_with_a_process_backend(mnist_dir, tmp_path):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    result = cymlp("reproduce", "all", "--epochs", "1", "--jobs", "2", "--backend", "loky",
                   "--out", str(tmp_path / "out"), "--data", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    assert "paper:" in result.stdout and "1049/10000" in result.stdout  # side by side
    assert "fig9 skipped: no EMNIST Balanced files" in result.stdout
    for name in ("fig3.png", "fig4.png", "fig6.png", "fig7.png", "fig8.png"):
        assert is_image(tmp_path / "out" / name), name
    table = (tmp_path / "out" / "fig8.md").read_text()
    assert "| [784, 64, 32, 10] | 52650 |" in table and table.count("\n") == 9
    assert (tmp_path / "out" / "fig7.txt").read_text().count("/10000") == 6
    # each run's line reaches this process, once, with the results of any other backend
    runs = sorted(line for line in result.stdout.splitlines() if "of the training set:" in line)
    assert len(runs) == 6
    threads = cymlp("reproduce", "fig7", "--epochs", "1", "--quiet", "--data", str(mnist_dir))
    assert sorted(line for line in threads.stdout.splitlines() if "of the training set:" in line) == runs


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT to another process on Windows")
@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(mnist_dir, delay):
    # as the installed `cymlp` script runs it: start-up is imports, checks and loading MNIST
    script = "import sys; from cymlp.__main__ import main; sys.exit(main())"
    for attempt in range(3):
        child = subprocess.Popen([sys.executable, "-c", script, "train", "--data", str(mnist_dir)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        # CPython drops a KeyboardInterrupt raised inside a weakref callback, such as the one
        # its import machinery runs after each import ("Exception ignored in: <function
        # _get_module_lock.<locals>.cb ...>"): nothing after it can see that Ctrl-C was pressed
        if not ("_get_module_lock" in err and "KeyboardInterrupt" in err):
            break
    assert child.returncode == 130 and err == "cymlp: interrupted\n", (child.returncode, err)


def test_a_reader_that_stops_early_gets_no_traceback(mnist_dir):
    child = subprocess.Popen([sys.executable, "-m", "cymlp", "train", "--layers", "784,10",
                              "--epochs", "3", "--interval", "1", "--data", str(mnist_dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().startswith("Epoch 0:")
    child.stdout.close()  # as `cymlp train | head -1` does
    assert child.wait(timeout=120) == 1 and child.stderr.read() == ""


def test_help_for_every_command():
    for command in ([], ["train"], ["reproduce"], ["bench"]):
        result = cymlp(*command, "--help")
        assert result.returncode == 0 and "usage: cymlp" in result.stdout
    assert "dask=SCHEDULER_ADDRESS" in cymlp("reproduce", "--help").stdout


def test_data_problems_found_at_load_are_one_line(tmp_path, mnist_dir, capsys):
    """bench's MNIST, and fig9's EMNIST with too few images, as train's: one line, exit 2."""
    import gzip
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(mnist_dir, bad)
    labels = bad / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[-1] ^= 1   # one label changed: a valid IDX file with the wrong checksum
    labels.write_bytes(gzip.compress(bytes(data)))
    assert_one_line_error(*run_main(capsys, "bench", "--quick", "--data", str(bad)),
                          "not the published MNIST file")
    emnist = tmp_path / "emnist"
    emnist.mkdir()
    for part, n in (("train", 12), ("test", 4)):
        for kind, array in (("images-idx3", np.zeros((n, 28, 28), np.uint8)),
                            ("labels-idx1", np.arange(n, dtype=np.uint8) % 47)):
            (emnist / f"emnist-balanced-{part}-{kind}-ubyte").write_bytes(
                bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
                + array.tobytes())
    (emnist / "emnist-balanced-mapping.txt").write_text(
        "".join(f"{i} {48 + i}\n" for i in range(47)))
    assert_one_line_error(*run_main(capsys, "reproduce", "fig9", "--data", str(emnist)),
                          "fig9 draws 40 EMNIST Balanced training images; the files in")
