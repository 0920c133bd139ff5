"""Differentiable matrix decompositions and solvers behind narae.linalg.

Every op works on batches of matrices (leading dims) and runs its forward through
``xp.linalg`` (NumPy on the CPU, CuPy on the GPU), using only functions both provide batched:
det, slogdet, inv, solve, cholesky, qr, svd, eigh. On the CPU, triangular solves, Cholesky
and LU call SciPy's BLAS/LAPACK once per matrix where SciPy is installed (several times
faster than NumPy's batched gufuncs on small matrices), and fall back to NumPy code (a
row-by-row substitution for triangular solves) without it; CuPy solves triangles through its
batched LU solve (it has no batched triangular solve or lstsq in ``cupy.linalg``).

Gradients follow the usual matrix-calculus formulas (and torch's conventions): eigh and svd
assume distinct eigen/singular values, and their gradients are meaningful only for losses that
do not depend on the sign (gauge) of the vectors. Backward passes are written with narae ops,
so higher-order gradients come for free.

GPU assumptions (CuPy 14, not run here): the xp.linalg functions above accept stacked
matrices (qr's batching included); singular or non-positive-definite input raises through
``cupyx.errstate(linalg="raise")`` (one sync per call, skipped while a CUDA graph records);
matrix_exp reads back its number of squarings; LU is computed here (one step per column), as
cupy.linalg has none; eig/eigvals use ``cupy.linalg.eig`` where it exists, else LAPACK on the
host (as torch does on CUDA).

Complex matrices take the same code: transposes in the backward formulas are conjugate
transposes (``_mH``), and torch's conjugate-Wirtinger convention holds throughout. Complex
dtypes skip the per-matrix SciPy loops (NumPy's batched linalg serves them).

This module holds torch's top-level names (``torch.det``, ``torch.svd``...); ``narae.linalg``
builds torch.linalg's names on the same ops.
"""
import collections
import math

import numpy as np

from ..autograd import grad_mode
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..backend import capture as _capture
from ..tensor import Tensor, register_methods
from .arith import where, Conj, _cj
from .linalg import matmul
from .complex import Complex
from .shape import transpose, reshape, tril, triu, cat, narrow, unsqueeze, broadcast_to

__all__ = ["det", "logdet", "slogdet", "inverse", "cholesky", "cholesky_solve",
           "cholesky_inverse", "qr", "svd", "pinverse", "matrix_power", "matrix_exp",
           "triangular_solve", "lu", "lu_solve", "lu_unpack"]


class LinAlgError(RuntimeError):
    """A matrix that the factorization cannot handle (singular, not positive-definite)."""


def _nt(name, fields):
    return collections.namedtuple(name, fields)


