"""MultivariateNormal (by a covariance, a precision or a lower Cholesky factor),
LowRankMultivariateNormal (covariance W W^T + diag(D)) and LKJCholesky (over correlation
Cholesky factors)."""
import math

from .. import linalg, eye, broadcast_shapes, no_grad, where
from . import constraints
from .distribution import Distribution
from .utils import lazy_property, standard_normal, broadcast_all, _finfo

__all__ = ["MultivariateNormal", "LowRankMultivariateNormal", "LKJCholesky", "Wishart"]


def _batch_mv(bmat, bvec):
    """Matrix-vector product over broadcast batch dims."""
    return (bmat @ bvec.unsqueeze(-1)).squeeze(-1)


def _batch_mahalanobis(bL, bx):
    """x^T (L L^T)^-1 x for each batch entry, via one triangular solve L y = x: |y|^2."""
    n = bx.shape[-1]
    shape = broadcast_shapes(tuple(bL.shape[:-2]), tuple(bx.shape[:-1]))
    L = bL.expand(shape + (n, n))
    x = bx.expand(shape + (n,)).unsqueeze(-1)
    y = linalg.solve_triangular(L, x, upper=False).squeeze(-1)
    return (y * y).sum(-1)


def _precision_to_scale_tril(P):
    """The lower Cholesky factor of P^-1."""
    return linalg.cholesky(linalg.inv(P))


