"""Complex tensors: the complex-specific ops and the core ops on complex inputs, against torch
(forward, backward under torch's conjugate-Wirtinger convention, float64 gradcheck)."""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, check_parity, crandn, randn, rand
from narae.autograd.gradcheck import GradcheckError


# --- complex-specific ops ------------------------------------------------------------------
def test_real_imag():
    check(lambda m, z: m.real(z), crandn(3, 4), double=True)
    check(lambda m, z: m.imag(z), crandn(3, 4), double=True)
    check(lambda m, z: z.real * 2 + z.imag, crandn(5))


def test_real_of_real_is_identity_and_imag_raises():
    x = nr.randn(3)
    assert nr.real(x) is x
    with pytest.raises(RuntimeError, match="imag"):
        nr.imag(x)
    with pytest.raises(RuntimeError, match="imag"):
        x.imag


def test_view_as_real_and_complex():
    check(lambda m, z: m.view_as_real(z), crandn(3, 4), double=True)
    # torch needs a contiguous last dim of 2: contiguous inputs only
    check_parity(lambda m, x: m.view_as_complex(x), randn(3, 2))
    check_parity(lambda m, x: m.view_as_complex(x), randn(2, 3, 2), double=True)
    from helpers import check_gradcheck
    check_gradcheck(lambda m, x: m.view_as_complex(x), randn(3, 2), double=True)


def test_view_as_errors():
    with pytest.raises(RuntimeError, match=r"view_as_real.*complex.*\(3,\)"):
        nr.view_as_real(nr.randn(3))
    with pytest.raises(RuntimeError, match=r"last dimension of size 2.*\(3, 3\)"):
        nr.view_as_complex(nr.randn(3, 3))
    with pytest.raises(RuntimeError, match="float and double"):
        nr.view_as_complex(nr.ones(3, 2, dtype=nr.int64))


def test_complex_and_polar():
    check(lambda m, a, b: m.complex(a, b), randn(3, 4), randn(3, 4), double=True)
    check(lambda m, a, b: m.complex(a, b), randn(3, 1), randn(4))
    check(lambda m, a, b: m.polar(a, b), rand(3, 4, low=0.5, high=2), randn(3, 4), double=True)


def test_complex_errors():
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.complex(nr.randn(2), nr.randn(2, dtype=nr.float64))
    with pytest.raises(RuntimeError, match="float or double"):
        nr.complex(nr.ones(2, dtype=nr.int64), nr.ones(2, dtype=nr.int64))
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.polar(nr.randn(2), nr.randn(2, dtype=nr.float64))


def test_conj_family():
    check(lambda m, z: m.conj(z), crandn(3, 4), double=True)
    check(lambda m, z: m.conj_physical(z), crandn(3, 4))
    check(lambda m, z: z.conj().resolve_conj().resolve_neg(), crandn(4))
    z = nr.tensor([1 + 2j])
    assert nr.conj_physical_(z) is z and z.tolist() == [1 - 2j]
    assert z.conj_physical_().tolist() == [1 + 2j]
    check(lambda m, z: m.view_as_real_copy(z), crandn(3))
    check_parity(lambda m, x: m.view_as_complex_copy(x.detach()), randn(3, 2), grad=False)
    check_parity(lambda m, x: x.cfloat() * 1j, randn(3))
    x = nr.randn(3)
    assert x.cdouble().dtype == nr.complex128
    assert nr.conj(x) is x and not nr.is_conj(x) and not nr.randn(2, dtype=nr.cfloat).is_conj()


def test_angle_abs_sgn():
    check(lambda m, z: m.angle(z), crandn(3, 4), double=True)
    check(lambda m, z: m.abs(z), crandn(3, 4), double=True)
    check(lambda m, z: m.sgn(z), crandn(3, 4), double=True)
    check(lambda m, z: z.abs() * z.angle(), crandn(6))


def test_angle_abs_sgn_at_zero_match_torch():
    z = np.array([0j, 1 + 1j, -2j])
    check_parity(lambda m, z: m.angle(z) + m.abs(z * 1.0) + m.sgn(z).real, z)


def test_adjoint_mH_mT_H():
    check(lambda m, z: m.adjoint(z), crandn(2, 3, 4))
    check(lambda m, z: z.mH, crandn(3, 4))
    check(lambda m, z: z.mT, crandn(2, 3, 4))
    check(lambda m, z: z.H, crandn(3, 4))
    with pytest.raises(RuntimeError, match="adjoint"):
        nr.adjoint(nr.randn(3, dtype=nr.cfloat))
    with pytest.raises(RuntimeError, match=r"mH .*1-D"):
        nr.randn(3, dtype=nr.cfloat).mH
    with pytest.raises(RuntimeError, match=r"H is only supported on matrices"):
        nr.randn(3, dtype=nr.cfloat).H
    z = nr.tensor(1 + 2j)
    assert z.H.item() == 1 - 2j  # (0-d: the conjugate; torch deprecates this form)


