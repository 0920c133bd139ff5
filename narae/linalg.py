"""``narae.linalg``: torch.linalg's names over narae's differentiable decompositions.

The ops live in ``narae/ops/decomposition.py`` (forward through ``xp.linalg``, backward with
narae ops); this module gives them torch.linalg's signatures and named-tuple results.
"""
import math

import numpy as np

from .autograd.function import ShapeError
from .backend import get_array_module
from .backend import capture as _capture
from .ops.reduce import vector_norm, amax, amin
from .ops.shape import movedim, reshape, unsqueeze, narrow, tril, broadcast_to, cat
from .ops.reduce import cumprod
from .tensor import Tensor
from .ops import decomposition as _d
from .ops.decomposition import (LinAlgError, inv, inv_ex, solve, solve_ex, solve_triangular,
                                cholesky_ex, pinv, matrix_rank, matrix_power, matrix_exp,
                                lu_factor, lu_factor_ex)
from .ops.einsum import multi_dot
from .ops.matrix import linalg_cross as cross, linalg_diagonal as diagonal
from .ops.linalg import matmul
from .ops.arith import _cj

__all__ = ["vector_norm", "norm", "matrix_norm", "LinAlgError", "det", "slogdet", "inv",
           "inv_ex", "solve", "solve_ex", "solve_triangular", "cholesky", "cholesky_ex", "qr",
           "eig", "eigvals", "eigh", "eigvalsh", "svd", "svdvals", "pinv", "matrix_rank", "lstsq",
           "matrix_power", "matrix_exp", "cond", "vecdot", "lu_factor", "lu_factor_ex", "lu",
           "lu_solve", "tensorinv", "tensorsolve", "vander", "householder_product", "multi_dot",
           "cross", "diagonal", "matmul"]


def det(A):
    """Determinant of each matrix of a batch (..., n, n)."""
    return _d.det(A)


def slogdet(A):
    """(sign, logabsdet) of each matrix: log|det A| without overflow."""
    _d._check_square(A, "linalg.slogdet")
    return _d.LinalgSlogdetResult(*_d.Slogdet()(A))


def cholesky(A, *, upper=False):
    """L (lower, A = L L^T) or, with upper=True, U = L^T; LinAlgError if A is not
    positive-definite."""
    return _d._cholesky(A, upper, "linalg.cholesky")


def qr(A, mode="reduced"):
    """(Q, R) with A = QR; mode 'reduced', 'complete', or 'r' (Q empty, not differentiable)."""
    return _d.LinalgQRResult(*_d._qr(A, mode, "linalg.qr"))


def _check_uplo(UPLO, op):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eig(A):
    """(eigenvalues, eigenvectors as unit-norm columns) of general square matrices, always
    complex: A V = V diag(L). Gradients need distinct eigenvalues and a loss that does not
    depend on each eigenvector's phase."""
    _d._check_square(A, "linalg.eig")
    return _d.EigResult(*_d.Eig()(A))


def eigvals(A):
    """Eigenvalues (complex) of general square matrices, in LAPACK's order."""
    _d._check_square(A, "linalg.eigvals")
    return _d.Eigvals()(A)


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric (Hermitian) matrices;
    only the UPLO triangle is read."""
    _d._check_square(A, "linalg.eigh")
    _check_uplo(UPLO, "linalg.eigh")
    return _d.EighResult(*_d.Eigh(UPLO)(A))


def eigvalsh(A, UPLO="L"):
    """Eigenvalues (ascending) of symmetric matrices."""
    _d._check_square(A, "linalg.eigvalsh")
    _check_uplo(UPLO, "linalg.eigvalsh")
    return _d.Eigvalsh(UPLO)(A)


def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending."""
    _d._check_matrix(A, "linalg.svd")
    return _d.LinalgSVDResult(*_d.SVD(bool(full_matrices))(A))


