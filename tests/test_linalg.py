"""narae.linalg: torch.linalg's norms."""
import pytest

from helpers import check, randn


@pytest.mark.parametrize("ord,dim", [(None, None), (1, 1), (3.0, -1), (float("inf"), 0)])
def test_vector_norm(ord, dim):
    kwargs = {} if ord is None else {"ord": ord}
    check(lambda m, x: m.linalg.vector_norm(x, dim=dim, **kwargs), randn(3, 4))


def test_matrix_and_generic_norm():
    check(lambda m, x: m.linalg.matrix_norm(x), randn(2, 3, 4), double=True)
    check(lambda m, x: m.linalg.norm(x), randn(3, 4))
    check(lambda m, x: m.linalg.norm(x, "fro", dim=(0, 1)), randn(3, 4))
    check(lambda m, x: m.linalg.norm(x, 1, dim=1), randn(3, 4))


def test_unsupported_matrix_norm_is_a_clear_error():
    import narae as nr
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        nr.linalg.matrix_norm(nr.ones(2, 2), ord=3)


def test_nuclear_and_spectral_norms():
    check(lambda m, x: m.linalg.matrix_norm(x, "nuc"), randn(2, 3, 4), atol=1e-4)
    check(lambda m, x: m.linalg.norm(x, 2), randn(3, 4), atol=1e-4)
