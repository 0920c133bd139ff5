"""Tensor layout and kind queries answer as torch's do for the same array."""
import numpy as np
import pytest
import torch

import narae as nr

A = np.arange(24.0).reshape(2, 3, 4)

VIEWS = [lambda t: t, lambda t: t.transpose(0, 2), lambda t: t[:, 1:], lambda t: t[1, :, ::2],
         lambda t: t.permute(2, 0, 1)]


@pytest.mark.parametrize("view", range(len(VIEWS)))
def test_layout_queries_match_torch(view):
    ours, theirs = VIEWS[view](nr.from_numpy(A)), VIEWS[view](torch.from_numpy(A))
    assert ours.stride() == theirs.stride()
    assert ours.stride(-1) == theirs.stride(-1)
    assert ours.storage_offset() == theirs.storage_offset()
    assert ours.is_contiguous() == theirs.is_contiguous()
    assert ours.dim_order() == theirs.dim_order()
    assert ours.data_ptr() - nr.from_numpy(A).data_ptr() == \
        theirs.data_ptr() - torch.from_numpy(A).data_ptr()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "int8", "uint8",
                                   "bool", "float16"])
def test_kind_queries_match_torch(dtype):
    ours = nr.zeros(3, 2, dtype=getattr(nr, dtype))
    theirs = torch.zeros(3, 2, dtype=getattr(torch, dtype))
    for q in ("is_signed", "is_complex", "is_floating_point", "is_conj", "is_neg",
              "is_inference", "get_device", "element_size"):
        assert getattr(ours, q)() == getattr(theirs, q)(), q
    for q in ("is_cpu", "is_cuda", "nbytes", "itemsize", "is_sparse", "is_quantized",
              "is_meta", "is_nested"):
        assert getattr(ours, q) == getattr(theirs, q), q
    assert ours.type().replace("narae", "torch") == theirs.type()
    assert nr.is_floating_point(ours) == torch.is_floating_point(theirs)


def test_type_conversion_and_predicates():
    t = nr.tensor([1.5, -2.0])
    assert t.type(nr.int64).dtype == nr.int64
    assert t.type("torch.IntTensor").tolist() == [1, -2]
    with pytest.raises(ValueError, match="invalid type"):
        t.type("torch.NoSuchTensor")
    assert nr.is_tensor(t) and not nr.is_tensor(np.zeros(2)) and not nr.is_storage(t)
    assert nr.numel(nr.zeros(3, 4)) == 12
    assert nr.is_nonzero(nr.tensor([2.0])) and not nr.is_nonzero(nr.tensor(0))
    with pytest.raises(RuntimeError, match="more than one value"):
        nr.is_nonzero(t)
    assert t.is_same_size(nr.zeros(2)) and not t.is_same_size(nr.zeros(3))
    assert t.real is t and t.conj() is t and t.layout is nr.strided
    with pytest.raises(RuntimeError, match="non-complex"):
        t.imag


def test_apply_and_map_in_place():
    t = nr.tensor([1.0, 2.0, 3.0])
    v = t._version_number
    assert t.apply_(lambda x: x * 10 + 1) is t
    assert t.tolist() == [11.0, 21.0, 31.0] and t._version_number > v
    t.map_(nr.tensor([1.0]), lambda x, y: x - y)
    assert t.tolist() == [10.0, 20.0, 30.0]
