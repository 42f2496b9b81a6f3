"""Figures 3, 4 and 9, EMNIST and any MNIST-layout data set, in Python and from the command line."""

import gzip

import numpy as np
import pytest
from test_cli import cymlp, is_image as is_png
from test_datasets import idx_bytes, write_emnist

from cymlp import experiments
from cymlp.datasets import (DATASETS, EMNIST_CLASSES, MNIST_FILES, load_dataset, load_emnist,
                            load_idx_folder, scale)

BALANCED = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"  # EMNIST Balanced's 47 characters


def one_line_error(result, message):
    """Exit status 2, one line on stderr that says ``message``, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def emnist_dir(tmp_path):
    """EMNIST Balanced files as the real ones are laid out, with random upright images."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "emnist"
    folder.mkdir()
    mapping = dict(enumerate(BALANCED))
    for part, n in (("train", 120), ("test", 40)):
        upright = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        upright[:, :4, :] = 255  # a bar at the top of every upright image
        write_emnist(folder, "balanced", upright, rng.integers(0, 47, n).astype(np.uint8), mapping, part)
    return folder


def write_idx_folder(folder, n_classes=3, shape=(8, 8), compress=True):
    """A small data set in MNIST's layout: four files with MNIST's names."""
    rng = np.random.default_rng(2)
    folder.mkdir(exist_ok=True)
    arrays = {}
    for part, n in (("train", 90), ("test", 30)):
        arrays[f"{part}_images"] = rng.integers(0, 256, (n, *shape)).astype(np.uint8)
        arrays[f"{part}_labels"] = (np.arange(n) % n_classes).astype(np.uint8)
    for key, stem in MNIST_FILES.items():
        data = idx_bytes(arrays[key], 0x08)
        if compress:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


# ---------------------------------------------------------------- Figure 3

