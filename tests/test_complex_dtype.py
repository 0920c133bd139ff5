"""Complex dtypes: names, promotion, creation, conversion, printing and checkpoints (torch's
behaviour is the reference)."""
import numpy as np
import pytest
import torch

import narae as nr


def test_dtype_objects():
    assert nr.cfloat is nr.complex64 and nr.cdouble is nr.complex128
    for d in (nr.complex64, nr.complex128):
        t = getattr(torch, d.name)
        assert d.is_complex == t.is_complex is True
        assert d.is_floating_point == t.is_floating_point is False
        assert d.is_signed == t.is_signed and d.itemsize == t.itemsize
        assert d.to_real().name == str(t.to_real()).split(".")[1]
        assert d.to_complex() is d
    assert nr.float32.to_complex() is nr.complex64 and nr.float64.to_complex() is nr.complex128
    assert nr.float32.to_real() is nr.float32 and not nr.float32.is_complex
    with pytest.raises(RuntimeError, match="Complex"):
        nr.int64.to_complex()
    assert repr(nr.complex64) == "narae.complex64"


def test_finfo_of_complex_is_real_part():
    for d in ("complex64", "complex128"):
        ours, theirs = nr.finfo(getattr(nr, d)), torch.finfo(getattr(torch, d))
        assert (ours.eps, ours.max, ours.tiny, ours.bits, ours.dtype) == \
            (theirs.eps, theirs.max, theirs.tiny, theirs.bits, theirs.dtype)


@pytest.mark.parametrize("a,b", [("float64", "complex64"), ("float32", "complex128"),
                                 ("int64", "complex64"), ("complex64", "complex128"),
                                 ("bool", "complex128"), ("float16", "complex64")])
def test_promote_types(a, b):
    for x, y in ((a, b), (b, a)):
        assert nr.promote_types(getattr(nr, x), getattr(nr, y)).name == \
            str(torch.promote_types(getattr(torch, x), getattr(torch, y))).split(".")[1]


def _pair(dtype, shape):
    arr = np.ones(shape, dtype=np.dtype(dtype))
    return nr.from_numpy(arr), torch.from_numpy(arr.copy())


@pytest.mark.parametrize("da,sa,db,sb", [
    ("float64", (2,), "complex64", ()), ("float32", (2,), "complex128", ()),
    ("complex64", (2,), "float64", ()), ("complex64", (2,), "float64", (2,)),
    ("int64", (2,), "complex128", ()), ("float32", (), "complex128", ()),
    ("float64", (), "complex64", ()), ("int32", (2,), "complex64", (2,)),
    ("complex64", (), "complex128", (2,)),
])
def test_binary_promotion_matches_torch(da, sa, db, sb):
    (na, ta), (nb, tb) = _pair(da, sa), _pair(db, sb)
    assert (na * nb).dtype.name == str((ta * tb).dtype).split(".")[1]
    assert nr.result_type(na, nb).name == str(torch.result_type(ta, tb)).split(".")[1]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool",
                                   "complex64", "complex128"])
@pytest.mark.parametrize("number", [1j, 2.5 - 1j])
def test_python_complex_scalars(dtype, number):
    (n, t) = _pair(dtype, (3,))
    fs = [lambda x: x * number, lambda x: number + x, lambda x: number / (x + 1)]
    if dtype != "bool":  # (torch refuses bool - number)
        fs.append(lambda x: x - number)
    for f in fs:
        ours, theirs = f(n), f(t)
        assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_default_dtype_float64_gives_complex128():
    old = nr.get_default_dtype()
    try:
        nr.set_default_dtype(nr.float64)
        assert nr.tensor([1 + 2j]).dtype == nr.complex128
        assert (nr.ones(2, dtype=nr.int64) * 1j).dtype == nr.complex128
        assert nr.full((2,), 1j).dtype == nr.complex128
    finally:
        nr.set_default_dtype(old)


