"""GPU table for complex tensors: device == CPU for outputs and gradients.

The shared harness feeds float arrays and backpropagates a real upstream gradient, so each
case takes (…, 2) float inputs, makes them complex with ``view_as_complex`` and hands complex
outputs back through ``view_as_real``: the conversions themselves are under test too.
"""
import numpy as np
import pytest

import narae as nr
from test_gpu_ops import Case, randn, pos, mask, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


def cz(*shape):
    """A complex operand, as (re, im) pairs in a trailing dim of 2."""
    return randn(*shape, 2)


def cx(fn, which=None):
    """``fn`` on complex tensors: inputs listed in ``which`` (default: every float input
    with a trailing dim of 2) become complex, complex outputs become (re, im) pairs."""
    def wrapped(*xs):
        zs = [nr.view_as_complex(x) if isinstance(x, nr.Tensor) and x.is_floating_point() and
              (which is None and x.ndim and x.shape[-1] == 2 or which is not None and i in which)
              else x for i, x in enumerate(xs)]
        out = fn(*zs)
        outs = out if isinstance(out, tuple) else (out,)
        outs = tuple(nr.view_as_real(o) if isinstance(o, nr.Tensor) and o.is_complex() else o
                     for o in outs)
        return outs if isinstance(out, tuple) else outs[0]
    return wrapped


CASES = [
    Case("complex_view_roundtrip", cx(lambda z: z), cz(3, 4)),
    Case("complex_make", lambda a, b: nr.view_as_real(nr.complex(a, b)), randn(3, 4),
         randn(3, 4)),
    Case("complex_polar", lambda a, b: nr.view_as_real(nr.polar(a, b)), pos(3, 4), randn(3, 4)),
    Case("complex_real_imag", cx(lambda z: z.real * 2 + z.imag), cz(3, 4)),
    Case("complex_conj", cx(lambda z: z.conj() * z), cz(3, 4)),
    Case("complex_abs_angle_sgn", cx(lambda z: (z.abs(), z.angle(), z.sgn())), cz(3, 4)),
    Case("complex_add_sub", cx(lambda a, b: a + b - 2 * a), cz(3, 4), cz(3, 4)),
    Case("complex_mul_div", cx(lambda a, b: a * b / (b + 3)), cz(3, 4), cz(3, 4),
         atol=1e-4),
    Case("complex_scalars", cx(lambda a: (1 + 2j) * a - 0.5j + a * 2.0), cz(5)),
    Case("complex_mixed_real", cx(lambda a, x: a * x + x, which=(0,)), cz(3, 4), randn(3, 4)),
    Case("complex_pow", cx(lambda a, b: a ** b + a ** 2), cz(4), cz(4), atol=1e-4),
    Case("complex_unary", cx(lambda z: (z.exp(), z.log(), z.sqrt(), z.sin(), z.cos(),
                                        z.reciprocal(), z.square(), nr.sinh(z))), cz(3, 4),
         atol=1e-4),
    Case("complex_sum_mean", cx(lambda z: (z.sum(), z.mean(0), z.sum(-1, keepdim=True))),
         cz(3, 4)),
    Case("complex_prod_cumsum", cx(lambda z: (z.prod(1), z.cumsum(0))), cz(3, 4), atol=1e-4),
    Case("complex_var_norm", cx(lambda z: (z.var(1), z.std(), nr.linalg.vector_norm(z))),
         cz(3, 4)),
    Case("complex_matmul", cx(lambda a, b: a @ b), cz(3, 4), cz(4, 2), atol=1e-4),
    Case("complex_bmm", cx(lambda a, b: nr.bmm(a, b)), cz(2, 3, 4), cz(2, 4, 2), atol=1e-4),
    Case("complex_einsum", cx(lambda a, b: nr.einsum("ij,jk->ik", a, b)), cz(3, 4), cz(4, 2),
         atol=1e-4),
    Case("complex_shape", cx(lambda z: nr.cat([z.transpose(0, 1).flip(0), z.mT], 1)[1:, ::2]),
         cz(3, 4)),
    Case("complex_stack_where", cx(lambda a, b, m: nr.where(m, nr.stack([a, b]), a),
                                   which=(0, 1)), cz(3), cz(3), mask(2, 3)),
    Case("complex_pad_roll", cx(lambda z: nr.roll(nr.nn.functional.pad(z, (1, 2)), 1, 1)),
         cz(2, 3)),
    Case("complex_adjoint", cx(lambda z: z.mH @ z), cz(3, 2), atol=1e-4),
    Case("complex_compare", cx(lambda a, b: (a == b, a != b, nr.isfinite(a),
                                             nr.isclose(a, b))), cz(3), cz(3)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_complex_creation_and_transfer(device):
    z = nr.randn(3, dtype=nr.complex64, device=device)
    assert z.dtype == nr.complex64 and nr.backend.as_device(device) == z.device
    back = z.cpu()
    assert back.dtype == nr.complex64
    np.testing.assert_array_equal(back.to(device).cpu().numpy(), back.numpy())
    assert nr.zeros(2, dtype=nr.cdouble, device=device).cpu().tolist() == [0j, 0j]


def test_complex_integer_index_backward(device):
    """Repeated integer indices: the gradient scatter-adds complex values (CUDA has no
    complex atomicAdd: real and imaginary parts go separately)."""
    case = Case("complex_index", cx(lambda z: z[:, [0, 2, 2]] * 2 + z[[1, 1]].sum()), cz(3, 4))
    check_case(case, False, device)
