"""Householder QR in LAPACK's compact form: geqrf, orgqr, ormqr.

``geqrf(A)`` returns ``(a, tau)``: R on and above the diagonal of ``a``, and below it the
vectors ``v_i`` (with an implicit 1 at row i) of the reflectors ``H_i = I - tau_i v_i v_i^H``
whose product ``Q = H_1 ... H_k`` gives ``A = Q R``. ``orgqr`` forms the first columns of
Q (``linalg.householder_product``), ``ormqr`` multiplies a matrix by Q without the caller
forming it.
"""
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from .shape import cat, transpose

__all__ = ["geqrf", "orgqr", "ormqr"]


class _Geqrf(tuple):
    """``(a, tau)`` with torch's field names (torch.return_types.geqrf)."""
    __slots__ = ()
    n_fields = n_sequence_fields = 2
    a = property(lambda self: self[0])
    tau = property(lambda self: self[1])

    def __new__(cls, a, tau):
        return super().__new__(cls, (a, tau))

    def __repr__(self):
        return f"torch.return_types.geqrf(\na={self[0]!r},\ntau={self[1]!r})"


def _geqrf_arrays(a):
    """Column-by-column Householder QR of the batched matrices ``a`` (..., m, n), in place.
    Each reflector is chosen as LAPACK's xLARFG does: beta = -sign(Re alpha) ||(alpha, x)||,
    tau = (beta - alpha) / beta, v = x / (alpha - beta); tau = 0 when x is already zero."""
    xp = get_array_module(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    taus = xp.zeros(a.shape[:-2] + (k,), a.dtype)
    complex_ = a.dtype.kind == "c"
    for j in range(k):
        alpha = a[..., j, j].copy()
        x = a[..., j + 1:, j]
        xnorm = xp.sqrt((xp.abs(x) ** 2).sum(-1))
        re = alpha.real if complex_ else alpha
        sgn = xp.where(re >= 0, 1.0, -1.0)
        beta = -sgn * xp.sqrt(xp.abs(alpha) ** 2 + xnorm ** 2)
        trivial = xnorm == 0
        if complex_:
            trivial = trivial & (alpha.imag == 0)
        beta_safe = xp.where(trivial, 1.0, beta)
        tau = xp.where(trivial, 0.0, (beta - alpha) / beta_safe).astype(a.dtype)
        scale = xp.where(trivial, 1.0, 1.0 / xp.where(trivial, 1.0, alpha - beta))
        v_tail = x * scale[..., None]
        a[..., j + 1:, j] = v_tail
        a[..., j, j] = xp.where(trivial, alpha, beta)
        taus[..., j] = tau
        if j + 1 < n:
            ones = xp.ones(alpha.shape + (1,), a.dtype)
            v = xp.concatenate([ones, v_tail], axis=-1)  # (..., m - j)
            block = a[..., j:, j + 1:]
            w = (v.conj()[..., :, None] * block).sum(-2)  # v^H block
            ctau = tau.conj() if complex_ else tau
            a[..., j:, j + 1:] = block - ctau[..., None, None] * v[..., :, None] * w[..., None, :]
    return a, taus


def geqrf(input):
    """QR of each matrix in LAPACK's compact Householder form ``(a, tau)`` (not
    differentiable, as in torch: use ``linalg.qr`` for gradients)."""
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"geqrf: The input tensor A must have at least 2 dimensions, got "
                           f"shape {tuple(x.shape)}")
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"geqrf: expected a floating point or complex tensor, got "
                           f"{input.dtype}")
    a, tau = _geqrf_arrays(x.copy())
    return _Geqrf(Tensor(a), Tensor(tau))


def orgqr(input, input2):
    """The first ``n`` columns of Q from ``geqrf``'s ``(a, tau)``; differentiable."""
    from ..linalg import householder_product
    return householder_product(input, input2)


def ormqr(input, input2, input3, left=True, transpose=False):
    """``Q @ C`` (``left``) or ``C @ Q``, with Q^H when ``transpose``, for the Q of
    ``geqrf``'s ``(input, input2)`` and ``C = input3``; differentiable in all three."""
    from ..linalg import householder_product
    if input.ndim < 2 or input3.ndim < 2:
        raise RuntimeError(f"ormqr: input and input3 must have at least 2 dimensions, got "
                           f"shapes {tuple(input.shape)} and {tuple(input3.shape)}")
    m, k = input.shape[-2:]
    c_dim = input3.shape[-2] if left else input3.shape[-1]
    if c_dim != m:
        side = "rows" if left else "columns"
        raise RuntimeError(f"ormqr: input3 of shape {tuple(input3.shape)} must have {m} {side} "
                           f"(input of shape {tuple(input.shape)}, left={left})")
    if input2.shape[-1] > k or input2.shape[-1] > m:
        raise RuntimeError(f"ormqr: input2 (tau) of shape {tuple(input2.shape)} is longer than "
                           f"min(m, k) for input of shape {tuple(input.shape)}")
    # Q in full (m x m): pad the reflectors with identity ones (tau = 0)
    xp = get_array_module(input._data)
    if k < m:
        zeros = Tensor(xp.zeros(input.shape[:-1] + (m - k,), input._data.dtype))
        input = cat([input, zeros], -1)
    t = input2.shape[-1]
    if t < m:
        input2 = cat([input2, Tensor(xp.zeros(input2.shape[:-1] + (m - t,),
                                              input2._data.dtype))], -1)
    q = householder_product(input, input2)
    if transpose:
        q = _transpose(q).conj() if q._data.dtype.kind == "c" else _transpose(q)
    return q @ input3 if left else input3 @ q


def _transpose(x):
    return transpose(x, -2, -1)


register_methods(geqrf=geqrf, orgqr=orgqr, ormqr=ormqr)