def test_creation():
    assert nr.tensor([1 + 2j, 3]).dtype == nr.complex64
    assert nr.tensor(np.array([1j])).dtype == nr.complex128
    assert nr.tensor(np.array([1j], np.complex64)).dtype == nr.complex64
    a = np.array([1 + 1j, 2j])
    t = nr.from_numpy(a)
    assert t.dtype == nr.complex128 and np.shares_memory(t.numpy(), a)
    for make in (nr.zeros, nr.ones, nr.empty, nr.randn, nr.rand):
        for d in (nr.complex64, nr.complex128):
            x = make(2, 3, dtype=d)
            assert x.dtype == d and x.shape == (2, 3)
    assert nr.full((2,), 1 + 1j).dtype == nr.complex64
    assert nr.eye(3, dtype=nr.cfloat).tolist() == torch.eye(3, dtype=torch.cfloat).tolist()
    z = nr.randn(2, dtype=nr.cdouble)
    for like in (nr.zeros_like, nr.ones_like, nr.randn_like, nr.empty_like):
        assert like(z).dtype == nr.complex128
    assert nr.tensor([1j], requires_grad=True).requires_grad


def test_randn_complex_has_unit_variance_split_evenly():
    nr.manual_seed(0)
    z = nr.randn(20000, dtype=nr.complex128).numpy()
    assert abs(z.real.var() - 0.5) < 0.03 and abs(z.imag.var() - 0.5) < 0.03
    assert abs(np.mean(np.abs(z) ** 2) - 1.0) < 0.05
    u = nr.rand(20000, dtype=nr.complex64).numpy()
    assert 0 <= u.real.min() and u.real.max() < 1 and 0 <= u.imag.min() and u.imag.max() < 1


def test_conversions():
    z = nr.tensor([1 + 2j, 3 - 1j])
    assert nr.tensor(1 + 2j).item() == 1 + 2j and isinstance(nr.tensor(1 + 2j).item(), complex)
    assert z.tolist() == [1 + 2j, 3 - 1j]
    assert z.numpy().dtype == np.complex64
    assert z.to(nr.complex128).dtype == nr.complex128
    assert nr.tensor([1.0, 2.0]).to(nr.cfloat).tolist() == [1 + 0j, 2 + 0j]
    assert z.to(nr.float32).tolist() == [1.0, 3.0]  # the real part, as torch
    assert z.type() == "narae.ComplexFloatTensor" and z.double().dtype == nr.float64
    assert z.type(nr.complex128).type() == "narae.ComplexDoubleTensor"
    assert z.is_complex() and nr.is_complex(z) and not z.is_floating_point()
    assert not nr.is_complex(nr.randn(2)) and z.is_signed()
    assert z.dtype == nr.complex64 and z.element_size() == 8


def test_repr_like_torch():
    for data, dt in (([1 + 2j, 3 - 1j], "complex64"), ([1 + 2j], "complex128"),
                     (1.5 + 0j, "complex64"), ([0.25 - 1.5j, 2.0 + 0.125j], "complex64")):
        ours = repr(nr.tensor(data, dtype=getattr(nr, dt)))
        theirs = repr(torch.tensor(data, dtype=getattr(torch, dt)))
        assert ours == theirs.replace("torch.", "narae."), (ours, theirs)
    assert "requires_grad=True" in repr(nr.tensor([1j], requires_grad=True))


def test_tensor_info_and_misc():
    z = nr.tensor([1j])
    assert not z.is_conj() and not nr.is_conj(z) and not z.is_neg()
    assert nr.can_cast(nr.float32, nr.complex64) and not nr.can_cast(nr.complex64, nr.float64)


