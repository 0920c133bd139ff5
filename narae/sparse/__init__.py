"""``narae.sparse``: sparse COO tensors (torch's ``torch.sparse_coo`` layout) and their ops.

    i = narae.tensor([[0, 1], [2, 0]])
    s = narae.sparse_coo_tensor(i, narae.tensor([3., 4.]), (2, 3))
    narae.sparse.mm(s, narae.randn(3, 5))        # dense (2, 5); its gradient w.r.t. s is sparse

A sparse tensor is a ``SparseTensor`` (a Tensor) whose ``_data`` is a ``SparseCOOArray``
(indices, values, shape). See ``_coo`` for the autograd primitives and ``_api`` for the ops.
"""
from ._coo import SparseCOOArray, SparseTensor
from ._api import (sparse_coo_tensor, mm, addmm, sum, softmax, log_softmax, spdiags,
                   sampled_addmm)
from ..tensor_info import sparse_coo, strided

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "spdiags", "sampled_addmm",
           "sparse_coo_tensor", "SparseTensor", "SparseCOOArray", "sparse_coo", "strided"]
