import os
import sys

# Many small GEMMs: on a shared, oversubscribed machine OpenBLAS's spinning threads can make
# them ~100x slower. Tests measure correctness, not speed, so one thread is enough.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def _seed():
    import narae
    narae.manual_seed(0)
    yield
