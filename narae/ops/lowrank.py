"""Randomised low-rank factorisations and eigensolvers: svd_lowrank, pca_lowrank, lobpcg.

``svd_lowrank`` is the randomised range finder of Halko, Martinsson and Tropp (2011): a
Gaussian sketch ``A @ G`` with ``q`` columns, ``niter`` power (subspace) iterations with
re-orthonormalisation, then an exact SVD of the small ``Q^H A``. It is written with narae's
differentiable ops, so gradients flow through it (given the random sketch). The sketch comes
from narae's generator: ``narae.manual_seed`` makes the result reproducible.

``lobpcg`` is Knyazev's locally optimal block preconditioned conjugate gradient method for a
few extreme eigenpairs of a symmetric (generalised) problem ``A x = lambda B x``: each step
is a Rayleigh-Ritz projection on the span of the iterates X, the (preconditioned) residuals
W and the previous directions P.
"""
from ..autograd import grad_mode
from ..backend import get_array_module
from ..tensor import Tensor
from .householder import geqrf, orgqr, ormqr
from .shape import transpose

__all__ = ["svd_lowrank", "pca_lowrank", "lobpcg", "geqrf", "orgqr", "ormqr"]


def _mH(x):
    t = transpose(x, -2, -1)
    return t.conj() if x._data.dtype.kind == "c" else t


def _sketch(shape, like):
    from ..creation import randn
    return randn(*shape, dtype=like.dtype.to_real(), device=like.device).to(like.dtype)


