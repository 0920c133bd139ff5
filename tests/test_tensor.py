"""Tensor creation, attributes, conversion, dtypes, devices and seeding."""
import numpy as np
import pytest
import torch

import narae as nr


def _same(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("data", [[1.0, 2.0], [1, 2, 3], [True, False], 3.5, 7, [[1, 2], [3, 4]],
                                  np.arange(4.0), np.arange(3, dtype=np.int32)])
def test_tensor_default_dtypes_match_torch(data):
    _same(nr.tensor(data), torch.tensor(data))


def test_creation_functions_match_torch():
    _same(nr.zeros(2, 3), torch.zeros(2, 3))
    _same(nr.ones((2, 3), dtype=nr.float64), torch.ones((2, 3), dtype=torch.float64))
    _same(nr.full((2, 2), 7), torch.full((2, 2), 7))
    _same(nr.full((2,), 1.5), torch.full((2,), 1.5))
    _same(nr.arange(5), torch.arange(5))
    _same(nr.arange(0, 1, 0.1), torch.arange(0, 1, 0.1))
    _same(nr.arange(1.0, 4.0), torch.arange(1.0, 4.0))
    _same(nr.linspace(-1, 1, 7), torch.linspace(-1, 1, 7))
    _same(nr.eye(3, 4), torch.eye(3, 4))
    x = nr.ones(2, 3, dtype=nr.float64)
    _same(nr.zeros_like(x), torch.zeros(2, 3, dtype=torch.float64))
    _same(nr.full_like(x, 3.0), torch.full((2, 3), 3.0, dtype=torch.float64))
    assert nr.empty(4, 5).shape == (4, 5)
    assert nr.randn_like(x).dtype == nr.float64


def test_random_creation_shapes_ranges_and_dtypes():
    assert nr.rand(3, 4).dtype == nr.float32
    r = nr.rand(1000)
    assert 0 <= r.min().item() if hasattr(r, "min") else True
    assert (r.numpy() >= 0).all() and (r.numpy() < 1).all()
    n = nr.randn(20000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    i = nr.randint(3, 7, (100,))
    assert i.dtype == nr.int64 and i.numpy().min() >= 3 and i.numpy().max() < 7
    p = nr.randperm(10).numpy()
    assert sorted(p.tolist()) == list(range(10))


def test_manual_seed_makes_draws_reproducible():
    nr.manual_seed(42)
    a = nr.randn(5).numpy().copy()
    b = nr.rand(3).numpy().copy()
    nr.manual_seed(42)
    np.testing.assert_array_equal(a, nr.randn(5).numpy())
    np.testing.assert_array_equal(b, nr.rand(3).numpy())
    nr.manual_seed(43)
    assert not np.array_equal(a, nr.randn(5).numpy())
    g = nr.Generator().manual_seed(7)
    g2 = nr.Generator().manual_seed(7)
    np.testing.assert_array_equal(nr.randn(3, generator=g).numpy(), nr.randn(3, generator=g2).numpy())


def test_attributes():
    x = nr.ones(2, 3, 4, requires_grad=True)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.dtype == nr.float32 and x.device == nr.device("cpu") and str(x.device) == "cpu"
    assert x.is_leaf and x.requires_grad and x.grad is None
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert x.T.shape == (4, 3, 2)
    assert nr.ones(2, 5).t().shape == (5, 2)


def test_conversions():
    x = nr.tensor([[1.5, 2.5]])
    assert x.tolist() == [[1.5, 2.5]]
    assert nr.tensor(3.25).item() == 3.25
    assert x.long().dtype == nr.int64 and x.long().tolist() == [[1, 2]]
    assert x.to(nr.float64).dtype == nr.float64
    assert x.double().float().dtype == nr.float32
    assert x.to("cpu") is x
    assert x.type_as(nr.zeros(1, dtype=nr.float64)).dtype == nr.float64
    a = np.arange(3.0)
    t = nr.from_numpy(a)
    a[0] = 9
    assert t[0].item() == 9 if hasattr(nr.Tensor, "__getitem__") else t.numpy()[0] == 9
    with pytest.raises(RuntimeError, match="detach"):
        nr.ones(1, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="cannot be converted"):
        nr.ones(2).item()
    assert float(nr.tensor([2.0])) == 2.0


def test_cast_is_differentiable():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype == nr.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_dtype_objects_and_aliases():
    assert nr.float is nr.float32 and nr.double is nr.float64 and nr.long is nr.int64
    assert repr(nr.float32) == "narae.float32"
    assert nr.float32.is_floating_point and not nr.int64.is_floating_point
    assert nr.tensor([1], dtype=nr.bool).dtype == nr.bool


def test_cuda_unavailable_gives_clear_error():
    assert isinstance(nr.cuda.is_available(), bool)
    if nr.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="cuda"):
        nr.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="cuda"):
        nr.zeros(2, device="cuda")
    with pytest.raises(ValueError, match="unknown device"):
        nr.device("tpu")


def test_repr_mentions_grad():
    assert "requires_grad=True" in repr(nr.ones(2, requires_grad=True))
    assert "grad_fn" in repr(nr.ones(2, requires_grad=True) * 2)
    assert repr(nr.tensor([1.0, 2.0])) == "tensor([1., 2.])"


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(4, 5\)"):
        nr.ones(2, 3) @ nr.ones(4, 5)


def test_reshape_error():
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        nr.ones(2, 3).reshape(4, 2)


def test_inplace_in_a_graph_keeps_dtype_and_shape():
    """An in-place op recorded in a graph keeps the tensor's dtype (the result is cast back)
    and refuses to change its shape, as outside a graph."""
    x = nr.ones(3, requires_grad=True) * 1
    x.mul_(nr.tensor([1.0, 2.0, 3.0], dtype=nr.float64))
    assert x.dtype == nr.float32
    x.sum().backward()
    y = nr.ones(3, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="would change the shape"):
        y.add_(nr.ones(2, 3))


def test_python_floats_keep_full_precision_when_a_dtype_is_given():
    """tensor(0.1, dtype=float64) is 0.1 as in torch, not a float32 value widened."""
    for data in (0.1, [0.1, 1e-300, 2.0], [[1 / 3]]):
        ours = nr.tensor(data, dtype=nr.float64).numpy()
        theirs = torch.tensor(data, dtype=torch.float64).numpy()
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(nr.as_tensor(data, dtype=nr.float64).numpy(), theirs)
    assert nr.tensor(0.1).dtype == nr.float32
