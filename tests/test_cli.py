"""The command line, run as a user would: in a subprocess."""

import os
import subprocess
import sys

import pytest


def cymlp(*args, env=None, timeout=240):
    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "cymlp", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


def is_png(path):
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_train_prints_progress_and_the_table_and_plots(mnist_dir, tmp_path):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    plot = tmp_path / "curve.png"
    result = cymlp("train", "--layers", "784,30,10", "--lr", "3", "--batch-size", "10",
                   "--epochs", "2", "--interval", "1", "--seed", "0", "--data", str(mnist_dir),
                   "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Epoch 0: ") and lines[2].startswith("Epoch 2: ")
    assert any(line.split()[:1] == ["2"] and line.endswith("/10000") for line in lines)
    assert is_png(plot)


def test_train_with_options_saves_a_model_that_loads(mnist_dir, mnist, tmp_path):
    from cymlp import MLP

    path = tmp_path / "model.npz"
    result = cymlp("train", "--layers", "784,20,10", "--activation", "relu", "--output-activation",
                   "softmax", "--cost", "cross_entropy", "--init", "he", "--lr", "0.05",
                   "--momentum", "0.9", "--l2", "1", "--epochs", "1", "--interval", "1",
                   "--seed", "3", "--data", str(mnist_dir), "--save", str(path))
    assert result.returncode == 0, result.stderr
    final = [line for line in result.stdout.splitlines() if line.startswith("Epoch 1:")][0]
    net = MLP.load(path)
    assert net.activation == "relu" and net.cost == "cross_entropy"
    assert final.split()[2] == str(net.evaluate(mnist[1]))


def test_reproduce_everything_on_few_epochs(mnist_dir, tmp_path):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    result = cymlp("reproduce", "all", "--epochs", "1", "--jobs", "2", "--out", str(tmp_path),
                   "--data", str(mnist_dir))
    assert result.returncode == 0, result.stderr
    assert "paper:" in result.stdout and "1049/10000" in result.stdout  # side by side
    for name in ("fig6.png", "fig7.png", "fig8.png"):
        assert is_png(tmp_path / name), name
    table = (tmp_path / "fig8.md").read_text()
    assert "| [784, 64, 32, 10] | 52650 |" in table and table.count("\n") == 9
    assert (tmp_path / "fig7.txt").read_text().count("/10000") == 6


@pytest.mark.parametrize("args,message", [
    (["train", "--layers", "784,x"], "comma-separated integers"),
    (["train", "--lr", "-1"], "must be > 0"),
    (["train", "--epochs", "0"], "must be > 0"),
    (["train", "--cost", "cross_entropy", "--output-activation", "relu"], "needs output_activation"),
    (["reproduce", "fig9"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_non_zero_with_one_message(args, message):
    result = cymlp(*args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_missing_data_says_where_it_looked(tmp_path):
    env = {"CYMLP_DATA": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = cymlp("train", "--no-download", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "train-images-idx3-ubyte" in result.stderr and str(tmp_path) in result.stderr
    assert "CYMLP_DATA" in result.stderr
    result = cymlp("train", "--layers", "784,10", "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_help_for_every_command():
    for command in ([], ["train"], ["reproduce"], ["bench"]):
        result = cymlp(*command, "--help")
        assert result.returncode == 0 and "usage: cymlp" in result.stdout
