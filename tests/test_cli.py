"""The ``narae`` command line: train end to end in a temporary directory, evaluate, info."""
import csv
import glob
import json
import os
import subprocess
import time
import sys

import pytest

from narae.cli import main, MODELS, register_model
from narae.datasets.digits import stratified_split


def test_train_two_epochs_writes_everything_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(out), "--hidden", "32",
                 "--verbose", "2"]) == 0
    text = capsys.readouterr().out
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "test accuracy: " in text
    for name in ("checkpoint.safetensors", "best.safetensors", "history.csv", "history.json",
                 "config.json"):
        assert (out / name).is_file(), name
    for kind in ("train", "validation", "gradients"):
        assert glob.glob(str(out / "tensorboard" / kind / "*tfevents*")), kind
    pytest.importorskip("matplotlib")
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.reader(open(out / "history.csv")))
    assert len(rows) == 3 and "val_accuracy" in rows[0]
    hist = json.load(open(out / "history.json"))
    assert hist["epoch"] == [0, 1] and len(hist["history"]["loss"]) == 2
    assert json.load(open(out / "config.json"))["model"] == "mlp"

    acc = float(text.split("test accuracy: ")[1].split()[0])
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.safetensors"),
                 "--confusion"]) == 0
    text = capsys.readouterr().out
    assert f"accuracy: {acc:.4f}" in text and "confusion matrix" in text


def test_info_lists_registries(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "narae 0.1.0" in text and "mlp" in text and "digits" in text


def test_registry_extension_and_bad_input(tmp_path, capsys):
    @register_model("tiny-test")
    def tiny(input_shape, num_classes):
        return MODELS["linear"](input_shape, num_classes)
    try:
        assert main(["train", "--model", "tiny-test", "--epochs", "1", "--quiet",
                     "--no-tensorboard", "--out", str(tmp_path)]) == 0
    finally:
        del MODELS["tiny-test"]
    with pytest.raises(SystemExit):
        main(["train", "--model", "nope"])
    assert main(["evaluate", "--checkpoint", str(tmp_path / "missing.safetensors")]) == 1
    assert "error:" in capsys.readouterr().err


def test_stratified_split_keeps_class_proportions():
    import numpy as np
    y = np.repeat(np.arange(3), [10, 20, 30])
    tr, te = stratified_split(y, 0.2, 0)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 60
    assert list(np.bincount(y[te])) == [2, 4, 6]


def _train(tmp_path, *args):
    start = time.time()
    r = subprocess.run([sys.executable, "-m", "narae", "train", "--out", str(tmp_path), *args],
                       capture_output=True, text=True, timeout=300,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy: "), r.stdout  # the run ends with this line
    return float(last.split()[-1]), time.time() - start, r.stdout


@pytest.mark.slow
def test_default_train_mlp_reaches_97_percent(tmp_path):
    """`narae train` with no options: MLP on digits, >= 0.97 test accuracy in < 2 minutes."""
    acc, seconds, out = _train(tmp_path)
    assert acc >= 0.97 and seconds < 120, out


@pytest.mark.slow
def test_lenet5_reaches_98_percent(tmp_path):
    """`narae train --model lenet5 --dataset digits`: >= 0.98 test accuracy in < 2 minutes."""
    acc, seconds, out = _train(tmp_path, "--model", "lenet5", "--dataset", "digits")
    assert acc >= 0.98 and seconds < 120, out


def test_models_and_datasets_commands(capsys):
    assert main(["models"]) == 0
    names = capsys.readouterr().out
    assert "mlp" in names and "lenet5" in names and "char-lstm" in names
    assert main(["datasets"]) == 0
    assert "digits" in capsys.readouterr().out


def test_demo_command_prints_measurements(capsys):
    assert main(["demo", "xor"]) == 0
    out = capsys.readouterr().out
    assert "perceptron_xor_accuracy: 0.5" in out and "mlp_xor_accuracy: 1" in out


def test_train_on_mnist_files_in_data_dir(tmp_path, capsys):
    """--dataset mnist reads the standard IDX files from --data-dir (tiny ones written here)."""
    import numpy as np
    from narae.datasets import write_idx
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 60), ("t10k", 20)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28),
                                                                   dtype=np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "data"),
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--no-tensorboard"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("test accuracy: ")


def test_missing_dataset_files_give_a_clear_error(tmp_path, capsys):
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(tmp_path),
                 "--out", str(tmp_path / "run")]) == 1
    assert "CIFAR10" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--compile"], ["--amp", "float16"]])
def test_train_with_compile_or_amp(tmp_path, capsys, flags):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--out", str(out), "--hidden", "32",
                 "--verbose", "0", "--no-tensorboard"] + flags) == 0
    text = capsys.readouterr().out
    assert float(text.split("test accuracy: ")[1].split()[0]) > 0.6
