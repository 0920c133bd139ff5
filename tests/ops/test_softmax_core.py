import pytest

from helpers import check, randn


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    check(lambda m, x: m.softmax(x, dim), randn(3, 4, 5), double=True)
    check(lambda m, x: m.log_softmax(x, dim=dim), randn(3, 4, 5), double=True)
    check(lambda m, x: m.nn.functional.softmax(x, dim=dim), randn(2, 5))


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), ((0, 2), False), (-1, True)])
def test_logsumexp(dim, keepdim):
    check(lambda m, x: m.logsumexp(x, dim, keepdim=keepdim), randn(3, 4, 2), double=True)