def _approximate_basis(A, q, niter, M):
    """An orthonormal basis Q (m x q) whose span nearly holds the range of A - M."""
    from ..linalg import qr
    G = _sketch(A.shape[:-2] + (A.shape[-1], q), A)
    X = A @ G
    if M is not None:
        X = X - M @ G
    Q = qr(X).Q
    for _ in range(niter):
        X = _mH(A) @ Q
        if M is not None:
            X = X - _mH(M) @ Q
        Q = qr(X).Q
        X = A @ Q
        if M is not None:
            X = X - M @ Q
        Q = qr(X).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """Approximate rank-``q`` SVD ``(U, S, V)`` of ``A - M`` with ``A ~ U diag(S) V^H``
    (note: V, not V^H, as in torch), by a random sketch and ``niter`` power iterations."""
    from ..linalg import svd
    if A.ndim < 2:
        raise RuntimeError(f"svd_lowrank: expected a matrix (or batch), got shape "
                           f"{tuple(A.shape)}")
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    m, n = A.shape[-2:]
    if not (isinstance(q, int) and 0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not (isinstance(niter, int) and niter >= 0):
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if M is not None and tuple(M.shape) != tuple(A.shape)[-M.ndim:] and \
            tuple(A.shape) != tuple(M.shape)[-A.ndim:]:
        raise RuntimeError(f"svd_lowrank: M of shape {tuple(M.shape)} does not broadcast "
                           f"with A of shape {tuple(A.shape)}")
    if m < n:  # sketch the taller side: work on A^H and swap the factors back
        A, M = _mH(A), (None if M is None else _mH(M))
    Q = _approximate_basis(A, q, niter, M)
    Bm = _mH(Q) @ A
    if M is not None:
        Bm = Bm - _mH(Q) @ M
    U, S, Vh = svd(Bm, full_matrices=False)
    U, V = Q @ U, _mH(Vh)
    return (V, S, U) if m < n else (U, S, V)


def pca_lowrank(A, q=None, center=True, niter=2):
    """Principal components of the rows of ``A``: ``svd_lowrank`` of ``A`` minus its column
    means (``center``); returns ``(U, S, V)`` with the components in V's columns."""
    if A.ndim < 2:
        raise ValueError(f"pca_lowrank: input is expected to be at least 2-dimensional, got "
                         f"shape {tuple(A.shape)}")
    m, n = A.shape[-2:]
    q = min(6, m, n) if q is None else q
    if not (isinstance(q, int) and 0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not (isinstance(niter, int) and niter >= 0):
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if center:
        A = A - A.mean(-2, keepdim=True)
    return svd_lowrank(A, q, niter=niter)


# -- LOBPCG --------------------------------------------------------------------------------
class _Worker:
    """What ``tracker`` sees each iteration: torch's worker fields (``ivars['istep']``,
    ``ivars['converged_count']``, ``fvars['tol']``, ``bvars['largest']``, X, E, R...)."""

    def __init__(self, iparams, fparams, bparams, method):
        self.iparams, self.fparams, self.bparams, self.method = iparams, fparams, bparams, method
        self.ivars, self.fvars, self.bvars, self.tvars = {}, {}, {}, {}
        self.X = self.E = self.R = self.P = self.W = None


def _b_orthonormal(xp, S, BS, drop_tol):
    """A basis of span(S), B-orthonormal: whiten with the Gram matrix S^H B S, dropping the
    directions whose Gram eigenvalue is negligible (linear dependence)."""
    G = S.conj().T @ BS
    G = (G + G.conj().T) / 2
    d, V = xp.linalg.eigh(G)
    keep = d > drop_tol * max(float(d.max()), 0.0) if d.size else d > 0
    T = V[:, keep] / xp.sqrt(d[keep])
    return S @ T, BS @ T


def _lobpcg_one(xp, A, B, X, iK, k, n, niter, tol, largest, tracker, worker):
    m = A.shape[0]
    eps = xp.finfo(A.dtype).eps
    mB = (lambda v: v) if B is None else (lambda v: B @ v)
    precond = (lambda v: v) if iK is None else (lambda v: iK @ v)
    a_norm = float(xp.linalg.norm(A))
    b_norm = 1.0 if B is None else float(xp.linalg.norm(B))
    X, BX = _b_orthonormal(xp, X, mB(X), eps * m)
    P = W = None
    E = None
    steps = niter if niter >= 0 else 10 ** 9
    order = (lambda v: v[::-1]) if largest else (lambda v: v)
    converged = 0
    for step in range(steps + 1):
        parts = [X] if step == 0 else [X, W] + ([P] if P is not None else [])
        S = xp.concatenate(parts, axis=1)
        S, BS = _b_orthonormal(xp, S, mB(S), eps * m * 10)
        AS = A @ S
        H = S.conj().T @ AS
        theta, Z = xp.linalg.eigh((H + H.conj().T) / 2)
        idx = order(xp.arange(theta.shape[0]))[:n]
        E, Zx = theta[idx], Z[:, idx]
        X_new, BX = S @ Zx, BS @ Zx
        AX = AS @ Zx
        if step > 0:
            # the new search directions: X's update without its (B-)component in the old X
            P = X_new - X @ (X.conj().T @ BX)
        X = X_new
        R = AX - BX * E
        rerr = xp.linalg.norm(R, axis=0) / (xp.linalg.norm(X, axis=0)
                                            * (a_norm + xp.abs(E) * b_norm))
        converged = int((rerr[:k] < tol).sum())
        worker.X, worker.E, worker.R, worker.P = X, E, R, P
        worker.ivars.update(istep=step, converged_count=converged, converged_end=converged)
        worker.tvars["rerr"] = rerr
        if tracker is not None:
            tracker(worker)
        if converged >= k or step == steps:
            break
        W = precond(R)
    return E[:k], X[:, :k]


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None,
           method=None, tracker=None, ortho_iparams=None, ortho_fparams=None,
           ortho_bparams=None):
    """The ``k`` largest (or smallest) eigenpairs ``(E, X)`` of the symmetric problem
    ``A X = B X diag(E)`` by LOBPCG. ``X`` (m x n) starts the search (random otherwise),
    ``iK`` preconditions the residuals, ``niter`` caps the iterations (-1: until converged),
    ``tol`` is the relative residual at which a pair counts as converged.

    Gradients: E is differentiable in A and B (the Rayleigh quotient of the converged
    vectors), X in A when B is None (the exact symmetric eigenvector derivative)."""
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"lobpcg: A must be square, got shape {tuple(A.shape)}")
    if B is not None and tuple(B.shape) != tuple(A.shape):
        raise ValueError(f"lobpcg: A and B must have the same shape, got {tuple(A.shape)} vs "
                         f"{tuple(B.shape)}")
    if A._data.dtype.kind not in "f":
        raise ValueError(f"lobpcg: expected a real floating point A, got {A.dtype}")
    method = "ortho" if method is None else method
    if method not in ("basic", "ortho"):
        raise ValueError(f"lobpcg: method must be 'basic' or 'ortho', got {method!r}")
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m})"
                         f" is smaller than 3 x the number of requested eigenpairs (={n})")
    if k > n:
        raise ValueError(f"lobpcg: k (={k}) must not exceed n (={n})")
    dt = A._data.dtype
    if tol is None:
        tol = (1.2e-07 if dt.itemsize <= 4 else 2.23e-16) ** 0.5
    niter = 1000 if niter is None else niter
    largest = True if largest is None else bool(largest)
    iparams = {"m": m, "n": n, "k": k, "niter": niter}
    fparams, bparams = {"tol": tol}, {"largest": largest}
    if method == "ortho":
        iparams.update(ortho_iparams or {})
        fparams.update(ortho_fparams or {})
        bparams.update(ortho_bparams or {})
    xp = get_array_module(A._data)
    batch = A.shape[:-2]
    a = A._data.reshape((-1, m, m))
    b = None if B is None else B._data.reshape((-1, m, m)).astype(dt, copy=False)
    if X is not None:
        if tuple(X.shape[-2:]) != (m, n):
            raise ValueError(f"lobpcg: X of shape {tuple(X.shape)} must be ({m}, {n})")
        x0 = xp.broadcast_to(X._data.astype(dt, copy=False), batch + (m, n)).reshape((-1, m, n))
    else:
        x0 = _sketch(batch + (m, n), A)._data.reshape((-1, m, n))
    ik = None if iK is None else (iK._data if isinstance(iK, Tensor) else iK)
    Es, Xs = [], []
    for i in range(a.shape[0]):  # (one matrix at a time, as torch)
        worker = _Worker(dict(iparams, batch_index=i), fparams, bparams, method)
        e, x = _lobpcg_one(xp, a[i], None if b is None else b[i], x0[i], ik, k, n, niter, tol,
                           largest, tracker, worker)
        Es.append(e)
        Xs.append(x)
    E = Tensor(xp.stack(Es).reshape(batch + (k,)).astype(dt, copy=False))
    Xout = Tensor(xp.stack(Xs).reshape(batch + (m, k)).astype(dt, copy=False))
    needs = grad_mode.state.enabled and (A.requires_grad or (B is not None and B.requires_grad))
    return _with_gradients(A, B, E, Xout) if needs else (E, Xout)


