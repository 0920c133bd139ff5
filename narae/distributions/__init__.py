"""``narae.distributions``: probability distributions with torch.distributions' API.

    d = narae.distributions.Normal(mu, sigma)
    z = d.rsample()          # differentiable w.r.t. mu and sigma
    d.log_prob(z)
"""
from . import constraints
from .distribution import Distribution, ExponentialFamily
from .continuous import (Normal, Uniform, Exponential, Laplace, Cauchy, ContinuousBernoulli,
                         GeneralizedPareto, VonMises)
from .discrete import (Bernoulli, Categorical, OneHotCategorical, Poisson, Binomial, Multinomial,
                       Geometric)
from .gamma import Gamma, Chi2, Beta, Dirichlet, StudentT
from .multivariate_normal import (MultivariateNormal, LowRankMultivariateNormal, LKJCholesky,
                                  Wishart)
from . import transforms
from .transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform,
                         CorrCholeskyTransform, StackTransform,
                         CumulativeDistributionTransform, ExpTransform, IndependentTransform,
                         LowerCholeskyTransform, PositiveDefiniteTransform, PowerTransform,
                         ReshapeTransform, SigmoidTransform, SoftplusTransform, TanhTransform,
                         SoftmaxTransform, StickBreakingTransform, Transform, identity_transform)
from .constraint_registry import biject_to, transform_to
from .transformed import (Independent, TransformedDistribution, LogNormal, RelaxedBernoulli,
                          RelaxedOneHotCategorical)
from .derived import (LogisticNormal, HalfNormal, HalfCauchy, Gumbel, Pareto, Weibull, InverseGamma, Kumaraswamy,
                      FisherSnedecor, NegativeBinomial, MixtureSameFamily,
                      OneHotCategoricalStraightThrough)
from .kl import register_kl, kl_divergence

__all__ = ["constraints", "Distribution", "ExponentialFamily", "Normal", "Uniform",
           "Exponential", "Laplace", "Cauchy", "Bernoulli", "Categorical", "OneHotCategorical",
           "Poisson", "Binomial", "Multinomial", "Geometric", "Gamma", "Chi2", "Beta", "Dirichlet",
           "StudentT", "MultivariateNormal", "Independent", "TransformedDistribution", "LogNormal",
           "RelaxedBernoulli", "RelaxedOneHotCategorical", "HalfNormal", "HalfCauchy", "Gumbel",
           "Pareto", "Weibull", "InverseGamma", "Kumaraswamy", "FisherSnedecor",
           "NegativeBinomial", "MixtureSameFamily", "OneHotCategoricalStraightThrough",
           "ContinuousBernoulli", "GeneralizedPareto", "VonMises", "LowRankMultivariateNormal",
           "LogisticNormal", "LKJCholesky", "CatTransform", "CorrCholeskyTransform",
           "StackTransform", "Wishart", "transforms", "AbsTransform", "AffineTransform",
           "ComposeTransform", "CumulativeDistributionTransform", "ExpTransform",
           "IndependentTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform",
           "PowerTransform", "ReshapeTransform", "SigmoidTransform", "SoftplusTransform",
           "TanhTransform", "SoftmaxTransform", "StickBreakingTransform", "Transform",
           "identity_transform", "biject_to", "transform_to", "register_kl", "kl_divergence"]