# torch.return_types.<name>: tuples whose fields have torch's names
SlogdetResult = _nt("slogdet", ["sign", "logabsdet"])
LinalgSlogdetResult = _nt("linalg_slogdet", ["sign", "logabsdet"])
InvExResult = _nt("linalg_inv_ex", ["inverse", "info"])
CholeskyExResult = _nt("linalg_cholesky_ex", ["L", "info"])
SolveExResult = _nt("linalg_solve_ex", ["result", "info"])
QRResult = _nt("qr", ["Q", "R"])
LinalgQRResult = _nt("linalg_qr", ["Q", "R"])
EighResult = _nt("linalg_eigh", ["eigenvalues", "eigenvectors"])
EigResult = _nt("linalg_eig", ["eigenvalues", "eigenvectors"])
SVDResult = _nt("svd", ["U", "S", "V"])
LinalgSVDResult = _nt("linalg_svd", ["U", "S", "Vh"])
LstsqResult = _nt("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
TriangularSolveResult = _nt("triangular_solve", ["solution", "cloned_coefficient"])
LUFactorResult = _nt("linalg_lu_factor", ["LU", "pivots"])
LUFactorExResult = _nt("linalg_lu_factor_ex", ["LU", "pivots", "info"])
LUResult = _nt("linalg_lu", ["P", "L", "U"])
LUUnpackResult = _nt("lu_unpack", ["P", "L", "U"])


# --- helpers ---------------------------------------------------------------------------------
def _mT(x):
    return transpose(x, -1, -2)


def _is_c(x):
    return x._data.dtype.kind == "c"


def _mH(x):
    """The conjugate transpose (x^T for real x): what x^T becomes in complex formulas."""
    t = transpose(x, -1, -2)
    return Conj()(t) if t._data.dtype.kind == "c" else t


def _eye_like(x, n=None):
    """A constant identity matrix of x's dtype and device."""
    xp = get_array_module(x._data)
    return Tensor(xp.eye(x.shape[-1] if n is None else n, dtype=x._data.dtype))


def _diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal (differentiable)."""
    return unsqueeze(v, -1) * _eye_like(v)


def _diagonal(x):
    """The diagonal of the last two dims of a square batch (differentiable)."""
    return (x * _eye_like(x)).sum(-1)


def _check_float(A, op):
    dt = A._data.dtype
    if dt.kind not in "fc":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{A.dtype}")


def _check_square(A, op, name="A"):
    _check_float(A, op)
    if A.ndim < 2:
        raise ShapeError(f"{op}: The input tensor {name} must have at least 2 dimensions, got "
                         f"shape {tuple(A.shape)}")
    if A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{op}: {name} must be batches of square matrices, but they are "
                         f"{A.shape[-2]} by {A.shape[-1]} matrices (shape {tuple(A.shape)})")


def _check_same_dtype(A, B, op):
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found A of type "
                           f"{A.dtype} and B of type {B.dtype} instead")


def _check_matrix(A, op, name="A"):
    _check_float(A, op)
    if A.ndim < 2:
        raise ShapeError(f"{op}: The input tensor {name} must have at least 2 dimensions, got "
                         f"shape {tuple(A.shape)}")


def _batch_shape(a_shape, b_shape, op):
    try:
        return tuple(np.broadcast_shapes(a_shape, b_shape))  # shapes only: no array data
    except ValueError:
        raise ShapeError(f"{op}: the batch dimensions of A {tuple(a_shape)} and B "
                         f"{tuple(b_shape)} cannot be broadcast together") from None


def _raising(xp):
    """A context in which CuPy raises LinAlgError for singular input (NumPy always does)."""
    if xp is np or not _capture.can_read_back():
        return _NoContext()
    try:  # (CuPy ignores LAPACK's info by default; cupyx.errstate makes it raise, one sync)
        import cupyx
    except ImportError:
        return _NoContext()
    errstate = getattr(cupyx, "errstate", None)
    return errstate(linalg="raise") if errstate is not None else _NoContext()


class _NoContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _leading_minor_failures(xp, a):
    """Per matrix, the order of the first leading minor that is not positive (0 if none):
    Sylvester's criterion, the ``info`` LAPACK's Cholesky reports."""
    n = a.shape[-1]
    info = xp.zeros(a.shape[:-2], dtype=xp.int32)
    for k in range(n, 0, -1):  # the smallest failing order wins: walk down, overwrite
        low = xp.tril(a[..., :k, :k], -1)
        sub = xp.tril(a[..., :k, :k]) + xp.swapaxes(xp.conj(low) if a.dtype.kind == "c" else low,
                                                    -1, -2)
        d = xp.linalg.det(sub)
        info = xp.where((d.real if d.dtype.kind == "c" else d) <= 0, xp.int32(k), info)
    return info


# --- LAPACK on the CPU -------------------------------------------------------------------------
# NumPy's batched linalg gufuncs spend ~20 us per small matrix (copies, OpenBLAS's small-size
# paths); SciPy's LAPACK/BLAS wrappers called once per matrix cost a few microseconds each. So
# on the CPU, when SciPy is importable, triangular solves, Cholesky and LU loop over the batch
# through them while the batch is not much larger than the matrices; many tiny matrices take
# batched NumPy code instead (one step per row), and so does everything without SciPy. CuPy
# arrays keep cupy.linalg.
_SCIPY = []


def _scipy_lapack():
    """(scipy.linalg.blas, scipy.linalg.lapack), or None without SciPy (imported once)."""
    if not _SCIPY:
        try:
            from scipy.linalg import blas, lapack
            _SCIPY.append((blas, lapack))
        except ImportError:
            _SCIPY.append(None)
    return _SCIPY[0]


def _per_matrix(xp, a):
    """The SciPy (blas, lapack) modules when ``a``'s batch should loop through them, else None."""
    if xp is not np or a.dtype.char not in "fd":
        return None
    n = a.shape[-1]
    batch = math.prod(a.shape[:-2])
    if n == 0 or batch == 0 or batch > 4 * max(n, 8):
        return None
    return _scipy_lapack()


def _tri_solve(a, b, upper, unit):
    """X with T X = B, T the upper/lower triangle of ``a`` (diagonal taken as 1 if ``unit``);
    batch dims broadcast. Singular T gives inf/nan, as LAPACK's trsm (torch does the same)."""
    xp = get_array_module(a)
    batch = _batch_shape(a.shape[:-2], b.shape[:-2], "linalg.solve_triangular")
    n, k = b.shape[-2:]
    dt = xp.result_type(a.dtype, b.dtype)
    if n == 0 or k == 0 or 0 in batch:
        return xp.zeros(batch + (n, k), dt)
    if xp is not np:  # CuPy: its batched LU solve on the triangle
        T = xp.triu(a) if upper else xp.tril(a)
        if unit:
            T = T - xp.triu(xp.tril(T)) + xp.eye(n, dtype=T.dtype)
        return Solve("linalg.solve_triangular").forward(T, b)
    a = xp.broadcast_to(a, batch + (n, n)).astype(dt, copy=False)
    b = xp.broadcast_to(b, batch + (n, k)).astype(dt, copy=False)
    mods = _per_matrix(xp, a)
    if mods is not None:
        trsm = mods[0].get_blas_funcs("trsm", (a,))
        out = xp.empty(batch + (k, n), dt)  # X^T per matrix: written without a copy
        a2, b2, o2 = a.reshape(-1, n, n), b.reshape(-1, n, k), out.reshape(-1, k, n)
        # X^T T^T = B^T: T^T (the transposed view, Fortran-ordered) on the right
        for i in range(a2.shape[0]):
            o2[i] = trsm(1.0, a2[i].T, b2[i].T, side=1, lower=int(upper), diag=int(unit))
        return xp.swapaxes(out, -1, -2)
    # one step per row, vectorised over the batch and the right-hand sides
    x = xp.empty(batch + (n, k), dt)
    for i in (range(n - 1, -1, -1) if upper else range(n)):
        r = b[..., i, :]
        done = slice(i + 1, n) if upper else slice(0, i)
        if (n - i - 1) if upper else i:
            r = r - xp.matmul(a[..., i:i + 1, done], x[..., done, :])[..., 0, :]
        x[..., i, :] = r if unit else r / a[..., i, i, None]
    return x


def _cholesky_lower(a):
    """Per matrix, (L, info) from LAPACK's potrf, or None where SciPy's loop does not apply."""
    xp = get_array_module(a)
    mods = _per_matrix(xp, a)
    if mods is None:
        return None
    n = a.shape[-1]
    potrf = mods[1].get_lapack_funcs("potrf", (a,))
    a2 = a.reshape(-1, n, n)
    out = xp.empty(a2.shape, a.dtype)
    info = xp.zeros(a2.shape[0], xp.int32)
    for i in range(a2.shape[0]):
        # the transposed view is Fortran-ordered: its upper factor U = L^T is L in C order
        u, info[i] = potrf(a2[i].T, lower=0, clean=1)
        out[i] = u.T
    return out.reshape(a.shape), info.reshape(a.shape[:-2])


# --- det / slogdet / inv -------------------------------------------------------------------
class Det(Function):
    """det(A); d det = det(A) tr(A^-1 dA), so grad = g conj(det A) A^-H."""
    uses_outputs = True

    def forward(self, a):
        return get_array_module(a).linalg.det(a)

    def backward(self, gy):
        A = self.inputs[0]
        d = self.output()
        return unsqueeze(unsqueeze(gy * _cj(d), -1), -1) * _mH(inv(A))


class Slogdet(Function):
    """(sign, log|det A|). d log|det| = Re tr(A^-1 dA), so g_lad enters as g A^-H. A complex
    sign = e^{i arg det} moves by i sign Im tr(A^-1 dA): it adds -i Im(conj(g_sign) sign) to
    the coefficient of A^-H (a real sign is not differentiable)."""
    uses_outputs = True

    def forward(self, a):
        sign, lad = get_array_module(a).linalg.slogdet(a)
        return sign, lad

    def backward(self, gsign, glad):
        A = self.inputs[0]
        coef = glad
        if _is_c(A):
            coef = Complex()(glad, -(Conj()(gsign) * self.output(0)).imag)
        return unsqueeze(unsqueeze(coef, -1), -1) * _mH(inv(A))


class Inv(Function):
    """A^-1; d(A^-1) = -A^-1 dA A^-1, so grad = -A^-H g A^-H."""
    uses_inputs = False
    uses_outputs = True

    def __init__(self, op="linalg.inv"):
        self.op = op

    def forward(self, a):
        xp = get_array_module(a)
        try:
            with _raising(xp):
                return xp.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"{self.op}: the input matrix of shape {tuple(a.shape)} is "
                              f"singular: the inversion could not be completed") from None

    def backward(self, gy):
        X = _mH(self.output())
        return -matmul(matmul(X, gy), X)


def det(input):
    """Determinant of each matrix of a batch (..., n, n)."""
    _check_square(input, "linalg.det")
    return Det()(input)


def slogdet(input):
    """(sign, log|det|) of each matrix: a stable determinant for large or small values."""
    _check_square(input, "linalg.slogdet")
    return SlogdetResult(*Slogdet()(input))