def _with_gradients(A, B, E, X):
    """Values E, X with the derivatives of exact eigenpairs attached: dE = x^H (dA - E dB) x
    through the Rayleigh quotient; dX (B None) through ``linalg.eigh`` of A, whose matching
    columns (aligned in sign) carry the exact derivative of each eigenvector."""
    from ..linalg import eigh
    x = X.detach()
    num = (x * (A @ x)).sum(-2)
    den = (x * (B @ x)).sum(-2) if B is not None else None
    e_val = num / den if den is not None else num / (x * x).sum(-2)
    e_out = E + (e_val - e_val.detach())
    if B is not None or not A.requires_grad:
        return e_out, X
    sym = (A + transpose(A, -2, -1)) * 0.5
    lam, V = eigh(sym)
    xp = get_array_module(lam._data)
    # the column of V for each returned eigenvalue: the nearest eigenvalue of A
    pick = xp.abs(lam._data[..., :, None] - E._data[..., None, :]).argmin(-2)
    cols = xp.take_along_axis(V._data, xp.broadcast_to(pick[..., None, :], X.shape), -1)
    sign = xp.where((cols * X._data).sum(-2) < 0, -1.0, 1.0).astype(X._data.dtype)
    from .index import gather
    Vk = gather(V, -1, Tensor(xp.broadcast_to(pick[..., None, :], X.shape).astype(xp.int64)))
    Vk = Vk * Tensor(sign[..., None, :])
    return e_out, X + (Vk - Vk.detach())
