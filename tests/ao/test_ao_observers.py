"""narae.ao.quantization observers, fake-quantize modules and qconfigs against torch's."""
import warnings

import numpy as np
import pytest
import torch
import torch.ao.quantization as TQ

import narae as nr
import narae.ao.quantization as NQ
from narae import _dtype as D
from helpers import randn

pytestmark = pytest.mark.filterwarnings("ignore")

DT = {torch.quint8: D.quint8, torch.qint8: D.qint8, torch.qint32: D.qint32}
QS = {torch.per_tensor_affine: D.per_tensor_affine,
      torch.per_tensor_symmetric: D.per_tensor_symmetric,
      torch.per_channel_affine: D.per_channel_affine,
      torch.per_channel_symmetric: D.per_channel_symmetric,
      torch.per_channel_affine_float_qparams: D.per_channel_affine_float_qparams}


def ours(kw):
    return {k: DT.get(v, QS.get(v, v)) if not isinstance(v, (int, float)) else v
            for k, v in kw.items()}


def observe_both(name, kw, batches):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, n = getattr(TQ, name)(**kw), getattr(NQ, name)(**ours(kw))
    for b in batches:
        out = n(nr.from_numpy(b))
        t(torch.from_numpy(b))
        assert np.array_equal(out.numpy(), b)  # observers pass their input through
    return t, n


def assert_same_qparams(t, n):
    ts, tz = t.calculate_qparams()
    ns, nz = n.calculate_qparams()
    np.testing.assert_array_equal(ns.numpy(), ts.numpy())
    np.testing.assert_array_equal(nz.numpy(), tz.numpy())
    assert ns.dtype.name == str(ts.dtype)[6:] and nz.dtype.name == str(tz.dtype)[6:]


def batches(*shape, n=3):
    return [(randn(*shape) * (1 + i) + 0.5).astype(np.float32) for i in range(n)]


def _ranges(dtype):
    return [None, (0, 15) if dtype is torch.quint8 else (-8, 7)]


PER_TENSOR = [(dt, qs, rr, qr) for dt in (torch.quint8, torch.qint8)
              for qs in (torch.per_tensor_affine, torch.per_tensor_symmetric)
              for rr in (False, True) for qr in _ranges(dt)
              if not (qs == torch.per_tensor_symmetric and rr and dt == torch.quint8)]


@pytest.mark.parametrize("name", ["MinMaxObserver", "MovingAverageMinMaxObserver"])
@pytest.mark.parametrize("dtype,qscheme,reduce_range,qrange", PER_TENSOR)
def test_per_tensor_observers(name, dtype, qscheme, reduce_range, qrange):
    kw = dict(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range)
    if qrange:
        kw.update(quant_min=qrange[0], quant_max=qrange[1])
    t, n = observe_both(name, kw, batches(4, 6))
    assert_same_qparams(t, n)
    assert (n.quant_min, n.quant_max) == (t.quant_min, t.quant_max)
    np.testing.assert_array_equal(n.min_val.numpy(), t.min_val.numpy())
    np.testing.assert_array_equal(n.max_val.numpy(), t.max_val.numpy())


PER_CHANNEL = [(dt, qs, rr) for dt in (torch.quint8, torch.qint8)
               for qs in (torch.per_channel_affine, torch.per_channel_symmetric,
                          torch.per_channel_affine_float_qparams) for rr in (False, True)
               if not (qs == torch.per_channel_symmetric and rr and dt == torch.quint8)]


@pytest.mark.parametrize("name", ["PerChannelMinMaxObserver",
                                  "MovingAveragePerChannelMinMaxObserver"])
@pytest.mark.parametrize("dtype,qscheme,reduce_range", PER_CHANNEL)
@pytest.mark.parametrize("ch_axis", [0, 1])
def test_per_channel_observers(name, dtype, qscheme, reduce_range, ch_axis):
    kw = dict(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, ch_axis=ch_axis)
    t, n = observe_both(name, kw, batches(3, 4, 5))
    assert_same_qparams(t, n)


@pytest.mark.parametrize("kw", [{}, {"reduce_range": True},
                                {"dtype": torch.qint8, "qscheme": torch.per_tensor_symmetric},
                                {"quant_min": 0, "quant_max": 127, "bins": 256}])
def test_histogram_observer(kw):
    b = batches(300, n=4)
    b[1][0] = 25.0  # an outlier the L2 search trims, and a range change to re-bin for
    b[2] = b[2] * 0.1
    t, n = observe_both("HistogramObserver", kw, b)
    assert_same_qparams(t, n)
    np.testing.assert_allclose(n.histogram.numpy(), t.histogram.numpy(), rtol=1e-5,
                               atol=1e-4)


def test_unobserved_and_constant_inputs():
    for name in ("MinMaxObserver", "HistogramObserver"):
        t, n = observe_both(name, {}, [])
        assert_same_qparams(t, n)
    t, n = observe_both("MinMaxObserver", {}, [np.zeros((3,), np.float32)])
    assert_same_qparams(t, n)
    t, n = observe_both("PerChannelMinMaxObserver", {}, [np.ones((2, 3), np.float32)])
    assert_same_qparams(t, n)


