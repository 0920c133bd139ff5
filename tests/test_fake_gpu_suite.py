"""The GPU suite (tests/gpu, tests/amp -m gpu) on the CPU through the strict fake CuPy
(tests/fakecupy.py), in a subprocess since the fake is installed for a whole session.

Part of the default suite so that every change is checked for host/device discipline
(NumPy arrays mixed into device ops, implicit host conversion), and every op's GPU path
(device moves, dispatch, the kernels through the CuPy launch code and the CPU emulator)
runs, without a GPU."""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(shutil.which("g++") is None, reason="the kernel emulator needs g++")
def test_gpu_suite_passes_on_the_fake_cupy():
    env = dict(os.environ, NARAE_GPU_TEST_DEVICE="fake")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu",
         os.path.join(HERE, "gpu"), os.path.join(HERE, "amp")],
        cwd=os.path.dirname(HERE), env=env, capture_output=True, text=True, timeout=900)
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and " failed" not in result.stdout, tail
