"""Complex tensors: real/imag parts, conjugates, polar form, and the refusal of ops that
torch does not define on complex numbers.

Gradients follow torch's convention: for a real loss L, a complex tensor z receives
dL/dRe(z) + i dL/dIm(z) (the conjugate Wirtinger derivative, times 2). A holomorphic op
f passes back ``gy * conj(f'(z))``; a real tensor that meets a complex gradient keeps its
real part (done once, in the engine's ``_fit_to_input``).

narae materialises conjugates (``conj`` copies), so ``is_conj`` is always False.
"""
import functools
import sys

from .. import _dtype
from ..autograd import engine as _engine
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from .arith import Conj, abs as _abs, where
from .shape import transpose

__all__ = ["real", "imag", "view_as_real", "view_as_complex", "complex", "polar", "conj",
           "conj_physical", "conj_physical_", "resolve_conj", "resolve_neg", "adjoint",
           "view_as_real_copy", "view_as_complex_copy"]


def _is_c(t):
    return t._data.dtype.kind == "c"


def _need_complex(input, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if not _is_c(input):
        raise RuntimeError(f"{op} is only supported for complex tensors (got {input.dtype} "
                           f"of shape {tuple(input.shape)})")


class Real(Function):
    """Re(z); the gradient gy enters the real direction: gy + 0i."""
    uses_inputs = False

    def forward(self, x):
        self.cdtype = x.dtype
        return x.real

    def backward(self, gy):
        return _to_complex(gy, self.cdtype)


class Imag(Function):
    """Im(z); the gradient enters the imaginary direction: 0 + i gy."""
    uses_inputs = False

    def forward(self, x):
        return x.imag

    def backward(self, gy):
        zero = Tensor(get_array_module(gy._data).zeros((), gy._data.dtype))
        return Complex()(zero, gy)  # (Complex broadcasts the 0-d zero)


def _to_complex(t, np_dtype):
    """A real tensor as complex (imaginary part 0), differentiably."""
    return t.to(_dtype.from_numpy_dtype(np_dtype))


class Complex(Function):
    """real + i imag from two real tensors of one dtype (broadcast)."""
    uses_inputs = False

    def forward(self, re, im):
        xp = get_array_module(re)
        out = xp.empty(xp.broadcast_shapes(re.shape, im.shape),
                       xp.complex128 if re.dtype == xp.float64 else xp.complex64)
        out.real = re
        out.imag = im
        return out

    def backward(self, gy):
        re, im = self.inputs
        return (Real()(gy) if re.requires_grad else None), \
            (Imag()(gy) if im.requires_grad else None)


class ViewAsReal(Function):
    """(..., ) complex -> (..., 2) real holding (re, im); adjoint of view_as_complex."""
    uses_inputs = False

    def forward(self, x):
        xp = get_array_module(x)
        return xp.stack((x.real, x.imag), axis=-1)

    def backward(self, gy):
        return ViewAsComplex()(gy)


class ViewAsComplex(Function):
    """(..., 2) real -> (...) complex; adjoint of view_as_real."""
    uses_inputs = False

    def forward(self, x):
        xp = get_array_module(x)
        out = xp.empty(x.shape[:-1], xp.complex128 if x.dtype == xp.float64 else xp.complex64)
        out.real = x[..., 0]
        out.imag = x[..., 1]
        return out

    def backward(self, gy):
        return ViewAsReal()(gy)


class Angle(Function):
    """arg(z) = atan2(Im z, Re z). For a real loss the gradient is gy * i z / |z|^2
    (0 at z == 0, as torch)."""

    def forward(self, x):
        return get_array_module(x).angle(x)

    def backward(self, gy):
        z = self.inputs[0]
        xp = get_array_module(z._data)
        a2 = real(z * conj(z))
        nonzero = a2 != 0
        safe = where(nonzero, a2, Tensor(xp.ones((), a2._data.dtype)))
        g = _to_complex(gy / safe, z._data.dtype) * z * 1j
        return where(nonzero, g, Tensor(xp.zeros((), z._data.dtype)))


# --- user-facing functions -------------------------------------------------------------
def real(input):
    """The real part (a real tensor); a real tensor is returned as it is, as torch."""
    if not _is_c(input):
        return input
    return Real()(input)


def imag(input):
    """The imaginary part (a real tensor); only defined for complex tensors."""
    if not _is_c(input):
        raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes "
                           f"(got {input.dtype})")
    return Imag()(input)