def test_observer_state_dict_and_repr():
    n = NQ.PerChannelMinMaxObserver(ch_axis=1)
    n(nr.randn(2, 3))
    sd = n.state_dict()
    assert list(sd) == ["eps", "min_val", "max_val"] and tuple(sd["min_val"].shape) == (3,)
    fresh = NQ.PerChannelMinMaxObserver(ch_axis=1)
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh.calculate_qparams()[0].numpy(),
                                  n.calculate_qparams()[0].numpy())
    assert repr(NQ.MinMaxObserver()) == "MinMaxObserver(min_val=inf, max_val=-inf)"
    assert repr(NQ.PlaceholderObserver()) == \
        "PlaceholderObserver(dtype=narae.float32, is_dynamic=False)"
    for cls in (NQ.PlaceholderObserver, NQ.NoopObserver):
        x = nr.randn(3)
        assert cls()(x) is x
        with pytest.raises(RuntimeError, match="calculate_qparams"):
            cls().calculate_qparams()
    s, z = NQ.FixedQParamsObserver(1 / 256, 0).calculate_qparams()
    assert s.item() == 1 / 256 and z.dtype == nr.int32


def test_observer_errors():
    with pytest.raises(NotImplementedError, match="qscheme"):
        NQ.MinMaxObserver(qscheme=D.per_channel_affine)
    with pytest.raises(NotImplementedError, match="qscheme"):
        NQ.PerChannelMinMaxObserver(qscheme=D.per_tensor_affine)
    with pytest.raises(NotImplementedError, match="quint8"):
        NQ.MinMaxObserver(qscheme=D.per_tensor_symmetric, reduce_range=True)
    with pytest.raises(ValueError, match="include 0"):
        NQ.MinMaxObserver(quant_min=1, quant_max=10)


@pytest.mark.parametrize("factory", ["default_fake_quant", "default_weight_fake_quant",
                                     "default_per_channel_weight_fake_quant",
                                     "default_fused_act_fake_quant",
                                     "default_fused_per_channel_wt_fake_quant"])
def test_fake_quantize_modules(factory):
    # torch's fused kernel derives the scale in its own C++ arithmetic: one ulp apart
    tol = dict(rtol=1e-6, atol=1e-6) if "fused" in factory else dict(rtol=0, atol=0)
    t, n = getattr(TQ, factory)(), getattr(NQ, factory)()
    assert list(n.state_dict()) == list(t.state_dict())
    for i, b in enumerate(batches(4, 5)):
        if i == 2:
            t.disable_observer()
            n.disable_observer()
        xt = torch.from_numpy(b).requires_grad_()
        xn = nr.from_numpy(b).requires_grad_()
        yt, yn = t(xt), n(xn)
        np.testing.assert_allclose(yn.detach().numpy(), yt.detach().numpy(), **tol)
        yt.sum().backward()
        yn.sum().backward()
        np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy())
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(n.state_dict()[k].numpy(), v.numpy(), err_msg=k, **tol)
    n.disable_fake_quant()
    x = nr.randn(4, 5)
    assert n(x) is x


def test_fake_quantize_helpers_and_fixed_qparams():
    m = nr.nn.Sequential(NQ.FakeQuantize(), nr.nn.ReLU())
    m.apply(NQ.disable_fake_quant)
    m.apply(NQ.disable_observer)
    assert int(m[0].fake_quant_enabled[0]) == 0 and int(m[0].observer_enabled[0]) == 0
    m.apply(NQ.enable_fake_quant)
    m.apply(NQ.enable_observer)
    assert int(m[0].fake_quant_enabled[0]) == 1 and int(m[0].observer_enabled[0]) == 1
    b = batches(3, 4)[0]
    t = TQ.default_fixed_qparams_range_0to1_fake_quant()
    n = NQ.default_fixed_qparams_range_0to1_fake_quant()
    np.testing.assert_array_equal(n(nr.from_numpy(b)).numpy(), t(torch.from_numpy(b)).numpy())
    assert n.calculate_qparams()[0].item() == 1 / 256
    with pytest.raises(ValueError, match="quant_min"):
        NQ.FakeQuantize(quant_min=10, quant_max=5)


def _same_factory(n, t):
    t = getattr(t, "p", t)  # (torch wraps its partials)
    if hasattr(t, "func"):
        assert n.func.__name__ == t.func.__name__
        assert ours(t.keywords).keys() == n.keywords.keys()
        for k, v in ours(t.keywords).items():
            if hasattr(v, "func") or isinstance(v, type):
                _same_factory(n.keywords[k], v)
            else:
                assert n.keywords[k] == v, k
    else:
        assert n.__name__ == t.__name__


@pytest.mark.parametrize("backend", ["x86", "fbgemm", "qnnpack", "onednn"])
def test_default_qconfigs(backend):
    for get in ("get_default_qconfig", "get_default_qat_qconfig"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = getattr(TQ, get)(backend)
        n = getattr(NQ, get)(backend)
        _same_factory(n.activation, t.activation)
        _same_factory(n.weight, t.weight)
    for name in ("default_qconfig", "default_dynamic_qconfig", "default_qat_qconfig",
                 "default_per_channel_qconfig", "per_channel_dynamic_qconfig"):
        _same_factory(getattr(NQ, name).activation, getattr(TQ, name).activation)
        _same_factory(getattr(NQ, name).weight, getattr(TQ, name).weight)
    with pytest.raises(ValueError, match="backend"):
        NQ.get_default_qconfig("tpu")
    with pytest.raises(ValueError, match="observer instance"):
        NQ.QConfig(activation=NQ.MinMaxObserver(), weight=NQ.MinMaxObserver)
    assert NQ.qconfig_equals(NQ.get_default_qconfig(backend), NQ.get_default_qconfig(backend))