def svdvals(A, *, driver=None):
    """Singular values, descending (gradient U diag(g) Vh)."""
    _d._check_matrix(A, "linalg.svdvals")
    return _d.SVDVals()(A)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of A X = B through the pseudo-inverse (SVD, as LAPACK's gelsd):
    (solution, residuals, rank, singular_values). Singular values below rcond * sigma_max
    count as zero (rcond defaults to eps * max(m, n)). residuals (squared column norms of
    A X - B) are returned for m > n and full rank, else empty, as torch does."""
    op = "linalg.lstsq"
    _d._check_matrix(A, op)
    _d._check_float(B, op)
    _d._check_same_dtype(A, B, op)
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, "
                           f"gelss), got {driver}")
    m, n = A.shape[-2:]
    vector = B.ndim == A.ndim - 1
    Bm = unsqueeze(B, -1) if vector else B
    if Bm.ndim < 2 or Bm.shape[-2] != m:
        raise ShapeError(f"{op}: input.size(-2) should match other.size(-2), got A of shape "
                         f"{tuple(A.shape)} and B of shape {tuple(B.shape)}")
    xp = get_array_module(A._data)
    dt = np.finfo(A._data.dtype).dtype  # (residuals and singular values are real)
    X = _d.matmul(_d.Pinv(None, rcond, False)(A), Bm)
    drv = driver or "gelsy"
    s_arr = xp.linalg.svd(A._data, compute_uv=False)
    batch = tuple(A.shape[:-2])
    if drv in ("gelsy", "gelsd", "gelss"):
        tol = _d._cutoff(xp, s_arr[..., 0] if min(m, n) else xp.zeros(batch, dt), None, rcond,
                         m, n, dt)
        rank_arr = (s_arr > tol[..., None]).sum(-1).astype(xp.int64)
        rank = Tensor(rank_arr)
    else:
        rank_arr = None
        rank = Tensor(xp.zeros((0,), dtype=xp.int64))
    sv = Tensor(s_arr) if drv in ("gelsd", "gelss") else Tensor(xp.zeros((0,), dtype=dt))
    # (one read-back; while a CUDA graph records, full rank is assumed)
    full_rank = rank_arr is None or not _capture.can_read_back() or bool((rank_arr == n).all())
    if m > n and drv != "gelsy" and full_rank:
        r = _d.matmul(A, X) - Bm
        residuals = (r.real * r.real + r.imag * r.imag if r.is_complex() else r * r).sum(-2)
    else:
        residuals = Tensor(xp.zeros((0,), dtype=dt))
    if vector:
        X = reshape(X, X.shape[:-1])
    return _d.LstsqResult(X, residuals, rank, sv)


def vecdot(x, y, *, dim=-1):
    """Dot product of vectors along ``dim`` (inputs broadcast): sum(conj(x) * y, dim)."""
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {x.dtype} and y of type {y.dtype} instead")
    return (_cj(x) * y).sum(dim)


def _matrix_dims(A, dim, op):
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions, got "
                           f"shape {tuple(A.shape)}")
    d0, d1 = (d + A.ndim if d < 0 else d for d in dim)
    if d0 == d1 or not (0 <= d0 < A.ndim and 0 <= d1 < A.ndim):
        raise RuntimeError(f"{op}: dims must be different and in range, got {tuple(dim)} for "
                           f"an input of shape {tuple(A.shape)}")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Matrix norms: 'fro', 'nuc' (sum of singular values), 2 / -2 (largest / smallest
    singular value), 1 / -1 (max / min column abs-sum), inf / -inf (max / min row abs-sum)."""
    op = "linalg.matrix_norm"
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = _matrix_dims(A, dim, op)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        M = movedim(A, (d0, d1), (-2, -1))
        s = _d.SVDVals()(M)
        if ord == "nuc" or (ord == 2 and s.shape[-1] == 0):  # (an empty matrix's 2-norm is 0)
            out = s.sum(-1)
        else:
            out = amax(s, -1) if ord == 2 else amin(s, -1)
    elif ord in (1, -1, math.inf, -math.inf):
        # 1: max over columns of the abs-sum down each column (sum over rows d0)
        sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = A.abs().sum(sum_dim, keepdim=True)
        out = (amax if ord > 0 else amin)(sums, red_dim, keepdim=True)
        out = reshape(out, tuple(s for i, s in enumerate(out.shape) if i not in (d0, d1)))
    else:
        raise RuntimeError(f"{op}: Order {ord} not supported.")
    if keepdim:
        for d in sorted((d0, d1)):
            out = unsqueeze(out, d)
    return out


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: a vector norm for an int dim (or a flattened input when ord and dim
    are None), a matrix norm for a 2-tuple dim or, with ord given and dim None, a 2-D input."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim,
                               dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                           f"Got {list(dim)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D "
                       f"or 2D. Got {A.ndim}D (shape {tuple(A.shape)}).")