# --- autograd convention ---------------------------------------------------------------------
def test_real_input_meets_complex_gradient():
    check(lambda m, x, z: (x * z).abs(), randn(3, 4), crandn(3, 4), double=True)
    check(lambda m, x: (x * (1 + 2j)).imag, randn(5))
    check(lambda m, x, z: x + z, randn(3, 1), crandn(3, 4))


def test_backward_on_complex_scalar_raises():
    z = nr.randn(3, dtype=nr.cfloat, requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        z.sum().backward()


def test_leaf_grad_is_conjugate_wirtinger():
    a = np.array([1 + 2j, 3 - 1j])
    z = nr.tensor(a, requires_grad=True)
    zt = torch.tensor(a, requires_grad=True)
    (z * z).abs().sum().backward()
    (zt * zt).abs().sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), zt.grad.numpy(), rtol=1e-12)
    assert z.grad.dtype == nr.complex128


def test_gradcheck_handles_complex():
    z = nr.tensor(crandn(3), requires_grad=True)
    assert nr.autograd.gradcheck(lambda z: z * z.conj() * 1j + z.exp(), [z])
    assert nr.autograd.gradgradcheck(lambda z: (z * z).exp(), [z])

    class Wrong(nr.autograd.Function):  # drops the conjugate: must be caught
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2 * x
    with pytest.raises(GradcheckError, match="imaginary|real"):
        nr.autograd.gradcheck(Wrong.apply, [z])


# --- core ops on complex ----------------------------------------------------------------------
@pytest.mark.parametrize("op", [
    lambda m, a, b: a + b, lambda m, a, b: a - b, lambda m, a, b: a * b,
    lambda m, a, b: a / b, lambda m, a, b: m.pow(a, b), lambda m, a, b: a * 2.5 - b / 3,
    lambda m, a, b: (1 + 2j) * a + b * 1j - 0.5j, lambda m, a, b: 2 / a + b ** 2,
], ids=["add", "sub", "mul", "div", "pow", "scalar", "pycomplex", "rdiv_square"])
def test_binary(op):
    check(op, crandn(3, 4), crandn(3, 4), double=True)


def test_binary_broadcast_and_mixed_real():
    check(lambda m, a, b: a * b, crandn(3, 1), crandn(4))
    check(lambda m, a, x: a / x + x * a, crandn(3, 4), randn(4, low=0.5))
    check(lambda m, a, x: m.pow(a, x), crandn(3), rand(3, low=0.5, high=2))
    check(lambda m, x, a: m.pow(x, a), rand(3, low=0.5, high=2), crandn(3))
    check(lambda m, a: 2.0 ** a, crandn(3))


@pytest.mark.parametrize("name", ["neg", "reciprocal", "square", "sqrt", "exp", "log", "sin",
                                  "cos", "tan", "sinh", "cosh", "rsqrt", "log1p", "expm1",
                                  "acos", "asin", "atan", "acosh", "asinh", "atanh", "sinc",
                                  "log2", "log10", "exp2"])
def test_unary(name):
    check(lambda m, z: getattr(m, name)(z), crandn(3, 4), double=True, atol=1e-4)


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_activation_unary(name):
    check(lambda m, z: getattr(m, name)(z), crandn(3, 4) * 0.5, atol=1e-4, double=True)


def test_pow_scalar_exponents():
    check(lambda m, z: z ** 3 + z ** 0.5 + z ** (1 + 1j), crandn(5))


def test_reductions():
    z = crandn(3, 4)
    check(lambda m, z: m.sum(z), z, double=True)
    check(lambda m, z: z.sum(dim=-1, keepdim=True), z)
    check(lambda m, z: m.mean(z, dim=0), z)
    check(lambda m, z: m.prod(z, dim=1), z)
    check(lambda m, z: m.prod(z), crandn(5))
    check(lambda m, z: m.cumsum(z, dim=1), z)
    check(lambda m, z: m.cumprod(z, dim=1), z)
    check(lambda m, z: m.logsumexp(z, dim=1), z, double=True)


def test_float_power_complex():
    check(lambda m, a, b: m.float_power(a, b), crandn(4), crandn(4))
    check(lambda m, a: m.float_power(a, 2.5), crandn(4))
    check(lambda m, x: m.float_power(x, 1j), rand(4, low=0.5, high=2))