def test_activation_curves_are_the_compiled_cores_functions():
    z = np.linspace(-6, 6, 241)
    expected = {"relu": np.maximum(z, 0), "leaky_relu": np.where(z > 0, z, 0.1 * z),
                "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}
    curves = experiments.fig3(z_max=6, points=241, leaky_slope=0.1)
    assert list(curves) == ["relu", "leaky_relu", "sigmoid", "tanh"]
    for name, want in expected.items():
        zs, f = curves[name]
        np.testing.assert_array_equal(zs, z)
        np.testing.assert_allclose(f, want, rtol=1e-14, atol=1e-15, err_msg=name)
    np.testing.assert_array_equal(experiments.activation_curve("leaky_relu", [-2.0, 3.0], 0.01), [-0.02, 3.0])
    with pytest.raises(ValueError, match="z must be 1-D"):
        experiments.activation_curve("tanh", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="output_activation"):
        experiments.activation_curve("step", z)


# ---------------------------------------------------------------- Figure 4

def test_fig4_is_the_first_training_eight_scaled_to_0_1(mnist, mnist_dir):
    (X, y), _ = mnist
    image, label, index = experiments.fig4((X, y))
    assert label == 8 and index == int(np.flatnonzero(y == 8)[0]) and image.shape == (28, 28)
    np.testing.assert_array_equal(image, X[index].reshape(28, 28))
    assert image.min() == 0.0 and image.max() == 1.0
    (X_raw, y_raw), _ = load_dataset("mnist", mnist_dir, raw=True)[:2]
    raw_image, _, _ = experiments.fig4((X_raw, y_raw))
    np.testing.assert_array_equal(raw_image, image)  # uint8 scaled exactly as load_mnist scales
    assert experiments.fig4((X, y), index=0)[1:] == (5, 0)
    with pytest.raises(ValueError, match="index must be in 0..59999"):
        experiments.fig4((X, y), index=60000)
    with pytest.raises(ValueError, match="no training image of digit 11"):
        experiments.fig4((X, y), digit=11)


# ---------------------------------------------------------------- Figure 9 and EMNIST

def test_fig9_draws_upright_emnist_images_with_their_characters_from_a_seed(emnist_dir):
    train, _, classes = load_dataset("emnist-balanced", emnist_dir, raw=True)
    assert classes == tuple(BALANCED)
    chosen = experiments.fig9(train, classes, n=12, seed=3)
    assert len(chosen) == 12 and len({index for _, _, index in chosen}) == 12
    for image, character, index in chosen:
        np.testing.assert_array_equal(image, scale(train[0][index]).reshape(28, 28))
        assert (image[:4] == 1.0).all()  # the bar is at the top: upright
        assert character == BALANCED[train[1][index]]
    again = experiments.fig9(train, classes, n=12, seed=3)
    assert [c[2] for c in again] == [c[2] for c in chosen]
    assert [c[2] for c in experiments.fig9(train, classes, n=12, seed=4)] != [c[2] for c in chosen]
    with pytest.raises(ValueError, match="n must be in 1..120"):
        experiments.fig9(train, classes, n=121)
    with pytest.raises(TypeError, match="seed must be None or an integer >= 0, got True"):
        experiments.fig9(train, classes, n=12, seed=True)


def test_every_emnist_split_is_a_dataset_name():
    assert {f"emnist-{split}" for split in EMNIST_CLASSES} <= set(DATASETS)
    assert {"mnist", "idx"} <= set(DATASETS)


def test_letters_mapping_has_two_codes_per_label_and_no_label_0(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.array([1, 2, 26, 3, 1], dtype=np.uint8)
    write_emnist(tmp_path, "letters", images, labels, {}, "train")
    write_emnist(tmp_path, "letters", images, labels, {}, "test")
    (tmp_path / "emnist-letters-mapping.txt").write_text(
        "".join(f"{i} {64 + i} {96 + i}\n" for i in range(1, 27)))  # as the real file: "1 65 97"
    train, test, classes = load_dataset("emnist-letters", tmp_path)
    assert len(classes) == EMNIST_CLASSES["letters"] == 27
    assert classes[0] == "" and classes[1] == "Aa" and classes[26] == "Zz"
    assert load_emnist("letters", path=tmp_path)[2][2] == "Bb"


@pytest.mark.parametrize("mapping_text,message", [
    ("".join(f"{i} {48 + i}\n" for i in range(10)), "does not match .*no character for label"),
    ("0 48\n0 49\n", "new label"),
    ("0 48\nseven 55\n", "mapping.txt:2: expected"),
    ("\n", "the mapping is empty"),
])
def test_a_mapping_that_does_not_fit_is_an_error(emnist_dir, mapping_text, message):
    (emnist_dir / "emnist-balanced-mapping.txt").write_text(mapping_text)
    with pytest.raises(ValueError, match=message):
        load_dataset("emnist-balanced", emnist_dir)


# ---------------------------------------------------------------- any MNIST-layout folder

@pytest.mark.parametrize("compress", [True, False])
def test_load_idx_folder_reads_any_mnist_layout_set(tmp_path, compress):
    arrays = write_idx_folder(tmp_path / "set", shape=(8, 6), compress=compress)
    (X, y), (Xt, yt) = load_idx_folder(tmp_path / "set")
    assert X.shape == (90, 48) and Xt.shape == (30, 48) and X.dtype == np.float64
    np.testing.assert_array_equal(X, scale(arrays["train_images"].reshape(90, 48)))
    np.testing.assert_array_equal(yt, arrays["test_labels"])
    (Xr, _), _ = load_idx_folder(tmp_path / "set", raw=True)
    assert Xr.dtype == np.uint8
    train, test, classes = load_dataset("idx", tmp_path / "set")
    assert classes == ("0", "1", "2")
    assert experiments.layers_for(load_dataset("idx", tmp_path / "set")) == [48, 64, 32, 3]


def test_load_idx_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_idx_folder(tmp_path / "nowhere")
    write_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.*not found"):
        load_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(30), 0x0D))
    with pytest.raises(ValueError, match="labels must be unsigned bytes"):
        load_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(30), 0x08))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((30, 9, 8)), 0x08)))
    with pytest.raises(ValueError, match=r"\(8, 8\) images but .* \(9, 8\)"):
        load_idx_folder(tmp_path)
    with pytest.raises(ValueError, match="needs the folder"):
        load_dataset("idx")
    with pytest.raises(ValueError, match="unknown data set 'emnist'"):
        load_dataset("emnist")


def test_layers_for_sizes_the_output_layer_from_the_data(emnist_dir):
    data = load_dataset("emnist-balanced", emnist_dir)
    assert experiments.layers_for(data) == [784, 64, 32, 47]
    assert experiments.layers_for(data, [784, 100, 47]) == [784, 100, 47]
    with pytest.raises(ValueError, match="the output layer must have 47 units"):
        experiments.layers_for(data, [784, 64, 32, 10])
    with pytest.raises(ValueError, match="the input layer must have 784 units"):
        experiments.layers_for(data, [785, 47])


