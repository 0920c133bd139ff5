import os
import sys

# Many small GEMMs: on a shared, oversubscribed machine OpenBLAS's spinning threads can make
# them ~100x slower. Tests measure correctness, not speed, so one thread is enough.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# NARAE_GPU_TEST_DEVICE=fake: the GPU suite runs on the CPU through a strict fake CuPy
# (tests/fakecupy.py; tests/gpu/conftest.py has the rest of the mode). Installed when pytest
# configures, before any test module is imported, so collection-time checks such as
# ``skipif(not gpu_available())`` in tests/amp see it too; removed when pytest finishes.
FAKE_GPU = os.environ.get("NARAE_GPU_TEST_DEVICE") == "fake"


def pytest_configure(config):
    if FAKE_GPU:
        import fakecupy
        fakecupy.install()


def pytest_unconfigure(config):
    if FAKE_GPU:
        import fakecupy
        fakecupy.uninstall()


@pytest.fixture(autouse=True)
def _seed(request):
    """Each test starts from the same random state whatever ran before it: narae's generator,
    and the test-data stream of ``helpers`` (seeded from the test's id), so a test's inputs
    do not change when other tests are added, removed or reordered."""
    import zlib

    import numpy as np

    import helpers
    import narae
    narae.manual_seed(0)
    helpers.RNG = np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
    yield
