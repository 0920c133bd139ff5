"""The examples that show the torch-API extras (narae.func, checkpointing, custom autograd
Functions) run and report what they claim, on small settings."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, *args):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_per_sample_gradients_equal_one_backward_per_example():
    text = _run("per_sample_gradients.py", "--steps", "3")
    diff = float(re.search(r"max \|difference\| = (\S+)", text).group(1))
    assert diff < 1e-6


def test_gradient_checkpointing_saves_memory_with_equal_gradients():
    text = _run("gradient_checkpointing.py", "--blocks", "16", "--width", "64", "--batch", "512")
    peaks = [float(p) for p in re.findall(r"peak\s+([\d.]+) MiB", text)]
    diffs = [float(d) for d in re.findall(r"difference\| (\S+)", text)]
    assert min(peaks[1:]) < 0.6 * peaks[0] and max(diffs) == 0.0


def test_custom_function_example_trains_binary_weights():
    text = _run("custom_autograd_function.py", "--epochs", "3")
    assert "gradcheck of its backward: True" in text
    accs = [float(a) for a in re.findall(r"test accuracy ([\d.]+)", text)]
    assert len(accs) == 2 and accs[1] > 0.8


def test_export_onnx_example_matches_onnxruntime():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    text = _run("export_onnx.py")
    assert float(re.search(r"max \|difference\| = (\S+),", text).group(1)) < 1e-4
    assert "same predicted class for 100%" in text


def test_ddp_example_trains_identical_replicas():
    text = _run("ddp_digits.py")
    assert "identical weights on every rank: True" in text
    assert float(re.search(r"all ranks: test accuracy (\S+);", text).group(1)) > 0.85