# ---------------------------------------------------------------- plots

def test_the_figures_are_drawn(tmp_path, emnist_dir):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    from cymlp import plots

    plots.plot_activations(experiments.fig3(points=51), tmp_path / "fig3.png", leaky_slope=0.1)
    image = np.linspace(0, 1, 784).reshape(28, 28)
    plots.plot_digit(image, 8, tmp_path / "fig4.png")
    train, _, classes = load_dataset("emnist-balanced", emnist_dir)
    chosen = experiments.fig9(train, classes, n=7)
    plots.plot_image_grid([c[0] for c in chosen], [c[1] for c in chosen], tmp_path / "fig9.png", columns=4)
    for name in ("fig3.png", "fig4.png", "fig9.png"):
        assert is_png(tmp_path / name), name


# ---------------------------------------------------------------- command line

def test_train_on_emnist_sizes_the_output_layer_from_the_data(emnist_dir):
    result = cymlp("train", "--dataset", "emnist-balanced", "--data", str(emnist_dir), "--epochs", "2",
                   "--interval", "1", "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert "MLP([784, 64, 32, 47])" in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Epoch 0: ") and lines[2].startswith("Epoch 2: ") and "/40 MSE" in lines[2]
    result = cymlp("train", "--dataset", "emnist-balanced", "--data", str(emnist_dir), "--epochs", "1",
                   "--layers", "784,20,47", "--seed", "0")
    assert result.returncode == 0 and "MLP([784, 20, 47])" in result.stdout
    one_line_error(cymlp("train", "--dataset", "emnist-balanced", "--data", str(emnist_dir),
                         "--layers", "784,64,32,10"), "the output layer must have 47 units")


def test_train_on_any_mnist_layout_folder(tmp_path):
    write_idx_folder(tmp_path / "set", n_classes=4, shape=(5, 5))
    result = cymlp("train", "--dataset", "idx", "--data", str(tmp_path / "set"), "--epochs", "1",
                   "--seed", "0", "--batch-size", "10")
    assert result.returncode == 0, result.stderr
    assert "MLP([25, 64, 32, 4])" in result.stdout and "/30" in result.stdout


def test_bad_data_sets_are_one_line_errors(tmp_path, emnist_dir):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    one_line_error(cymlp("train", "--dataset", "fashion"), "unknown data set 'fashion'")
    one_line_error(cymlp("train", "--dataset", "idx"), "needs the folder")
    one_line_error(cymlp("train", "--dataset", "idx", "--data", str(tmp_path)),
                   "train-images-idx3-ubyte(.gz) not found")
    one_line_error(cymlp("train", "--dataset", "emnist-byclass", "--data", str(emnist_dir)),
                   "emnist-byclass-mapping.txt not found")
    one_line_error(cymlp("reproduce", "fig9", "--data", str(tmp_path), "--out", str(tmp_path)),
                   "emnist-balanced-mapping.txt not found")
    (emnist_dir / "emnist-balanced-mapping.txt").write_text("".join(f"{i} {48 + i}\n" for i in range(10)))
    one_line_error(cymlp("train", "--dataset", "emnist-balanced", "--data", str(emnist_dir)),
                   "does not match")


def test_reproduce_fig3_needs_no_data_and_fig9_reads_emnist(tmp_path, emnist_dir):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    env = {"CYMLP_DATA": str(tmp_path / "empty"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = cymlp("reproduce", "fig3", "--out", str(tmp_path), "--no-download", env=env)
    assert result.returncode == 0, result.stderr
    result = cymlp("reproduce", "fig9", "--data", str(emnist_dir), "--out", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert is_png(tmp_path / "fig3.png") and is_png(tmp_path / "fig9.png")


def test_reproduce_all_adds_fig9_when_the_emnist_files_are_found(tmp_path, mnist_dir, emnist_dir):
    pytest.importorskip("matplotlib")  # (the musllinux wheel tests have none)
    # --data holds EMNIST; MNIST is found through $CYMLP_DATA
    result = cymlp("reproduce", "all", "--epochs", "1", "--jobs", "2", "--out", str(tmp_path),
                   "--data", str(emnist_dir), env={"CYMLP_DATA": str(mnist_dir)})
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stdout and "fig9: done" in result.stdout
    for name in ("fig3.png", "fig4.png", "fig9.png", "fig6.png"):
        assert is_png(tmp_path / name), name