def logdet(input):
    """log det A: NaN where det < 0, -inf where det = 0 (log of the sign added); for complex
    A the complex log, log|det| + i arg det."""
    _check_square(input, "logdet")
    sign, lad = Slogdet()(input)
    if _is_c(input):
        return Complex()(lad, sign.angle())
    return where(sign.detach() < 0, math.nan, lad)


def inverse(input):
    """A^-1 for a batch of square matrices; LinAlgError if one is singular."""
    _check_square(input, "linalg.inv")
    return Inv()(input)


inv = inverse


def inv_ex(A, *, check_errors=False):
    """(inverse, info): info is non-zero for singular matrices instead of raising."""
    _check_square(A, "linalg.inv_ex")
    xp = get_array_module(A._data)
    info = xp.zeros(A.shape[:-2], dtype=xp.int32)
    try:
        return InvExResult(Inv("linalg.inv_ex")(A), Tensor(info))
    except LinAlgError:
        if check_errors:
            raise
    # some matrix is singular: invert the others, NaN for the singular ones (info: LAPACK's
    # getrf index of the first zero pivot)
    info = _lu_factor_arrays(A._data)[2]
    bad = info > 0
    eye = xp.eye(A.shape[-1], dtype=A._data.dtype)
    safe = xp.where(bad[..., None, None], eye, A._data)
    out = xp.where(bad[..., None, None], xp.asarray(math.nan, dtype=A._data.dtype),
                   xp.linalg.inv(safe))
    return InvExResult(Tensor(out), Tensor(info))


# --- solve -----------------------------------------------------------------------------------
class Solve(Function):
    """X = A^-1 B for B (..., n, k) (batch dims broadcast): gB = A^-H g, gA = -gB X^H.

    On the CPU with SciPy (small batches) the LU factors of A are kept, and the backward's
    solve with A^T reuses them (``factors``, ``trans``) instead of factorizing again.
    """
    uses_inputs = True
    uses_outputs = True

    def __init__(self, op="linalg.solve", factors=None, trans=False):
        self.op = op
        # LU factors kept by an earlier solve: of A itself, or (trans) of A's transpose
        self.factors, self.trans = factors, trans

    def forward(self, a, b):
        xp = get_array_module(a)
        batch = _batch_shape(a.shape[:-2], b.shape[:-2], self.op)
        if a.shape[:-2] != batch:  # (CuPy's solve wants equal batch shapes)
            a = xp.ascontiguousarray(xp.broadcast_to(a, batch + a.shape[-2:]))
        if b.shape[:-2] != batch:
            b = xp.ascontiguousarray(xp.broadcast_to(b, batch + b.shape[-2:]))
        factors, self.factors = self.factors, None
        mods = _per_matrix(xp, a) if a.dtype == b.dtype and b.shape[-1] else None
        if mods is not None:
            return self._lapack(mods[1], a, b, factors)
        try:
            with _raising(xp):
                return xp.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"{self.op}: the matrix A of shape {tuple(a.shape)} is singular: "
                              f"the solve could not be completed") from None

    def _lapack(self, lapack, a, b, factors):
        """One getrf + getrs per matrix (or getrs alone on kept factors)."""
        n, k = b.shape[-2:]
        getrf, getrs = lapack.get_lapack_funcs(("getrf", "getrs"), (a,))
        a2, b2 = a.reshape(-1, n, n), b.reshape(-1, n, k)
        out = np.empty(b2.shape, a.dtype)
        trans = self.trans
        if factors is None:
            factors, trans = [], False
            for i in range(a2.shape[0]):
                lu_, piv, info = getrf(a2[i])
                if info > 0:
                    raise LinAlgError(f"{self.op}: the matrix A of shape {tuple(a.shape)} is "
                                      f"singular: the solve could not be completed")
                factors.append((lu_, piv))
        for i, (lu_, piv) in enumerate(factors):
            out[i] = getrs(lu_, piv, b2[i], trans=int(trans))[0]
        self.kept = (factors, trans)  # for the backward's solve with the transpose
        return out.reshape(b.shape)

    def backward(self, gy):
        A, B = self.inputs
        kept = getattr(self, "kept", None)
        gB = (Solve(self.op, kept[0], not kept[1]) if kept else Solve(self.op))(_mH(A), gy)
        gA = -matmul(gB, _mH(self.output())) if A.requires_grad else None
        return gA, (gB if B.requires_grad else None)


def _solve(A, B, left, op):
    """torch.linalg.solve's rules: B is a (batch of) vector(s) when it is 1-D or A's shape
    without its last dim; left=False solves X A = B."""
    _check_square(A, op)
    _check_float(B, op)
    _check_same_dtype(A, B, op)
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        if B.shape[-1] != n or not left:  # (torch has no vector case for X A = B)
            raise ShapeError(f"{op}: Incompatible shapes of A and B for the equation "
                             f"{'AX = B' if left else 'XA = B'} ({tuple(A.shape)} and "
                             f"{tuple(B.shape)})")
        X = Solve(op)(A, unsqueeze(B, -1))
        return reshape(X, X.shape[:-1])
    rows = B.shape[-2] if left else B.shape[-1]
    if B.ndim < 2 or rows != n:
        raise ShapeError(f"{op}: Incompatible shapes of A and B for the equation "
                         f"{'AX = B' if left else 'XA = B'} ({tuple(A.shape)} and "
                         f"{tuple(B.shape)})")
    if left:
        return Solve(op)(A, B)
    return _mT(Solve(op)(_mT(A), _mT(B)))  # (X A = B <=> A^T X^T = B^T, no conjugates)


def solve(A, B, *, left=True):
    """X with A X = B (or X A = B for left=False), batched and broadcast."""
    return _solve(A, B, left, "linalg.solve")