def view_as_real(input):
    """A complex tensor of shape S as a real one of shape S + (2,): (real, imag) pairs."""
    _need_complex(input, "view_as_real")
    return ViewAsReal()(input)


def view_as_complex(input):
    """A float32/float64 tensor whose last dim is 2 as complex numbers (re, im)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"view_as_complex(): argument 'input' must be a Tensor, not "
                        f"{type(input).__name__}")
    if input._data.dtype.kind != "f" or input._data.dtype.itemsize < 4:
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: {input.dtype}")
    if input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: tensor must have a last dimension of size 2, "
                           f"got shape {tuple(input.shape)}")
    _dtype._note_complex()
    return ViewAsComplex()(input)


def complex(real, imag):
    """real + i imag from two float tensors of the same dtype (float32 -> complex64)."""
    for name, t in (("real", real), ("imag", imag)):
        if not isinstance(t, Tensor):
            raise TypeError(f"complex(): argument '{name}' must be a Tensor, not "
                            f"{type(t).__name__}")
    if real._data.dtype != imag._data.dtype:
        raise RuntimeError(f"complex: expected real and imag to have the same dtype, but got "
                           f"real.dtype = {real.dtype} and imag.dtype = {imag.dtype}")
    if real._data.dtype.kind != "f" or real._data.dtype.itemsize < 4:
        raise RuntimeError(f"complex: expected both inputs to be float or double, got "
                           f"{real.dtype}")
    _dtype._note_complex()
    return Complex()(real, imag)


def polar(abs, angle):
    """abs * (cos(angle) + i sin(angle)) from two float tensors of the same dtype."""
    from .arith import cos, sin
    for name, t in (("abs", abs), ("angle", angle)):
        if not isinstance(t, Tensor):
            raise TypeError(f"polar(): argument '{name}' must be a Tensor, not "
                            f"{type(t).__name__}")
    if abs._data.dtype != angle._data.dtype:
        raise RuntimeError(f"polar: expected abs and angle to have the same dtype, but got "
                           f"abs.dtype = {abs.dtype} and angle.dtype = {angle.dtype}")
    return complex(abs * cos(angle), abs * sin(angle))


def conj(input):
    """The complex conjugate; a real tensor is returned as it is (torch returns a view)."""
    if not _is_c(input):
        return input
    return Conj()(input)


def conj_physical(input):
    """The complex conjugate, computed (narae always computes it: same as ``conj``)."""
    return conj(input)


def conj_physical_(input):
    """Conjugate ``input`` in place (a real tensor is left as it is)."""
    return input._apply_inplace(conj) if _is_c(input) else input


def view_as_real_copy(input):
    """``view_as_real`` (narae's result is already a new array)."""
    return view_as_real(input)


def view_as_complex_copy(input):
    """``view_as_complex`` (narae's result is already a new array)."""
    return view_as_complex(input)


def resolve_conj(input):
    """narae has no lazy conjugate bit: the tensor itself."""
    return input


def resolve_neg(input):
    """narae has no lazy negation bit: the tensor itself."""
    return input


def adjoint(input):
    """The conjugate transpose of the last two dims (``mH``)."""
    return _adjoint(input, "adjoint()")


def _adjoint(input, name):
    if input.ndim < 2:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of "
                           f"matrices. Got {input.ndim}-D tensor.")
    return conj(transpose(input, -2, -1))


def _complex_sgn(input):
    """z / |z| (0 where z == 0), differentiable."""
    xp = get_array_module(input._data)
    a = _abs(input)
    nonzero = a != 0
    safe = where(nonzero, a, Tensor(xp.ones((), a._data.dtype)))
    out = input / _to_complex(safe, input._data.dtype)
    return where(nonzero, out, Tensor(xp.zeros((), input._data.dtype)))


def _complex_angle(input):
    return Angle()(input)


def _H(self):
    if self.ndim not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self.ndim}-D tensor.")
    return conj(transpose(self, 0, 1)) if self.ndim == 2 else conj(self)


register_methods(
    conj=conj, conj_physical=conj_physical, resolve_conj=resolve_conj,
    resolve_neg=resolve_neg, adjoint=adjoint,
    real=property(real), imag=property(imag),
    mH=property(lambda self: _adjoint(self, "mH")), H=property(_H),
    conj_physical_=conj_physical_,
)