def test_safetensors_roundtrip(tmp_path):
    from narae.io import save_file, load_file
    tensors = {"a": nr.randn(2, 3, dtype=nr.complex64), "b": nr.randn(4, dtype=nr.complex128),
               "c": nr.randn(3), "s": nr.tensor(1 + 2j, dtype=nr.complex128)}
    path = tmp_path / "c.safetensors"
    with pytest.raises(TypeError, match="complex128"):  # as the safetensors package
        save_file(tensors, path)
    save_file(tensors, path, metadata={"note": "x"}, complex128_pairs=True)
    back = load_file(path)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    from narae.io.safetensors import read_header, read_metadata, load, save
    _, header = read_header(path)
    assert header["a"][0] == "C64" and tuple(header["b"][1]) == (4, 2) and header["b"][0] == "F64"
    assert read_metadata(path) == {"note": "x", "narae.complex128": '["b", "s"]'}
    assert load(save(tensors, complex128_pairs=True))["b"].dtype == nr.complex128
    nr.save({"z": tensors["b"], "n": [tensors["s"], 3]}, tmp_path / "n.safetensors")
    back = nr.load(tmp_path / "n.safetensors")
    assert back["z"].dtype == nr.complex128 and back["n"][0].item() == 1 + 2j


def test_complex64_file_readable_by_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from narae.io import save_file
    z = nr.randn(3, dtype=nr.complex64)
    save_file({"z": z}, tmp_path / "z.safetensors")
    np.testing.assert_array_equal(safetensors_numpy.load_file(tmp_path / "z.safetensors")["z"],
                                  z.numpy())


def test_module_with_complex_parameter_and_buffer(tmp_path):
    class M(nr.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nr.nn.Parameter(nr.randn(2, 2, dtype=nr.complex64))
            self.register_buffer("phase", nr.randn(3, dtype=nr.complex128))

        def forward(self, x):
            return (x @ self.w).abs().sum()

    m = M()
    loss = m(nr.randn(4, 2, dtype=nr.complex64))
    loss.backward()
    assert m.w.grad.dtype == nr.complex64
    nr.save(m.state_dict(), tmp_path / "m.safetensors")
    m2 = M()
    m2.load_state_dict(nr.load(tmp_path / "m.safetensors"))
    for k, v in m.state_dict().items():
        assert m2.state_dict()[k].dtype == v.dtype
        np.testing.assert_array_equal(m2.state_dict()[k].numpy(), v.detach().numpy())


def test_fills_linspace_and_casts():
    nr.manual_seed(1)
    z = nr.empty(20000, dtype=nr.cfloat).normal_(1.0, 2.0).numpy()
    assert abs(z.mean() - (1 + 1j)) < 0.05 and abs(z.real.std() - 2 ** 0.5) < 0.05
    u = nr.empty(1000, dtype=nr.cdouble).uniform_(1, 2).numpy()
    assert u.real.min() >= 1 and u.imag.max() < 2 and u.imag.min() >= 1
    for ours, theirs in ((nr.linspace(0, 1j, 3), torch.linspace(0, 1j, 3)),
                         (nr.linspace(0, 1, 3, dtype=nr.cfloat),
                          torch.linspace(0, 1, 3, dtype=torch.cfloat))):
        assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    z = nr.tensor([1j, 0, 2 + 1j])
    assert z.bool().tolist() == [True, False, True] and z.long().tolist() == [0, 0, 2]
    assert nr.tensor([1j, 0]).any().item() and nr.count_nonzero(z).item() == 2
    with pytest.raises(TypeError, match="complex"):
        nr.Tensor([1j])


def test_refusals_installed_only_once_complex_is_used():
    """Real programs keep the unwrapped functions (no per-op cost); the first complex dtype
    installs the checks everywhere narae holds the refused functions."""
    import subprocess
    import sys
    code = (
        "import narae as nr\n"
        "from narae.ops import arith\n"
        "assert not hasattr(nr.clamp, '_refuses_complex') and arith.clamp is nr.clamp\n"
        "x = nr.randn(2, 2)\n"
        "z = nr.view_as_complex(x)\n"
        "assert getattr(nr.clamp, '_refuses_complex', False)\n"
        "assert getattr(nr.Tensor.clamp, '_refuses_complex', False)\n"
        "assert getattr(nr.nn.functional.relu, '_refuses_complex', False)\n"
        "try:\n"
        "    z.clamp(0)\n"
        "except RuntimeError as e:\n"
        "    assert 'complex' in str(e)\n"
        "else:\n"
        "    raise AssertionError('clamp accepted a complex tensor')\n"
        "assert nr.clamp(x, 0).shape == (2, 2)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