def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info) of linalg.solve; a singular A raises only with check_errors."""
    xp = get_array_module(A._data)
    try:
        X = _solve(A, B, left, "linalg.solve_ex")
        return SolveExResult(X, Tensor(xp.zeros(A.shape[:-2], dtype=xp.int32)))
    except LinAlgError:
        if check_errors:
            raise
    Ainv, info = inv_ex(A)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        X = matmul(Ainv, unsqueeze(B, -1)) if left else matmul(unsqueeze(B, -2), Ainv)
        X = reshape(X, X.shape[:-1] if left else X.shape[:-2] + X.shape[-1:])
    else:
        X = matmul(Ainv, B) if left else matmul(B, Ainv)
    return SolveExResult(X, info)


class SolveTriangular(Function):
    """X = T^-1 B, T the upper/lower triangle of A (unit diagonal if ``unit``).

    grad: gB = T^-H g (a triangular solve with the conjugate-transposed triangle) and
    gA = -(gB X^H) on T's triangle only (strictly, for a unit diagonal): the other entries
    of A are never read.
    """
    uses_outputs = True

    def __init__(self, upper, unit):
        self.upper, self.unit = upper, unit

    def forward(self, a, b):
        return _tri_solve(a, b, self.upper, self.unit)

    def backward(self, g):
        A, B = self.inputs
        gB = SolveTriangular(not self.upper, self.unit)(_mH(A), g)
        gA = None
        if A.requires_grad:
            outer = matmul(gB, _mH(self.output()))
            off = (1 if self.upper else -1) if self.unit else 0
            gA = -(triu(outer, off) if self.upper else tril(outer, off))
        return gA, (gB if B.requires_grad else None)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with T X = B (or X T = B) for T the upper/lower triangle of A (unit diagonal if
    ``unitriangular``); the other triangle of A is never read and gets no gradient."""
    op = "linalg.solve_triangular"
    _check_square(A, op)
    _check_float(B, op)
    _check_same_dtype(A, B, op)
    if B.ndim < 2:
        raise ShapeError(f"{op}: The input tensor B must have at least 2 dimensions, got shape "
                         f"{tuple(B.shape)}")
    rows = B.shape[-2] if left else B.shape[-1]
    if rows != A.shape[-1]:
        raise ShapeError(f"{op}: Incompatible shapes of A and B for the equation "
                         f"{'AX = B' if left else 'XA = B'} ({tuple(A.shape)} and "
                         f"{tuple(B.shape)})")
    upper, unit = bool(upper), bool(unitriangular)
    _batch_shape(A.shape[:-2], B.shape[:-2], op)
    if left:
        return SolveTriangular(upper, unit)(A, B)
    return _mT(SolveTriangular(not upper, unit)(_mT(A), _mT(B)))


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """torch.triangular_solve (deprecated in torch): (solution, cloned_coefficient)."""
    T = _mT(A) if transpose else A
    X = solve_triangular(T, b, upper=upper != bool(transpose), unitriangular=unitriangular)
    return TriangularSolveResult(X, A.clone())


# --- cholesky --------------------------------------------------------------------------------
class Cholesky(Function):
    """Lower L with A = L L^H (reads A's lower triangle).

    grad: with P = Phi(L^H gL) (lower triangle, halved diagonal), gA = L^-H P L^-1,
    made Hermitian (the gradient with respect to a Hermitian A).
    """
    uses_inputs = False
    uses_outputs = True

    def __init__(self, op="linalg.cholesky"):
        self.op = op

    def forward(self, a):
        xp = get_array_module(a)
        try:
            looped = _cholesky_lower(a)
            if looped is not None:
                if looped[1].any():
                    raise np.linalg.LinAlgError
                return looped[0]
            with _raising(xp):
                return xp.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            info = _leading_minor_failures(xp, a)
            order = int(info[info > 0].min()) if a.ndim > 2 else int(info)
            raise LinAlgError(f"{self.op}: The factorization could not be completed because the "
                              f"input of shape {tuple(a.shape)} is not positive-definite (the "
                              f"leading minor of order {order} is not positive-definite).") \
                from None

    def backward(self, gL):
        L = self.output()
        P = tril(matmul(_mH(L), gL))
        P = P - 0.5 * _diag_embed(_diagonal(P))
        S = solve_triangular(_mH(L), P, upper=True)               # L^-H P
        gA = _mH(solve_triangular(_mH(L), _mH(S), upper=True))    # L^-H P L^-1
        return 0.5 * (gA + _mH(gA))


def _cholesky(A, upper, op):
    _check_square(A, op)
    L = Cholesky(op)(A)
    return _mH(L) if upper else L