class MultivariateNormal(Distribution):
    """N(loc, Sigma) over vectors of size n; exactly one of covariance_matrix, precision_matrix
    or scale_tril gives Sigma (scale_tril L: Sigma = L L^T).

    log p(x) = -(n log(2 pi) + log det Sigma + (x - loc)^T Sigma^-1 (x - loc)) / 2, computed
    with the Cholesky factor: log det Sigma = 2 sum log L_ii and a triangular solve.
    """
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        matrix = covariance_matrix if covariance_matrix is not None else \
            precision_matrix if precision_matrix is not None else scale_tril
        name = ("covariance_matrix" if covariance_matrix is not None else
                "precision_matrix" if precision_matrix is not None else "scale_tril")
        if matrix.ndim < 2:
            raise ValueError(f"{name} must be at least two-dimensional, with optional leading "
                             f"batch dimensions (got shape {tuple(matrix.shape)})")
        n = loc.shape[-1]
        if matrix.shape[-1] != n or matrix.shape[-2] != n:
            raise ValueError(f"MultivariateNormal: {name} of shape {tuple(matrix.shape)} does "
                             f"not match loc of shape {tuple(loc.shape)}")
        batch_shape = tuple(broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
        setattr(self, name, matrix.expand(batch_shape + (n, n)))
        self.loc = loc.expand(batch_shape + (n,))
        super().__init__(batch_shape, (n,), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = tuple(batch_shape)
        loc_shape = batch_shape + self.event_shape
        cov_shape = batch_shape + self.event_shape + self.event_shape
        new.loc = self.loc.expand(loc_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        shape = self._batch_shape + self._event_shape + self._event_shape
        return self._unbroadcasted_scale_tril.expand(shape)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        shape = self._batch_shape + self._event_shape + self._event_shape
        return (L @ L.mT).expand(shape)

    @lazy_property
    def precision_matrix(self):
        L = self._unbroadcasted_scale_tril
        n = L.shape[-1]
        ident = eye(n, dtype=L.dtype, device=L.device).expand(tuple(L.shape))
        Linv = linalg.solve_triangular(L, ident, upper=False)
        shape = self._batch_shape + self._event_shape + self._event_shape
        return (Linv.mT @ Linv).expand(shape)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        L = self._unbroadcasted_scale_tril
        return (L * L).sum(-1).expand(self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        """loc + L eps with eps ~ N(0, I)."""
        shape = self._extended_shape(sample_shape)
        eps = standard_normal(shape, self.loc)
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        M = _batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        half_log_det = self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + M) - half_log_det

    def entropy(self):
        half_log_det = self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)
        H = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + half_log_det
        if len(self._batch_shape) == 0:
            return H
        return H.expand(self._batch_shape)


class LowRankMultivariateNormal(Distribution):
    """N(loc, W W^T + diag(D)) with W = ``cov_factor`` (n x k, k small) and D = ``cov_diag``.

    Never forms the n x n covariance for log_prob: with the k x k capacitance matrix
    C = I + W^T D^-1 W, det Sigma = det C prod D and (Woodbury)
    x^T Sigma^-1 x = x^T D^-1 x - |L_C^-1 W^T D^-1 x|^2 with C = L_C L_C^T.
    """
    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        n = loc.shape[-1]
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional "
                             f"leading batch dimensions (got shape {tuple(cov_factor.shape)})")
        if cov_factor.shape[-2] != n:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {n} x m "
                             f"(got shape {tuple(cov_factor.shape)} for loc of shape "
                             f"{tuple(loc.shape)})")
        if cov_diag.ndim < 1 or cov_diag.shape[-1] != n:
            raise ValueError(f"cov_diag must be a batch of vectors with shape ({n},) (got "
                             f"shape {tuple(cov_diag.shape)})")
        batch_shape = tuple(broadcast_shapes(tuple(loc.shape[:-1]),
                                             tuple(cov_factor.shape[:-2]),
                                             tuple(cov_diag.shape[:-1])))
        k = cov_factor.shape[-1]
        self.loc = loc.expand(batch_shape + (n,))
        self.cov_factor = cov_factor.expand(batch_shape + (n, k))
        self.cov_diag = cov_diag.expand(batch_shape + (n,))
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)
        super().__init__(batch_shape, (n,), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LowRankMultivariateNormal, _instance)
        batch_shape = tuple(batch_shape)
        n = self.event_shape[0]
        new.loc = self.loc.expand(batch_shape + (n,))
        new.cov_diag = self.cov_diag.expand(batch_shape + (n,))
        new.cov_factor = self.cov_factor.expand(batch_shape + tuple(self.cov_factor.shape[-2:]))
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        W = self._unbroadcasted_cov_factor
        return ((W * W).sum(-1) + self._unbroadcasted_cov_diag).expand(
            self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        W = self._unbroadcasted_cov_factor
        cov = W @ W.mT + _diag_embed(self._unbroadcasted_cov_diag)
        return cov.expand(self._batch_shape + self._event_shape + self._event_shape)

    @lazy_property
    def scale_tril(self):
        return linalg.cholesky(self.covariance_matrix)

    @lazy_property
    def precision_matrix(self):
        """Woodbury: D^-1 - D^-1 W C^-1 W^T D^-1."""
        W = self._unbroadcasted_cov_factor
        Dinv = self._unbroadcasted_cov_diag.reciprocal()
        A = linalg.solve_triangular(self._capacitance_tril, (W * Dinv.unsqueeze(-1)).mT,
                                    upper=False)
        prec = _diag_embed(Dinv) - A.mT @ A
        return prec.expand(self._batch_shape + self._event_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        """loc + W eps_k + sqrt(D) eps_n with independent standard normal eps_k, eps_n."""
        shape = self._extended_shape(sample_shape)
        k = self.cov_factor.shape[-1]
        eps_w = standard_normal(tuple(shape[:-1]) + (k,), self.loc)
        eps_d = standard_normal(shape, self.loc)
        return (self.loc + _batch_mv(self._unbroadcasted_cov_factor, eps_w)
                + self._unbroadcasted_cov_diag.sqrt() * eps_d)

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def _log_det(self):
        L = self._capacitance_tril
        return 2 * L.diagonal(0, -2, -1).log().sum(-1) + \
            self._unbroadcasted_cov_diag.log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        W = self._unbroadcasted_cov_factor
        Dinv = self._unbroadcasted_cov_diag.reciprocal()
        Wt_Dinv_x = _batch_mv(W.mT, diff * Dinv)
        m = (diff * diff * Dinv).sum(-1) - _batch_mahalanobis(self._capacitance_tril, Wt_Dinv_x)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + self._log_det() + m)

    def entropy(self):
        H = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._log_det())
        if len(self._batch_shape) == 0:
            return H
        return H.expand(self._batch_shape)


def _diag_embed(v):
    from .. import diag_embed
    return diag_embed(v)


def _capacitance_tril(W, D):
    """Cholesky factor of I + W^T D^-1 W."""
    k = W.shape[-1]
    Wt_Dinv = W.mT / D.unsqueeze(-2)
    C = Wt_Dinv @ W + eye(k, dtype=W.dtype, device=W.device)
    return linalg.cholesky(C)


