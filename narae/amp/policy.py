"""Which ops autocast runs in float16/bfloat16 and which in float32: torch's CUDA autocast
lists, mapped onto narae's Function classes (for both dtypes and both devices; torch's CPU
lists keep more ops, e.g. softmax and layer_norm, in the lower dtype).

Policies are class attributes (``MatMul._autocast = "lower"``), so the op modules need no
autocast code; ``Function.__call__`` reads them only inside an autocast region.

Ops that are compositions of other ops (mse_loss, l1_loss, nll_loss, kl_div, ...) get their
dtype from their parts. That is why ``Mean`` is on the float32 list although torch keeps
``mean`` in the input dtype: every reduced loss ends in sum or mean, so reduced losses come
out float32 as torch's fused losses do.
"""
import importlib

__all__ = ["LOWER", "FP32", "apply", "MISSING"]

# GEMM-like ops: fast and accurate enough in float16 (torch: matmul, mm, bmm, linear, addmm,
# conv*, conv_transpose*, scaled_dot_product_attention). The RNN cells are compositions of
# linear, so they follow it.
LOWER = {
    "linalg": ["MatMul", "Linear"],
    "conv": ["_Conv", "_ConvTranspose", "_ConvWeight"],
    "attention": ["Attention"],
    "matrix": ["ScaledAdd"],
    "einsum": ["Einsum"],
}

# Ops that overflow or lose too much in float16: run in float32 (torch: exp, log, pow,
# softmax, log_softmax, softplus, sum, prod, cumsum, cumprod, logsumexp, norms, layer_norm,
# group_norm, the losses, cdist/pdist/cosine_similarity).
FP32 = {
    "arith": ["Exp", "Expm1", "Log", "Log1p", "Rsqrt", "Tan", "Pow", "PowScalar", "RPowScalar"],
    "activation": ["Softmax", "LogSoftmax", "Softplus"],
    "reduce": ["Sum", "Mean", "Prod", "CumSum", "CumProd", "LogSumExp", "PNorm"],
    "distance": ["VectorNorm"],
    "norm": ["Normalize"],
    "loss": ["SoftmaxCrossEntropy", "BinaryCrossEntropy", "SoftplusNeg"],
    # torch runs its fused RNNs in float16. Here recurrent_sequence checks that every tensor
    # has the input's dtype before autocast can cast them, so a float16 layer output would
    # fail in the next layer: the fused sequence stays in float32 (it is accurate in float16,
    # ~3e-3 relative gradient error, once that check allows autocast).
    "recurrent": ["RecurrentSequence"],
}

MISSING = []  # "module.Class" names that no longer exist (a test keeps this empty)


def apply():
    """Set ``_autocast`` on every listed Function class."""
    MISSING.clear()
    for policy, table in (("lower", LOWER), ("fp32", FP32)):
        for module_name, names in table.items():
            module = importlib.import_module(f"narae.ops.{module_name}")
            for name in names:
                cls = getattr(module, name, None)
                if cls is None:
                    MISSING.append(f"{module_name}.{name}")
                else:
                    cls._autocast = policy


apply()
