"""bfloat16 in the GEMM-like ops (matmul, linear, conv, attention): computed in float32.

NumPy has no bfloat16 BLAS: ``np.matmul`` on two ``ml_dtypes.bfloat16`` arrays converts
them to float32 and returns float32, and einsum refuses them. So these ops widen bfloat16
operands to float32 once, compute in float32 and round the result to bfloat16 once. That is
also what GPUs do (bfloat16 products, float32 accumulation, one rounding at the end), and it
matches torch's CPU results to within bfloat16 rounding. The memory saving of bfloat16
remains where tensors are stored (activations kept for backward, weights cast by autocast);
the arithmetic is float32 speed.

Float32/float64 arrays pass through untouched; the check is one dtype comparison per operand.
"""
import numpy as np

from .._dtype import BF16

__all__ = ["widen", "narrow"]

_F32 = np.dtype(np.float32)


def widen(*arrays):
    """``(arrays, low)``: bfloat16 arrays (None allowed) as float32, and the dtype to round
    the result to (bfloat16), or the arrays unchanged and None when none is bfloat16."""
    if BF16 is None:
        return arrays, None
    for a in arrays:
        if a is not None and a.dtype == BF16:
            break
    else:
        return arrays, None
    return tuple(a.astype(_F32) if a is not None and a.dtype == BF16 else a
                 for a in arrays), BF16


def narrow(y, low):
    """``y`` rounded to ``low`` (bfloat16), or ``y`` itself when ``low`` is None."""
    return y if low is None else y.astype(low)