class LKJCholesky(Distribution):
    """The LKJ distribution over Cholesky factors L of dim x dim correlation matrices:
    p(L) is proportional to det(L L^T)^(concentration - 1) times the Jacobian of L -> L L^T,
    i.e. prod_{i>=2} L_ii^(dim - i + 2 (concentration - 1)). Sampling by the onion method."""
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError("Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = tuple(self.concentration.shape)
        self._init_onion()
        super().__init__(batch_shape, (dim, dim), validate_args=validate_args)

    def _init_onion(self):
        """Row k = 1 .. dim-1 puts a Beta(k/2, c + (dim-2)/2 - (k-1)/2) share of its unit norm
        off the diagonal (the onion method). (torch 2.13 uses k - 1/2 as the first
        concentration, which makes the correlations of the later rows too wide.)"""
        from .. import arange
        from .gamma import Beta
        c = self.concentration
        offset = arange(self.dim - 1, dtype=c.dtype, device=c.device)
        marginal = c + 0.5 * (self.dim - 2)
        conc1 = 0.5 * offset + 0.5
        conc0 = marginal.unsqueeze(-1) - 0.5 * offset
        conc1 = conc1.expand(tuple(conc0.shape))
        self._beta = Beta(conc1, conc0)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = tuple(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._init_onion()
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        from .. import cat, zeros, diag_embed
        with no_grad():
            c = self.concentration
            y = self._beta.sample(sample_shape)  # (..., n - 1): squared off-diagonal norms
            shape = self._extended_shape(sample_shape)
            u = standard_normal(shape, c).tril(-1)
            norm = (u * u).sum(-1, keepdim=True).sqrt()
            norm = where(norm == 0, 1.0, norm)  # (row 0 has no off-diagonal part)
            zero = zeros(*(tuple(y.shape[:-1]) + (1,)), dtype=c.dtype, device=c.device)
            share = cat([zero, y], -1).sqrt().unsqueeze(-1)
            w = share * u / norm
            tiny = float(_finfo(c).tiny)
            diag = (1 - (w * w).sum(-1)).clamp(min=tiny).sqrt()
            return w + diag_embed(diag)

    def log_prob(self, value):
        """sum_{i>=2} (dim - i + 2(c - 1)) log L_ii minus the log normaliser
        (dim-1)/2 log pi + mvlgamma(a - 1/2, dim - 1) - (dim - 1) lgamma(a), a = c + (dim-1)/2."""
        from .. import arange, lgamma, mvlgamma
        if self._validate_args:
            self._validate_sample(value)
        n = self.dim
        c = self.concentration
        diag = value.diagonal(0, -2, -1)[..., 1:]
        order = arange(2, n + 1, dtype=c.dtype, device=c.device)
        power = 2 * (c - 1).unsqueeze(-1) + n - order
        unnormalized = (power * diag.log()).sum(-1)
        dm1 = n - 1
        a = c + 0.5 * dm1
        log_norm = 0.5 * dm1 * math.log(math.pi) + mvlgamma(a - 0.5, dm1) - lgamma(a) * dm1
        return unnormalized - log_norm


class Wishart(Distribution):
    """Distribution of X = sum_{k=1}^{df} x_k x_k^T with x_k ~ N(0, Sigma) (df may be real,
    df > p - 1): log p(X) = (df - p - 1)/2 log|X| - tr(Sigma^-1 X)/2 - df p/2 log 2
    - df/2 log|Sigma| - mvlgamma(df/2, p). Sampled by the Bartlett decomposition
    X = L A A^T L^T, A lower triangular with A_ii^2 ~ Chi2(df - i) and N(0, 1) below."""
    support = constraints.positive_definite
    has_rsample = True

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        matrix = covariance_matrix if covariance_matrix is not None else \
            precision_matrix if precision_matrix is not None else scale_tril
        if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
            raise ValueError("Wishart: the matrix must be a batch of square matrices (got "
                             f"shape {tuple(matrix.shape)})")
        p = matrix.shape[-1]
        if isinstance(df, (int, float)):
            from .. import full
            df = full(tuple(matrix.shape[:-2]), float(df), dtype=matrix.dtype,
                      device=matrix.device)
        batch_shape = tuple(broadcast_shapes(tuple(matrix.shape[:-2]), tuple(df.shape)))
        self.df = df.expand(batch_shape)
        event_shape = (p, p)
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(batch_shape + event_shape)
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch_shape + event_shape)
            self._unbroadcasted_scale_tril = linalg.cholesky(covariance_matrix)
        else:
            self.precision_matrix = precision_matrix.expand(batch_shape + event_shape)
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)
        self.arg_constraints = {
            "covariance_matrix": constraints.positive_definite,
            "precision_matrix": constraints.positive_definite,
            "scale_tril": constraints.lower_cholesky,
            "df": constraints.greater_than(p - 1)}
        if bool((self.df <= p - 1).any()):
            raise ValueError(f"Value of df={self.df} expected to be greater than ndim - 1 = "
                             f"{p - 1}.")
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._init_chi2()

    def _init_chi2(self):
        """Chi2(df - i) for the squared diagonal of the Bartlett factor, i = 0 .. p-1."""
        from .. import arange
        from .gamma import Chi2
        p = self._event_shape[-1]
        i = arange(p, dtype=self.df.dtype, device=self.df.device)
        self._dist_chi2 = Chi2(self.df.unsqueeze(-1) - i)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = tuple(batch_shape)
        shape = batch_shape + self.event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(shape)
        new.df = self.df.expand(batch_shape)
        new.arg_constraints = self.arg_constraints
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(shape))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._init_chi2()
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self._batch_shape + self._event_shape)

    @lazy_property
    def precision_matrix(self):
        L = self._unbroadcasted_scale_tril
        p = L.shape[-1]
        ident = eye(p, dtype=L.dtype, device=L.device).expand(tuple(L.shape))
        Linv = linalg.solve_triangular(L, ident, upper=False)
        return (Linv.mT @ Linv).expand(self._batch_shape + self._event_shape)

    def _df(self):
        return self.df.reshape(tuple(self.df.shape) + (1, 1))

    @property
    def mean(self):
        return self._df() * self.covariance_matrix

    @property
    def mode(self):
        p = self._event_shape[-1]
        factor = self.df - p - 1
        factor = where(factor <= 0, math.nan, factor)
        return factor.reshape(tuple(factor.shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        """Var X_ij = df (Sigma_ij^2 + Sigma_ii Sigma_jj)."""
        V = self.covariance_matrix
        d = V.diagonal(0, -2, -1)
        return self._df() * (V.pow(2) + d.unsqueeze(-1) * d.unsqueeze(-2))

    def rsample(self, sample_shape=()):
        """L A A^T L^T (Bartlett); differentiable in df through the Chi2 draws."""
        from .. import diag_embed
        shape = self._extended_shape(sample_shape)
        noise = standard_normal(shape, self.df).tril(-1)
        diag = self._dist_chi2.rsample(sample_shape).sqrt()
        A = noise + diag_embed(diag)
        LA = self._unbroadcasted_scale_tril @ A
        return LA @ LA.mT

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value):
        from .. import mvlgamma
        if self._validate_args:
            self._validate_sample(value)
        nu = self.df
        p = self._event_shape[-1]
        log_det_x = 2 * linalg.cholesky(value).diagonal(0, -2, -1).log().sum(-1)
        # tr(Sigma^-1 X) = |L^-1 M|_F^2 with X = M M^T
        M = linalg.cholesky(value)
        L = self._unbroadcasted_scale_tril
        shape = tuple(broadcast_shapes(tuple(L.shape[:-2]), tuple(M.shape[:-2])))
        sol = linalg.solve_triangular(L.expand(shape + (p, p)), M.expand(shape + (p, p)),
                                      upper=False)
        trace = (sol * sol).sum((-2, -1))
        return (0.5 * (nu - p - 1) * log_det_x - 0.5 * trace - 0.5 * nu * p * math.log(2)
                - nu * self._half_log_det() - mvlgamma(0.5 * nu, p))

    def entropy(self):
        """(p+1) log|L| + p(p+1)/2 log 2 + mvlgamma(df/2, p) - (df-p-1)/2 psi_p(df/2)
        + df p / 2, with the multivariate digamma psi_p(a) = sum_i psi(a - i/2)."""
        from .. import mvlgamma, digamma, arange
        nu = self.df
        p = self._event_shape[-1]
        i = arange(p, dtype=nu.dtype, device=nu.device)
        mvdigamma = digamma(0.5 * nu.unsqueeze(-1) - 0.5 * i).sum(-1)
        return ((p + 1) * self._half_log_det() + 0.5 * p * (p + 1) * math.log(2)
                + mvlgamma(0.5 * nu, p) - 0.5 * (nu - p - 1) * mvdigamma + 0.5 * nu * p)
