"""Fixtures of the kernel tests: switching the CPU emulator on, and recording launches."""
from collections import Counter

import pytest

from narae.backend import kernels


class Launches(Counter):
    """Kernel launches by kernel name; ``modules`` holds the ``.cu`` files they came from."""

    def __init__(self):
        super().__init__()
        self.modules = set()


@pytest.fixture
def launches(monkeypatch):
    """Records every kernel launch of the test (proof that the kernel path ran). Wrappers'
    ``launch_1d`` goes through ``kernels.launch`` too, so one spy sees them all."""
    seen = Launches()
    real = kernels.launch

    def spy(module, kernel, *args):
        seen[kernel] += 1
        seen.modules.add(module)
        return real(module, kernel, *args)
    monkeypatch.setattr(kernels, "launch", spy)
    return seen


@pytest.fixture
def emulate():
    """NumPy arrays take the kernel paths during the test (run by the CPU emulator)."""
    with kernels.emulate():
        yield
