"""GPU suite setup: every test here is marked ``gpu`` and skipped cleanly without a CUDA GPU.

``pytest`` deselects the suite by default (``addopts = -m 'not slow and not gpu'``); run it
with ``python -m pytest tests/gpu -m gpu``. On a machine without CuPy or a visible GPU the
tests are reported as skipped, never as errors: nothing here imports CuPy.

``NARAE_GPU_TEST_DEVICE=cpu`` is a dry run for machines without a GPU: the "GPU side" of
every comparison runs on the CPU as well. The results are trivially equal, but the run proves
that every table entry is a valid narae expression and that the harness itself works, so the
first session on a GPU spends its time on real mismatches, not on typos. Tests that only
mean something across two devices (cross-device errors) skip themselves in a dry run.

``NARAE_GPU_TEST_DEVICE=fake`` runs the suite on the CPU against device "cuda" through a
strict fake CuPy (``tests/fakecupy.py``, installed by ``tests/conftest.py`` for the session):
NumPy memory behind CuPy's interface, refusing what CuPy refuses -- NumPy arrays mixed into
device operations, implicit ``np.asarray(gpu_array)``, host arrays assigned into device slices
-- and running the hand-written kernels in the CPU emulator. It finds the host/device mistakes
a CPU run cannot see; cross-device tests run (fake cuda and cpu are different devices to
narae). CUDA-graph capture is emulated (work recorded, not run, until a replay; host reads
raise), so ``narae.compile``'s tests run too. Tests that need real CUDA (memory statistics)
ask for the ``real_gpu`` fixture and skip in this mode:

    NARAE_GPU_TEST_DEVICE=fake python -m pytest -q -m gpu tests/gpu tests/amp
"""
import os

import pytest

import narae

HERE = os.path.dirname(os.path.abspath(__file__))
MODE = os.environ.get("NARAE_GPU_TEST_DEVICE", "cuda")
FAKE = MODE == "fake"
DEVICE = "cuda" if FAKE else MODE
DRY_RUN = DEVICE == "cpu"


def _skip_reason():
    """Why the suite cannot run here, or None when it can."""
    if DRY_RUN:
        return None
    if FAKE:
        import fakecupy
        return None if fakecupy.is_installed() else \
            "NARAE_GPU_TEST_DEVICE=fake: the fake CuPy is not installed (tests/conftest.py)"
    if not narae.backend.cupy_available():
        return "needs CuPy and a CUDA GPU: CuPy is not installed (pip install narae[cuda])"
    if not narae.cuda.is_available():
        return "needs a CUDA GPU: CuPy is installed but sees no device"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark (and, without a GPU, skip) the items of this directory only: the hook sees the
    whole session's items. ``tryfirst`` so the ``-m`` deselection sees the marker."""
    reason = _skip_reason()
    for item in items:
        if not str(item.path).startswith(HERE + os.sep):
            continue
        item.add_marker(pytest.mark.gpu)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def device():
    """The device the suite compares against the CPU ('cuda', or 'cpu' in a dry run)."""
    return DEVICE


@pytest.fixture
def cross_device():
    """For tests that need two different devices: skipped in a dry run."""
    if DRY_RUN:
        pytest.skip("dry run (NARAE_GPU_TEST_DEVICE=cpu): needs two devices")
    return DEVICE


@pytest.fixture
def real_gpu():
    """For tests that need real CUDA (memory statistics): skipped with the fake CuPy, whose
    pool reports zeros (a dry run runs them on the CPU as before)."""
    if FAKE:
        pytest.skip(f"NARAE_GPU_TEST_DEVICE={MODE}: needs real CUDA (memory statistics), "
                    "which the fake CuPy does not emulate")
    return DEVICE


@pytest.fixture(autouse=True)
def _synchronize():
    """Surface asynchronous CUDA errors in the test that caused them, not a later one."""
    yield
    if not DRY_RUN and narae.cuda.is_available():
        narae.cuda.synchronize()
