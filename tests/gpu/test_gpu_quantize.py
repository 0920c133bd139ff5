"""Fake quantization and quantized tensors on the device == on the CPU (outputs, gradients)."""
import numpy as np
import pytest
from test_gpu_ops import Case, randn, const, with_layouts, layout_ids, check_case

from narae import _dtype
from narae.ops import quantize as Q

pytestmark = [pytest.mark.gpu, pytest.mark.filterwarnings("ignore:Please use quant_min")]


def _halves(*shape, scale=0.1):
    a = randn(*shape) * 2
    a.reshape(-1)[::3] = (np.round(a.reshape(-1)[::3] / scale) + 0.5) * scale
    return a


ZP_I32 = np.array([0, 1, -2, 3], np.int32)
CASES = [
    Case("fake_quantize_per_tensor", lambda x: Q.fake_quantize_per_tensor_affine(
        x, 0.1, 2, -16, 15), _halves(3, 4)),
    Case("fake_quantize_per_channel_int_zp", lambda x, s, z: Q.fake_quantize_per_channel_affine(
        x, s, z, 1, -8, 7), _halves(3, 4), const([0.1, 0.2, 0.05, 0.3]), ZP_I32),
    Case("fake_quantize_per_channel_float_zp", lambda x, s, z: Q.fake_quantize_per_channel_affine(
        x, s, z, 0, 0, 15), _halves(3, 4), const([0.1, 0.2, 0.3]), const([0.5, 2.0, 7.3])),
    Case("fake_quantize_learnable_per_tensor",
         lambda x, s, z: Q._fake_quantize_learnable_per_tensor_affine(x, s, z, -8, 7, 0.5),
         _halves(3, 4), np.array([0.1]), np.array([1.3])),
    Case("fake_quantize_learnable_per_channel",
         lambda x, s, z: Q._fake_quantize_learnable_per_channel_affine(x, s, z, 1, -8, 7),
         _halves(3, 4), np.array([0.1, 0.2, 0.05, 0.3]), np.array([0.0, 1.5, -2.5, 3.0])),
    Case("quantize_per_tensor_int_repr", lambda x: Q.quantize_per_tensor(
        x.detach(), 0.1, 3, _dtype.quint8).int_repr(), _halves(3, 4), grad=False),
    Case("quantize_per_tensor_dequantize", lambda x: Q.quantize_per_tensor(
        x.detach(), 0.05, -3, _dtype.qint8).dequantize(), _halves(3, 4, scale=0.05), grad=False),
    Case("quantize_per_channel_dequantize", lambda x, s: Q.quantize_per_channel(
        x.detach(), s, s.long() * 0 + 2, 1, _dtype.qint8).dequantize(), _halves(3, 4),
        const([0.1, 0.2, 0.05, 0.3]), grad=False),
]
PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


# -- quantized modules: a CPU-built module copied to the input's device ----------------------
def _converted(kind):
    import narae as nr
    import narae.ao.quantization as NQ
    nr.manual_seed(0)
    if kind == "conv":
        m = nr.nn.Sequential(NQ.QuantStub(), nr.nn.Conv2d(2, 3, 3, padding=1), nr.nn.ReLU(),
                             nr.nn.MaxPool2d(2), nr.nn.Flatten(), nr.nn.Linear(12, 4),
                             NQ.DeQuantStub()).eval()
        m = NQ.fuse_modules(m, [["1", "2"]])
        x = np.random.default_rng(3).standard_normal((5, 2, 4, 4)).astype(np.float32)
    else:
        m = nr.nn.Sequential(NQ.QuantStub(), nr.nn.Linear(6, 4), NQ.DeQuantStub()).eval()
        x = np.random.default_rng(3).standard_normal((5, 6)).astype(np.float32)
    m.qconfig = NQ.get_default_qconfig("x86")
    m = NQ.prepare(m)
    m(nr.from_numpy(x))
    return NQ.convert(m)


_CACHE = {}


def _module_on(kind, device):
    import copy
    key = (kind, str(device))
    if key not in _CACHE:
        if kind == "dynamic":
            import narae as nr
            import narae.ao.quantization as NQ
            nr.manual_seed(0)
            m = NQ.quantize_dynamic(nr.nn.Sequential(nr.nn.Linear(6, 4)))
        else:
            m = _converted(kind)
        _CACHE[key] = copy.deepcopy(m).to(device)
    return _CACHE[key]


MODULE_CASES = [
    Case("quantized_linear", lambda x: _module_on("linear", x.device)(x.detach()),
         randn(5, 6), grad=False),
    Case("quantized_conv_relu_pool_linear", lambda x: _module_on("conv", x.device)(x.detach()),
         randn(5, 2, 4, 4), grad=False),
    Case("dynamic_linear", lambda x: _module_on("dynamic", x.device)(x.detach()),
         randn(5, 6), grad=False),
]
MODULE_PAIRS = with_layouts(MODULE_CASES)


@pytest.mark.parametrize("case,fortran", MODULE_PAIRS, ids=layout_ids(MODULE_PAIRS))
def test_quantized_modules_match_cpu(case, fortran, device):
    check_case(case, fortran, device)