def test_var_std_norm_real_results():
    z = crandn(3, 4)
    check(lambda m, z: m.var(z, dim=1), z)
    check(lambda m, z: m.std(z), z)
    check(lambda m, z: m.var(z, dim=0, correction=0, keepdim=True), z)
    check(lambda m, z: m.linalg.vector_norm(z), z, double=True)
    check(lambda m, z: m.linalg.vector_norm(z, ord=1, dim=1), z)
    check(lambda m, z: m.linalg.vector_norm(z, ord=3, dim=0), z)


def test_matmul_family():
    check(lambda m, a, b: a @ b, crandn(3, 4), crandn(4, 2), double=True)
    check(lambda m, a, b: m.mm(a, b), crandn(3, 4), crandn(4, 2))
    check(lambda m, a, b: m.bmm(a, b), crandn(2, 3, 4), crandn(2, 4, 2))
    check(lambda m, a, b: m.matmul(a, b), crandn(2, 3, 4), crandn(4))
    check(lambda m, a, b: m.dot(a, b), crandn(4), crandn(4))
    check(lambda m, a, b: m.outer(a, b), crandn(3), crandn(4))
    with pytest.raises(RuntimeError, match=r"same dtype.*complex64 and narae.float32"):
        nr.randn(3, 4, dtype=nr.cfloat) @ nr.randn(4, 2)


def test_vdot_conjugates_first():
    check(lambda m, a, b: m.vdot(a, b), crandn(4), crandn(4), double=True)


def test_einsum():
    check(lambda m, a, b: m.einsum("ij,jk->ik", a, b), crandn(3, 4), crandn(4, 2))
    check(lambda m, a: m.einsum("ii->", a), crandn(3, 3))


def test_shape_ops():
    z = crandn(2, 3, 4)
    check(lambda m, z: z.transpose(0, 2).reshape(4, 6), z)
    check(lambda m, z: z.permute(2, 0, 1).flip(0), z)
    check(lambda m, z: z.reshape(6, 4)[1:4, ::2], z)
    check(lambda m, z: m.roll(z, 1, dims=2), z)
    check(lambda m, a, b: m.cat([a, b], dim=1), crandn(2, 3), crandn(2, 2))
    check(lambda m, a, b: m.stack([a, b]), crandn(2, 3), crandn(2, 3))
    check(lambda m, z: m.nn.functional.pad(z, (1, 2)), crandn(2, 3))
    check(lambda m, z: z[:, [0, 2]], crandn(2, 3))
    check(lambda m, z: z.unsqueeze(0).expand(2, 3, 4).clone(), crandn(3, 4))


def test_where():
    c = np.array([True, False, True])
    check(lambda m, c, a, b: m.where(c, a, b), c, crandn(3), crandn(3))


def test_compare_and_predicates():
    a = np.array([1 + 1j, np.nan + 0j, np.inf * 1j, 2 - 1j])
    b = np.array([1 + 1j, 0j, 1j, 2 + 1j])
    check_parity(lambda m, a, b: (a == b, a != b, m.isfinite(a), m.isnan(a), m.isinf(a),
                                  m.isclose(a, b), m.isreal(a)), a, b, grad=False)
    za, zb = nr.tensor(b), nr.tensor(b + 1e-9)
    assert nr.allclose(za, zb) and not nr.allclose(za, zb * 1j)


def test_clone_detach_contiguous():
    check(lambda m, z: z.clone() * 2 + z.mT.contiguous().mT, crandn(3, 4))
    z = nr.tensor(crandn(3), requires_grad=True)
    d = z.detach()
    assert not d.requires_grad and d.dtype == nr.complex128 and np.array_equal(d.numpy(), z._data)


@pytest.mark.parametrize("fn", [
    lambda z: nr.relu(z), lambda z: nr.max(z), lambda z: z.min(), lambda z: nr.sort(z),
    lambda z: z < z, lambda z: nr.gt(z, 0), lambda z: nr.clamp(z, 0), lambda z: nr.floor(z),
    lambda z: z.clamp_(0, 1), lambda z: nr.maximum(z, z), lambda z: nr.argmax(z),
], ids=["relu", "max", "min", "sort", "lt", "gt", "clamp", "floor", "clamp_", "maximum",
        "argmax"])
def test_refused_ops_raise(fn):
    z = nr.tensor([1 + 2j, 3 - 1j])
    with pytest.raises(RuntimeError, match=r"not supported for complex tensors.*complex64"):
        fn(z)


def test_refusal_leaves_real_ops_alone():
    x = nr.tensor([1.0, -2.0])
    nr.tensor([1j])  # complex in use: refusals are installed
    assert nr.relu(x).tolist() == [1.0, 0.0]
    assert nr.clamp(x, 0).tolist() == [1.0, 0.0]
    assert (x < 0).tolist() == [False, True]
    assert nr.max(x).item() == 1.0