_engine._real_part = real


# --- ops torch does not define on complex numbers -----------------------------------------
# NumPy orders complex numbers lexicographically, so max/sort/clamp/lt would quietly return
# something; torch refuses. The refusal is installed the first time a complex dtype is used
# (``_dtype.on_complex_use``): a thin check wraps each listed function wherever narae's
# modules hold it, so programs that never meet complex numbers pay nothing.
REFUSED = {
    "narae.ops.arith": ("clamp", "clip", "maximum", "minimum", "floor", "ceil", "round",
                        "trunc", "floor_divide", "remainder", "fmod", "sign", "erf"),
    "narae.ops.compare": ("lt", "le", "gt", "ge", "less", "less_equal", "greater",
                          "greater_equal"),
    "narae.ops.reduce": ("max", "min", "amax", "amin", "argmax", "argmin", "median",
                         "aminmax", "nansum", "nanmean"),
    "narae.ops.activation": ("relu", "relu6", "leaky_relu", "hardtanh", "elu", "selu", "celu",
                             "gelu", "softplus", "hardsigmoid", "hardswish",
                             "softmax", "log_softmax", "threshold", "mish", "logsigmoid",
                             "hardshrink", "softshrink"),
    "narae.ops.index": ("sort", "argsort", "topk", "kthvalue", "msort"),
    "narae.ops.statistics": ("nanmedian", "mode", "quantile", "nanquantile", "histc"),
    "narae.ops.elementwise": ("fmax", "fmin", "atan2", "hypot", "copysign",
                              "heaviside", "frac", "erfc", "erfinv", "lgamma", "digamma",
                              "signbit", "xlogy", "logit", "isneginf", "isposinf",
                              "nextafter", "deg2rad", "rad2deg"),
    "narae.ops.norm": ("batch_norm", "layer_norm", "group_norm", "instance_norm"),
    "narae.ops.pool": ("avg_pool1d", "avg_pool2d", "avg_pool3d"),
    "narae.ops.resize": ("interpolate",),
    "narae.ops.distance": ("cdist",),
}
# Tensor methods and dunders whose name differs from the function's, or that are bound
# separately (in-place forms): checked by name.
_REFUSED_METHODS = ("__lt__", "__le__", "__gt__", "__ge__", "__floordiv__", "__mod__",
                    "clamp_", "clip_", "floor_", "round_", "relu_", "max", "min", "sort",
                    "abs_", "erf_", "erfc_", "logit_", "xlogy_", "deg2rad_", "rad2deg_")


def _refuse(fn, name):
    @functools.wraps(fn)
    def checked(*args, **kwargs):
        for a in args[:2]:
            if type(a) is not Tensor and not isinstance(a, Tensor):
                continue
            if a._data.dtype.kind == "c":
                raise RuntimeError(f"{name} is not supported for complex tensors (got "
                                   f"{a.dtype} of shape {tuple(a.shape)})")
        return fn(*args, **kwargs)
    checked._refuses_complex = True
    return checked


def _install_refusals():
    """Wrap every refused function in each narae module (and Tensor) that holds it."""
    originals = {}
    for mod_name, names in REFUSED.items():
        mod = sys.modules.get(mod_name)
        if mod is None:
            try:
                __import__(mod_name)
            except ImportError:
                continue
            mod = sys.modules[mod_name]
        for name in names:
            fn = getattr(mod, name, None)
            if fn is not None and not getattr(fn, "_refuses_complex", False) and \
                    id(fn) not in originals:
                originals[id(fn)] = (fn, _refuse(fn, name))
    for mod_name, mod in list(sys.modules.items()):
        if mod is None or not (mod_name == "narae" or mod_name.startswith("narae.")):
            continue
        for key, value in list(vars(mod).items()):
            hit = originals.get(id(value))
            if hit is not None and hit[0] is value:
                setattr(mod, key, hit[1])
    for key, value in list(vars(Tensor).items()):
        hit = originals.get(id(value))
        if hit is not None and hit[0] is value:
            setattr(Tensor, key, hit[1])
        elif key in _REFUSED_METHODS and callable(value) and \
                not getattr(value, "_refuses_complex", False):
            setattr(Tensor, key, _refuse(value, key.strip("_")))


_dtype.on_complex_use(_install_refusals)
