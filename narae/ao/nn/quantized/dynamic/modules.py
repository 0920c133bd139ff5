"""Dynamic quantized Linear: float in, float out, int8 weights; the input is quantized per
call with qparams from its own range (fbgemm's ChooseQuantizationParams, 7-bit on x86/fbgemm
as torch's ``reduce_range=True``), the product accumulated exactly in integers and rescaled:
y = float(acc) * (sx * sw) + b."""
import numpy as np

from ....._dtype import qint8
from .....backend import get_array_module
from .....tensor import Tensor
from ....quantization.observer import MinMaxObserver, choose_qparams
from ..modules import Linear as _QLinear, _centered, _quantize_weight, _weight_scales
from .....ops.quantize import _fma

__all__ = ["Linear"]

_F32 = np.float32
class Linear(_QLinear):
    """y = x W^T + b with W in int8 and x quantized on the fly (see the module doc)."""

    def __init__(self, in_features, out_features, bias_=True, dtype=qint8):
        super().__init__(in_features, out_features, bias_, dtype)
        self.version = 4

    def forward(self, x):
        if isinstance(x, Tensor) and getattr(x, "is_quantized", False):
            raise RuntimeError("dynamic Linear: expected a float input, got a quantized one")
        if x.shape[-1] != self.in_features:
            raise RuntimeError(f"dynamic Linear: input of shape {tuple(x.shape)} does not match "
                               f"in_features={self.in_features}")
        a = x._data.astype(_F32, copy=False)
        xp = get_array_module(a)
        qmax = 127  # reduce_range=True (x86/fbgemm)
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        s, z = choose_qparams(lo, hi, 0, qmax)
        s, z = float(s), int(z)
        q = xp.clip(xp.rint(_fma(xp, a, _F32(1) / _F32(s), _F32(z))), 0, qmax)
        w = self.weight()
        acc = (q.astype(np.float64) - z) @ _centered(w).T
        out = acc.astype(_F32) * (_F32(s) * _weight_scales(w))
        b = self.bias()
        if b is not None:
            out = out + b._data.astype(_F32)
        return Tensor(out.astype(_F32))

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        w = self.weight()
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"dtype={w.dtype}, qscheme={w.qscheme()}")

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        qconfig = getattr(mod, "qconfig", None)
        wobs = qconfig.weight() if qconfig is not None else MinMaxObserver(dtype=qint8)
        wobs(mod.weight)
        if wobs.dtype is not qint8:
            raise RuntimeError(f"dynamic Linear: unsupported weight dtype {wobs.dtype}")
        qw = _quantize_weight(mod.weight.detach().float(), wobs)
        q = cls(mod.in_features, mod.out_features, dtype=wobs.dtype)
        q.set_weight_bias(qw, None if mod.bias is None else mod.bias.detach())
        return q