def cholesky(input, upper=False):
    """torch.cholesky: the lower (or upper) Cholesky factor of a positive-definite matrix."""
    return _cholesky(input, upper, "cholesky")


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): info is the order of the first non-positive leading minor, 0 on success."""
    xp = get_array_module(A._data)
    try:
        L = _cholesky(A, upper, "linalg.cholesky_ex")
        return CholeskyExResult(L, Tensor(xp.zeros(A.shape[:-2], dtype=xp.int32)))
    except LinAlgError:
        if check_errors:
            raise
    a = A._data
    info = _leading_minor_failures(xp, a)
    bad = (info > 0)[..., None, None]
    L = xp.linalg.cholesky(xp.where(bad, xp.eye(a.shape[-1], dtype=a.dtype), a))
    L = xp.where(bad, xp.asarray(math.nan, dtype=a.dtype), L)
    return CholeskyExResult(Tensor(xp.conj(xp.swapaxes(L, -1, -2)) if upper else L),
                            Tensor(info))


def cholesky_solve(B, L, upper=False):
    """X with (L L^H) X = B given the Cholesky factor L (U^H U for upper=True)."""
    op = "cholesky_solve"
    _check_square(L, op, "L")
    if B.ndim < 2 or B.shape[-2] != L.shape[-1]:
        raise ShapeError(f"{op}: Incompatible shapes of B {tuple(B.shape)} and L "
                         f"{tuple(L.shape)} (expected B of shape (*, {L.shape[-1]}, k))")
    if upper:  # A = U^H U: solve U^H Y = B, then U X = Y
        return solve_triangular(L, solve_triangular(_mH(L), B, upper=False), upper=True)
    return solve_triangular(_mH(L), solve_triangular(L, B, upper=False), upper=True)


def cholesky_inverse(L, upper=False):
    """(L L^T)^-1 from its Cholesky factor (U^T U for upper=True)."""
    _check_square(L, "cholesky_inverse", "L")
    eye = broadcast_to(_eye_like(L), tuple(L.shape))
    return cholesky_solve(eye, L, upper)


# --- QR --------------------------------------------------------------------------------------
def _copyltu(M):
    """The Hermitian matrix with M's lower triangle mirrored above (conjugated) and the real
    part of its diagonal (R's diagonal is real, so the phase there is no degree of freedom)."""
    low = tril(M, -1)
    d = _diagonal(M)
    return low + _mH(low) + _diag_embed(d.real if _is_c(d) else d)


def _qr_backward_tall(Q, R, gQ, gR):
    """A = QR with m >= n (Q m x n, R n x n): gA = (gQ + Q copyltu(M)) R^-H,
    M = R gR^H - gQ^H Q."""
    M = matmul(R, _mH(gR)) - matmul(_mH(gQ), Q)
    b = gQ + matmul(Q, _copyltu(M))
    return solve_triangular(_mH(R), b, upper=False, left=False)


class QR(Function):
    """A = QR (mode 'reduced', 'complete' or 'r')."""
    uses_inputs = False
    uses_outputs = True

    def __init__(self, mode):
        self.mode = mode

    def forward(self, a):
        xp = get_array_module(a)
        if self.mode == "r":
            r = xp.linalg.qr(a, mode="r")
            return xp.zeros((0,), dtype=a.dtype), r
        q, r = xp.linalg.qr(a, mode=self.mode)
        return q, r

    def backward(self, gQ, gR):
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        Q, R = self.output(0), self.output(1)
        m, n = self.inputs[0].shape[-2:]
        if self.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        if m >= n:
            return _qr_backward_tall(Q, R, gQ, gR)
        # wide A = [X | Y] with R = [U | V]: X = Q U is square, Y = Q V
        U, V = narrow(R, -1, 0, m), narrow(R, -1, m, n - m)
        gU, gV = narrow(gR, -1, 0, m), narrow(gR, -1, m, n - m)
        Y = matmul(Q, V)  # (A's last columns, from the outputs: double backward stays exact)
        gX = _qr_backward_tall(Q, U, gQ + matmul(Y, _mH(gV)), gU)
        return cat([gX, matmul(Q, gV)], -1)


def _qr(A, mode, op):
    _check_matrix(A, op)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"{op}: qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    return QR(mode)(A)


def qr(input, some=True):
    """torch.qr: (Q, R) reduced when ``some`` (else complete)."""
    return QRResult(*_qr(input, "reduced" if some else "complete", "qr"))


# --- eigh ------------------------------------------------------------------------------------
class Eigh(Function):
    """Eigenvalues (ascending, real) and orthonormal eigenvectors of a symmetric (Hermitian)
    matrix.

    grad (distinct eigenvalues): gA = V (diag(gL) + skew(V^H gV) / 2 / E) V^H with
    E_ij = L_j - L_i, skew(X) = X - X^H. Complex eigenvectors are defined up to a phase
    e^{i phi} each: a loss that depends on it (Im diag(V^H gV) != 0) is refused.
    """
    uses_inputs = False
    uses_outputs = True

    def __init__(self, uplo):
        self.uplo = uplo

    def forward(self, a):
        w, v = get_array_module(a).linalg.eigh(a, UPLO=self.uplo)
        return w, v

    def backward(self, gL, gV):
        L, V = self.output(0), self.output(1)
        return _eigh_backward(L, V, gL, gV)


def _check_phase(im_diag, op, what="eigenvectors"):
    """torch's gauge check: the loss must not depend on the phases of complex vectors."""
    if not _capture.can_read_back():
        return
    xp = get_array_module(im_diag)
    if bool((xp.abs(im_diag) > 1e-2).any()):
        raise RuntimeError(f"{op}: the {what} of a complex matrix are only defined up to a "
                           f"factor e^(i phi) each, and the loss depends on that phase: its "
                           f"gradient is ill-defined")


def _eigh_backward(L, V, gL, gV):
    inner = _diag_embed(gL)
    if gV is not None:
        VtgV = matmul(_mH(V), gV)
        if _is_c(VtgV):
            _check_phase(_diagonal(VtgV)._data.imag, "linalg.eigh backward")
        E = unsqueeze(L, -2) - unsqueeze(L, -1)
        # the skew part's diagonal is 0, and ties (ill-posed) are dropped rather than NaN
        E = where(E == 0, math.inf, E)
        inner = inner + 0.5 * (VtgV - _mH(VtgV)) / E
    return matmul(matmul(V, inner), _mH(V))


class Eigvalsh(Function):
    """Eigenvalues only: gA = V diag(g) V^H (V recomputed differentiably under create_graph)."""
    uses_inputs = True

    def __init__(self, uplo):
        self.uplo = uplo

    def forward(self, a):
        w, v = get_array_module(a).linalg.eigh(a, UPLO=self.uplo)
        self.v = v
        return w

    def backward(self, gL):
        if grad_mode.state.enabled:  # higher order: V as a function of A
            V = Eigh(self.uplo)(self.inputs[0])[1]
        else:
            V = Tensor(self.v)
        return matmul(V * unsqueeze(gL, -2), _mH(V))


# --- eig (general square matrices) -------------------------------------------------------
def _complex_of(dtype):
    return np.complex64 if dtype in (np.float32, np.complex64) else np.complex128


def _eig_arrays(a):
    """(w, v) of LAPACK's geev as complex arrays (eigenvectors of unit norm, as torch)."""
    xp = get_array_module(a)
    cdt = _complex_of(a.dtype)
    eig = getattr(xp.linalg, "eig", None)
    if eig is None:  # (CuPy without a general eigensolver: LAPACK on the host, as torch does)
        w, v = np.linalg.eig(xp.asnumpy(a))
        return xp.asarray(w.astype(cdt)), xp.asarray(v.astype(cdt))
    w, v = eig(a)
    return w.astype(cdt, copy=False), v.astype(cdt, copy=False)


def _eig_backward(L, V, gL, gV):
    """gA = V^-H (diag(gL) + P(V^H gV) / conj(E)) V^H, E_ij = L_j - L_i, with P removing the
    component that only rescales the unit-norm columns: P(X) = X - V^H V diag(Re diag X)."""
    Vh = _mH(V)
    inner = _diag_embed(gL)
    if gV is not None:
        VhgV = matmul(Vh, gV)
        d = _diagonal(VhgV)
        _check_phase(d._data.imag, "linalg.eig backward")
        VhgV = VhgV - matmul(Vh, V * unsqueeze(d.real, -2))
        E = _cj(unsqueeze(L, -2) - unsqueeze(L, -1))
        eye = _eye_like(E)
        inner = inner + VhgV * (1.0 - eye) / (E + eye)  # (the diagonal is gL's alone)
    return Solve("linalg.eig")(Vh, matmul(inner, Vh))


class Eig(Function):
    """Eigenvalues and unit-norm eigenvectors (columns) of a general square matrix, complex.
    The gradient assumes distinct eigenvalues; a loss that depends on the phases of the
    eigenvectors is refused. A real input keeps the real part of its gradient."""
    uses_inputs = False
    uses_outputs = True

    def forward(self, a):
        return _eig_arrays(a)

    def backward(self, gL, gV):
        return _eig_backward(self.output(0), self.output(1), gL, gV)


class Eigvals(Function):
    """Eigenvalues only: gA = V^-H diag(g) V^H (V recomputed differentiably under
    create_graph)."""

    def forward(self, a):
        w, self.v = _eig_arrays(a)
        return w

    def backward(self, gL):
        if grad_mode.state.enabled:
            V = Eig()(self.inputs[0])[1]
        else:
            V = Tensor(self.v)
        return _eig_backward(None, V, gL, None)


# --- SVD -------------------------------------------------------------------------------------
class SVD(Function):
    """A = U diag(S) Vh (S descending, real). The gradient uses the reduced factors (torch
    drops the extra columns of full_matrices) and assumes distinct non-zero singular values;
    complex singular vectors are defined up to a common phase per pair (u_i, v_i), and a loss
    that depends on it is refused."""
    uses_inputs = False
    uses_outputs = True

    def __init__(self, full_matrices):
        self.full = full_matrices

    def forward(self, a):
        u, s, vh = get_array_module(a).linalg.svd(a, full_matrices=self.full)
        return u, s, vh

    def backward(self, gU, gS, gVh):
        U, S, Vh = self.output(0), self.output(1), self.output(2)
        m, n = U.shape[-2], Vh.shape[-1]
        k = min(m, n)
        if self.full:
            U, gU = narrow(U, -1, 0, k), narrow(gU, -1, 0, k)
            Vh, gVh = narrow(Vh, -2, 0, k), narrow(gVh, -2, 0, k)
        return _svd_backward(U, S, Vh, gU, gS, gVh)


def _svd_backward(U, S, Vh, gU, gS, gVh):
    m, n = U.shape[-2], Vh.shape[-1]
    V, gV = _mH(Vh), _mH(gVh)
    skew = lambda X: X - _mH(X)  # noqa: E731
    S2 = S * S
    E = unsqueeze(S2, -2) - unsqueeze(S2, -1)
    E = where(E == 0, math.inf, E)  # (diagonal: skew parts vanish; ties: dropped, not NaN)
    UhgU, VhgV = matmul(_mH(U), gU), matmul(Vh, gV)
    gA = (skew(UhgU) * unsqueeze(S, -2) + unsqueeze(S, -1) * skew(VhgV)) / E + _diag_embed(gS)
    if _is_c(UhgU):
        # only the phase difference of u_i and v_i is defined: Im diag(U^H gU) must cancel
        # Im diag(V^H gV); the defined part moves A by i Im(diag U^H gU) / S on the diagonal
        im_u = _diagonal(UhgU).imag
        _check_phase(im_u._data + _diagonal(VhgV)._data.imag, "linalg.svd backward",
                     "singular vectors")
        gA = gA + _diag_embed(Complex()(im_u * 0.0, im_u / S))
    if m > n:
        gA = matmul(U, gA)
        gUSinv = gU / unsqueeze(S, -2)
        gA = gA + gUSinv - matmul(U, matmul(_mH(U), gUSinv))
        return matmul(gA, Vh)
    if m < n:
        gA = matmul(gA, Vh)
        gVSinv = gV / unsqueeze(S, -2)
        gA = gA + _mH(gVSinv) - matmul(matmul(_mH(gVSinv), V), Vh)
        return matmul(U, gA)
    return matmul(U, matmul(gA, Vh))


class SVDVals(Function):
    """Singular values only: gA = U diag(g) Vh (U, Vh recomputed under create_graph)."""

    def forward(self, a):
        u, s, vh = get_array_module(a).linalg.svd(a, full_matrices=False)
        self.u, self.vh = u, vh
        return s

    def backward(self, gS):
        if grad_mode.state.enabled:
            U, _, Vh = SVD(False)(self.inputs[0])
        else:
            U, Vh = Tensor(self.u), Tensor(self.vh)
        return matmul(U * unsqueeze(gS, -2), Vh)


def svd(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V (not V^T); reduced when ``some``."""
    _check_matrix(input, "svd")
    if not compute_uv:
        xp = get_array_module(input._data)
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        S = SVDVals()(input)
        return SVDResult(Tensor(xp.zeros(batch + (m, m), dtype=input._data.dtype)), S,
                         Tensor(xp.zeros(batch + (n, n), dtype=input._data.dtype)))
    U, S, Vh = SVD(not some)(input)
    return SVDResult(U, S, _mH(Vh))


# --- pinv --------------------------------------------------------------------------------------
def _tol_array(xp, value, dtype):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value._data.astype(dtype)
    return xp.asarray(float(value), dtype=dtype)


def _cutoff(xp, s_abs_max, atol, rtol, m, n, dtype):
    """torch's threshold max(atol, rtol * sigma_max); rtol defaults to eps * max(m, n), or to
    0 when only a positive atol is given."""
    dtype = np.finfo(dtype).dtype  # (a complex matrix has real singular values)
    a = _tol_array(xp, atol, dtype)
    r = _tol_array(xp, rtol, dtype)
    if r is None:
        eps = xp.asarray(np.finfo(dtype).eps * max(m, n), dtype=dtype)
        if atol is None:
            r = eps
        else:
            r = xp.where(a > 0, xp.asarray(0, dtype=dtype), eps)
    tol = r * s_abs_max
    if a is not None:
        tol = xp.maximum(a, tol)
    return tol


class Pinv(Function):
    """Moore-Penrose pseudo-inverse X = A^+ (through the SVD, or eigh when hermitian).

    grad (A of constant rank): -X^H g X^H + (I - A X) g^H X X^H + X^H X g^H (I - X A).
    """
    uses_outputs = True

    def __init__(self, atol, rtol, hermitian):
        self.atol, self.rtol, self.hermitian = atol, rtol, hermitian

    def forward(self, a):
        xp = get_array_module(a)
        m, n = a.shape[-2:]
        if m == 0 or n == 0:
            return xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
        if self.hermitian:
            w, v = xp.linalg.eigh(a)
            tol = _cutoff(xp, xp.abs(w).max(-1), self.atol, self.rtol, m, n, a.dtype)
            keep = xp.abs(w) > tol[..., None]
            winv = xp.where(keep, 1 / xp.where(keep, w, 1), 0).astype(a.dtype)
            return xp.matmul(v * winv[..., None, :], xp.conj(xp.swapaxes(v, -1, -2)))
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        tol = _cutoff(xp, s[..., 0], self.atol, self.rtol, m, n, a.dtype)
        keep = s > tol[..., None]
        sinv = xp.where(keep, 1 / xp.where(keep, s, 1), 0).astype(a.dtype)
        if a.dtype.kind == "c":
            u, vh = xp.conj(u), xp.conj(vh)
        return xp.matmul(xp.swapaxes(vh, -1, -2) * sinv[..., None, :], xp.swapaxes(u, -1, -2))

    def backward(self, g):
        A, X = self.inputs[0], self.output()
        Xt, gt = _mH(X), _mH(g)
        m, n = A.shape[-2:]
        Im, In = _eye_like(A, m), _eye_like(A, n)
        return (-matmul(matmul(Xt, g), Xt)
                + matmul(matmul(Im - matmul(A, X), gt), matmul(X, Xt))
                + matmul(matmul(Xt, X), matmul(gt, In - matmul(X, A))))


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """Pseudo-inverse; singular values <= max(atol, rtol * sigma_max) count as zero."""
    _check_matrix(A, "linalg.pinv")
    if hermitian:
        _check_square(A, "linalg.pinv")
    return Pinv(atol, rtol, hermitian)(A)


def pinverse(input, rcond=1e-15):
    """torch.pinverse: pinv with rtol = rcond."""
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """Number of singular values above max(atol, rtol * sigma_max) (int64, not differentiable)."""
    _check_matrix(A, "linalg.matrix_rank")
    a = A._data
    xp = get_array_module(a)
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return Tensor(xp.zeros(a.shape[:-2], dtype=xp.int64))
    s = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
    tol = _cutoff(xp, s.max(-1), atol, rtol, m, n, a.dtype)
    return Tensor((s > tol[..., None]).sum(-1).astype(xp.int64))


# --- matrix_power / matrix_exp ---------------------------------------------------------------
def matrix_power(input, n):
    """A^n by repeated squaring; negative n through the inverse; n = 0 gives the identity."""
    op = "linalg.matrix_power"
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"{op}: the exponent must be an int, got {type(n).__name__}")
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise ShapeError(f"{op}: A must be batches of square matrices, got shape "
                         f"{tuple(input.shape)}")
    n = int(n)
    if n == 0:
        xp = get_array_module(input._data)
        eye = xp.eye(input.shape[-1], dtype=input._data.dtype)
        if input.requires_grad and grad_mode.state.enabled:  # in the graph, a zero gradient
            return input * 0.0 + Tensor(eye)
        return Tensor(xp.ascontiguousarray(xp.broadcast_to(eye, input.shape)))
    A = input
    if n < 0:
        _check_float(input, op)
        A, n = inv(input), -n
    result = None
    while n:
        if n & 1:
            result = A if result is None else matmul(result, A)
        n >>= 1
        if n:
            A = matmul(A, A)
    return result


# Pade(13) coefficients of exp (Higham 2005, "The scaling and squaring method revisited")
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def _expm(a):
    """exp of each matrix: scale by 2^-s so that |A/2^s|_1 <= theta_13, Pade(13), square s
    times. Matrices of a batch get their own s (squaring stops where s is reached)."""
    xp = get_array_module(a)
    n = a.shape[-1]
    wide = xp.complex128 if a.dtype.kind == "c" else xp.float64
    work = a.astype(wide) if a.dtype != wide else a
    norm1 = xp.abs(work).sum(-2).max(-1) if n else xp.zeros(a.shape[:-2])
    s = xp.maximum(xp.ceil(xp.log2(xp.maximum(norm1, 1e-300) / _THETA13)), 0)
    s = xp.where(xp.isfinite(s), s, 0)
    A = work / (2.0 ** s)[..., None, None]
    b = _PADE13
    eye = xp.eye(n, dtype=work.dtype)
    A2 = xp.matmul(A, A)
    A4 = xp.matmul(A2, A2)
    A6 = xp.matmul(A4, A2)
    U = xp.matmul(A, xp.matmul(A6, b[13] * A6 + b[11] * A4 + b[9] * A2)
                  + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
    V = xp.matmul(A6, b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 \
        + b[2] * A2 + b[0] * eye
    R = xp.linalg.solve(V - U, V + U)
    steps = int(s.max()) if s.size else 0  # (one read-back: how many squarings)
    for i in range(steps):
        R = xp.where((s > i)[..., None, None], xp.matmul(R, R), R)
    return R.astype(a.dtype)


class MatrixExp(Function):
    """exp(A) = sum A^k / k!. Backward through the block identity
    exp([[A^H, G], [0, A^H]]) = [[exp(A^H), L], [0, exp(A^H)]], L the adjoint action on G."""
    uses_outputs = False

    def forward(self, a):
        return _expm(a)

    def backward(self, g):
        At = _mH(self.inputs[0])
        n = At.shape[-1]
        zero = At * 0.0
        big = cat([cat([At, g], -1), cat([zero, At], -1)], -2)
        return narrow(narrow(matrix_exp(big), -2, 0, n), -1, n, n)


def matrix_exp(A):
    """The matrix exponential of each square matrix of a batch."""
    _check_square(A, "linalg.matrix_exp")
    return MatrixExp()(A)


# --- LU ----------------------------------------------------------------------------------------
def _lu_factor_arrays(a):
    """Batched LU with partial pivoting, one column per step (vectorized over the batch):
    returns the packed LU, LAPACK-style 1-based pivots (int32) and info."""
    xp = get_array_module(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    mods = _per_matrix(xp, a) if k else None
    if mods is not None and math.prod(batch) <= 4 * max(m, n, 8):
        getrf = mods[1].get_lapack_funcs("getrf", (a,))
        a2 = a.reshape(-1, m, n)
        lu_ = xp.empty(a2.shape, a.dtype)
        piv = xp.empty((a2.shape[0], k), xp.int32)
        info = xp.empty(a2.shape[0], xp.int32)
        for i in range(a2.shape[0]):
            lu_[i], piv[i], info[i] = getrf(a2[i])
        piv += 1  # (SciPy's pivots are 0-based, LAPACK's and torch's 1-based)
        return lu_.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)
    lu_ = a.copy()
    piv = xp.zeros(batch + (k,), dtype=xp.int32)
    info = xp.zeros(batch, dtype=xp.int32)
    bidx = tuple(xp.arange(d).reshape((-1,) + (1,) * (len(batch) - i - 1))
                 for i, d in enumerate(batch))
    for j in range(k):
        col = lu_[..., j:, j]
        mag = xp.abs(col.real) + xp.abs(col.imag) if col.dtype.kind == "c" else xp.abs(col)
        p = mag.argmax(-1) + j  # (LAPACK's i?amax: |Re| + |Im| for complex)
        piv[..., j] = (p + 1).astype(xp.int32)
        row_j = lu_[..., j, :].copy()
        row_p = lu_[bidx + (p,)].copy()
        lu_[..., j, :] = row_p
        lu_[bidx + (p,)] = row_j
        d = lu_[..., j, j]
        zero = d == 0
        info = xp.where(zero & (info == 0), xp.int32(j + 1), info)
        l = lu_[..., j + 1:, j] / xp.where(zero, 1, d)[..., None]
        l = xp.where(zero[..., None], 0, l)
        lu_[..., j + 1:, j] = l
        lu_[..., j + 1:, j + 1:] -= l[..., :, None] * lu_[..., j, None, j + 1:]
    return lu_, piv, info


def _perm_from_pivots(xp, piv, m):
    """The permutation (row order) that LAPACK's sequential row swaps produce."""
    batch = piv.shape[:-1]
    perm = xp.broadcast_to(xp.arange(m), batch + (m,)).copy()
    bidx = tuple(xp.arange(d).reshape((-1,) + (1,) * (len(batch) - i - 1))
                 for i, d in enumerate(batch))
    for j in range(piv.shape[-1]):
        p = piv[..., j].astype(xp.int64) - 1
        a, b = perm[..., j].copy(), perm[bidx + (p,)].copy()
        perm[..., j] = b
        perm[bidx + (p,)] = a
    return perm


def _perm_matrix(xp, perm, dtype):
    """P with A = P L U: column i of P is e_{perm[i]} (row perm[i] of A is row i of LU)."""
    m = perm.shape[-1]
    return (perm[..., None, :] == xp.arange(m)[:, None]).astype(dtype)


def lu_factor(A, *, pivot=True):
    """(LU, pivots): L (unit lower) and U packed in one matrix, LAPACK's 1-based pivots."""
    LU, piv, _ = lu_factor_ex(A, pivot=pivot)
    return LUFactorResult(LU, piv)


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info); not differentiable (use linalg.lu for gradients)."""
    op = "linalg.lu_factor"
    _check_matrix(A, op)
    if not pivot:
        raise NotImplementedError(f"{op}: LU without pivoting is not supported")
    lu_, piv, info = _lu_factor_arrays(A._data)
    if check_errors and _capture.can_read_back() and bool((info > 0).any()):
        raise LinAlgError(f"{op}: U[{int(info.max())}, {int(info.max())}] is zero: the matrix "
                          f"of shape {tuple(A.shape)} is singular")
    return LUFactorExResult(Tensor(lu_), Tensor(piv), Tensor(info))


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from lu_factor's packed result (A = P L U)."""
    xp = get_array_module(LU_data._data)
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    dt = LU_data._data.dtype
    P = L = U = Tensor(xp.zeros((0,), dtype=dt))
    if unpack_data:
        L = tril(narrow(LU_data, -1, 0, k), -1) + Tensor(xp.eye(m, k, dtype=dt))
        U = triu(narrow(LU_data, -2, 0, k))
    if unpack_pivots:
        perm = _perm_from_pivots(xp, LU_pivots._data, m)
        P = Tensor(_perm_matrix(xp, perm, dt))
    return LUUnpackResult(P, L, U)


def _lu(A, pivot=True):
    op = "linalg.lu"
    _check_matrix(A, op)
    if not pivot:
        raise NotImplementedError(f"{op}: LU without pivoting is not supported")
    xp = get_array_module(A._data)
    packed, piv, _ = _lu_factor_arrays(A._data)
    m = A.shape[-2]
    perm = _perm_from_pivots(xp, piv, m)
    P = Tensor(_perm_matrix(xp, perm, A._data.dtype))
    # the factors as differentiable functions of A: P^T A (rows in pivot order) = L U needs
    # no pivoting, and the packed factors computed above are that LU
    L, U = LUNoPivot(packed)(matmul(_mT(P), A))
    return LUResult(P, L, U)


class LUNoPivot(Function):
    """A = L U (no row exchanges: A's rows already in pivot order), L unit lower; the forward
    unpacks factors computed beforehand.

    grad (square): gA = L^-H (tril(L^H gL, -1) + triu(gU U^H)) U^-H; wide and tall matrices
    split into the square block and the rest.
    """
    uses_inputs = False
    uses_outputs = True

    def __init__(self, packed):
        self.packed = packed  # the packed factors of the input (from _lu_factor_arrays)

    def forward(self, a):
        xp = get_array_module(a)
        m, n = a.shape[-2:]
        k = min(m, n)
        lu_, self.packed = self.packed, None
        return xp.tril(lu_[..., :, :k], -1) + xp.eye(m, k, dtype=a.dtype), xp.triu(lu_[..., :k, :])

    def backward(self, gL, gU):
        L, U = self.output(0), self.output(1)
        m, n = L.shape[-2], U.shape[-1]
        k = min(m, n)
        if m == n:
            phi = tril(matmul(_mH(L), gL), -1) + triu(matmul(gU, _mH(U)))
            X = solve_triangular(_mH(L), phi, upper=True, unitriangular=True)
            return solve_triangular(_mH(U), X, upper=False, left=False)
        if m < n:  # A = L [U1 | U2]: the square block A1 = L U1, and A2 = L U2
            U1, U2 = narrow(U, -1, 0, k), narrow(U, -1, k, n - k)
            gU1, gU2 = narrow(gU, -1, 0, k), narrow(gU, -1, k, n - k)
            # d A2 = dL U2 + L dU2 -> dU2 = L^-1 (dA2 - dL U2)
            gA2 = solve_triangular(_mH(L), gU2, upper=True, unitriangular=True)
            gLtot = gL - matmul(gA2, _mH(U2))
            phi = tril(matmul(_mH(L), gLtot), -1) + triu(matmul(gU1, _mH(U1)))
            X = solve_triangular(_mH(L), phi, upper=True, unitriangular=True)
            gA1 = solve_triangular(_mH(U1), X, upper=False, left=False)
            return cat([gA1, gA2], -1)
        # m > n: A = [L1; L2] U, A1 = L1 U square, A2 = L2 U -> dL2 = (dA2 - L2 dU) U^-1
        L1, L2 = narrow(L, -2, 0, k), narrow(L, -2, k, m - k)
        gL1, gL2 = narrow(gL, -2, 0, k), narrow(gL, -2, k, m - k)
        gA2 = solve_triangular(_mH(U), gL2, upper=False, left=False)  # gL2 U^-T
        gUtot = gU - matmul(_mH(L2), gA2)
        phi = tril(matmul(_mH(L1), gL1), -1) + triu(matmul(gUtot, _mH(U)))
        X = solve_triangular(_mH(L1), phi, upper=True, unitriangular=True)
        gA1 = solve_triangular(_mH(U), X, upper=False, left=False)
        return cat([gA1, gA2], -2)


def lu(*args, **kwargs):
    """torch.lu (deprecated in torch): (LU, pivots[, infos]) of lu_factor."""
    A = args[0] if args else kwargs.pop("A")
    pivot = kwargs.get("pivot", args[1] if len(args) > 1 else True)
    get_infos = kwargs.get("get_infos", args[2] if len(args) > 2 else False)
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    return (LU, piv, info) if get_infos else (LU, piv)


def _lu_solve(LU, pivots, B, left=True, adjoint=False):
    """Solve with a packed LU: A = P L U, so A X = B is X = U^-1 L^-1 P^T B."""
    op = "linalg.lu_solve"
    _check_square(LU, op, "LU")
    if B.ndim < 2:
        raise ShapeError(f"{op}: The input tensor B must have at least 2 dimensions, got shape "
                         f"{tuple(B.shape)}")
    n = LU.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise ShapeError(f"{op}: Incompatible shapes of A and B for the equation "
                         f"{'AX = B' if left else 'XA = B'} ({tuple(LU.shape)} and "
                         f"{tuple(B.shape)})")
    xp = get_array_module(LU._data)
    P = Tensor(_perm_matrix(xp, _perm_from_pivots(xp, pivots._data, n), LU._data.dtype))
    if not left:  # X A = B <=> A^H X^H = B^H (and X A^H = B <=> A X^H = B^H)
        return _mH(_lu_solve(LU, pivots, _mH(B), True, not adjoint))
    if adjoint:  # A^H X = B: U^H L^H P^T X = B
        Y = solve_triangular(_mH(LU), B, upper=False)
        Z = solve_triangular(_mH(LU), Y, upper=True, unitriangular=True)
        return matmul(P, Z)
    Y = solve_triangular(LU, matmul(_mT(P), B), upper=False, unitriangular=True)
    return solve_triangular(LU, Y, upper=True)


def lu_solve(b, LU_data, LU_pivots):
    """torch.lu_solve (deprecated in torch): linalg.lu_solve(LU, pivots, b)."""
    return _lu_solve(LU_data, LU_pivots, b)


register_methods(det=det, logdet=logdet, slogdet=slogdet, inverse=inverse, cholesky=cholesky,
                 cholesky_solve=lambda self, input2, upper=False:
                 cholesky_solve(self, input2, upper),
                 cholesky_inverse=cholesky_inverse, qr=qr, svd=svd, pinverse=pinverse,
                 matrix_power=matrix_power, matrix_exp=matrix_exp,
                 triangular_solve=triangular_solve,
                 lu=lambda self, pivot=True, get_infos=False: lu(self, pivot, get_infos),
                 lu_solve=lu_solve)