def cond(A, p=None):
    """Condition number: sigma_max / sigma_min for p None or 2 (inverse ratio for -2), else
    matrix_norm(A, p) * matrix_norm(A^-1, p)."""
    op = "linalg.cond"
    _d._check_matrix(A, op)
    if p is None or p in (2, -2):
        s = _d.SVDVals()(A)
        if s.shape[-1] == 0 and p != -2:  # (torch: 0 for empty matrices)
            return s.sum(-1)
        hi, lo = amax(s, -1), amin(s, -1)
        return hi / lo if p != -2 else lo / hi
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"{op}: Order {p} not supported.")
    _d._check_square(A, op)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U: P a permutation, L unit lower, U upper (differentiable)."""
    return _d._lu(A, pivot)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (or X A = B; A^T for adjoint) from lu_factor's (LU, pivots)."""
    return _d._lu_solve(LU, pivots, B, left, adjoint)



def _prod(shape):
    p = 1
    for d in shape:
        p *= d
    return p


def tensorinv(A, ind=2):
    """The inverse of A seen as a linear map from its last dims to its first ``ind`` dims:
    result of shape A.shape[ind:] + A.shape[:ind]."""
    op = "linalg.tensorinv"
    if ind <= 0:
        raise RuntimeError(f"{op}: Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape, in_shape = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if _prod(out_shape) != _prod(in_shape):
        raise RuntimeError(f"{op}: Expected self to satisfy the requirement "
                           f"prod(self.shape[ind:]) == prod(self.shape[:ind]), but got "
                           f"{_prod(in_shape)} != {_prod(out_shape)} (shape {tuple(A.shape)})")
    n = _prod(out_shape)
    return reshape(inv(reshape(A, (n, n))), in_shape + out_shape)


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B; ``dims`` of A are moved to the end first."""
    op = "linalg.tensorsolve"
    if dims is not None:
        dims = tuple(dims)
        A = movedim(A, dims, tuple(range(A.ndim - len(dims), A.ndim)))
    bshape = tuple(B.shape)
    if tuple(A.shape[:B.ndim]) != bshape:
        raise RuntimeError(f"{op}: Expected A's leading dims {tuple(A.shape[:B.ndim])} to equal "
                           f"B's shape {bshape}")
    x_shape = tuple(A.shape[B.ndim:])
    n = _prod(bshape)
    if _prod(x_shape) != n:
        raise RuntimeError(f"{op}: Expected prod(A.shape[B.ndim:]) == prod(B.shape), got "
                           f"A of shape {tuple(A.shape)} and B of shape {bshape}")
    return reshape(solve(reshape(A, (n, n)), reshape(B, (n,))), x_shape)


def vander(x, *, N=None):
    """Vandermonde matrix of the last dim: columns x^0, x^1, ..., x^(N-1) (N defaults to n)."""
    if x.ndim < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension, got a 0-d tensor")
    n = x.shape[-1] if N is None else int(N)
    if n <= 1:
        raise RuntimeError(f"linalg.vander: N must be greater than 1, got {n} (x of shape "
                           f"{tuple(x.shape)})")
    xs = broadcast_to(unsqueeze(x, -1), tuple(x.shape) + (n - 1,))
    return cat([x[..., None] ** 0, cumprod(xs, -1)], -1)


def householder_product(A, tau):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^H with v_i the i-th
    column of A below the diagonal and a 1 on it (the Q of geqrf's packed result)."""
    op = "linalg.householder_product"
    _d._check_matrix(A, op)
    m, n = A.shape[-2:]
    k = tau.shape[-1]
    if not (k <= n <= m) or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{op}: expected A of shape (*, m, n) with m >= n >= k and tau of "
                           f"shape (*, k), got A {tuple(A.shape)} and tau {tuple(tau.shape)}")
    xp = get_array_module(A._data)
    dt = A._data.dtype
    V = tril(narrow(A, -1, 0, k), -1) + Tensor(xp.eye(m, k, dtype=dt))
    Q = Tensor(xp.eye(m, dtype=dt))
    for i in range(k):
        v = narrow(V, -1, i, 1)                                   # (*, m, 1)
        t = unsqueeze(unsqueeze(narrow(tau, -1, i, 1)[..., 0], -1), -1)
        Q = Q - t * _d.matmul(_d.matmul(Q, v), _d._mH(v))
    return narrow(Q, -1, 0, n)
