"""Sparse gradients for embedding lookups (``F.embedding(..., sparse=True)``, EmbeddingBag).

torch's sparse embedding gradient is uncoalesced: one entry per looked-up index (padding
entries left out), holding that position's output gradient. Optimizers that take sparse
gradients (SGD, Adagrad, SparseAdam) then touch only those rows.
"""
from ..backend import get_array_module
from ..ops.embedding import Gather, _BagSum
from ._coo import FromValues

__all__ = ["SparseGather", "SparseBagSum", "embedding_sparse_grad"]


def embedding_sparse_grad(idx, num, gy, grad_scale=None):
    """The sparse (num, D) gradient of a lookup of rows ``idx``: row ``idx[i]`` gets
    ``gy[i] * grad_scale[i]``; entries whose scale is 0 (padding) are dropped."""
    d = gy.shape[-1]
    flat = idx.reshape(-1)
    rows = gy.reshape(-1, d)
    if grad_scale is not None:
        scale = grad_scale.reshape(-1)
        keep = get_array_module(scale).nonzero(scale != 0)[0]
        flat = flat[keep]
        from ._coo import Take
        rows = Take(keep)(rows) * _const(scale[keep].reshape(-1, 1))
    xp = get_array_module(flat)
    ix = flat.reshape(1, -1).astype(xp.int64)
    return FromValues(ix, (num, d), ix.shape[1] <= 1)(rows)


def _const(a):
    from ..tensor import Tensor
    return Tensor(a)


class SparseGather(Gather):
    """``Gather`` (rows of the weight) whose weight gradient is a sparse COO tensor."""

    def backward(self, gy):
        if self.grad_scale is not None and get_array_module(self.grad_scale).any(
                (self.grad_scale != 0) & (self.grad_scale != 1)):
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with "
                               "sparse gradients")
        return embedding_sparse_grad(self.idx, self.num, gy, self.grad_scale)


class SparseBagSum(_BagSum):
    """``_BagSum`` (bags of one length) whose weight gradient is sparse: every looked-up
    index gets its bag's output gradient (times its keep weight)."""

    def backward(self, gy):
        bags, length = self.idx.shape
        rows = gy.reshape(bags, 1, -1).expand(bags, length, gy.shape[-1])
        return embedding_sparse_grad(self.idx, self.num, rows, self.keep)
