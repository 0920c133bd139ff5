"""Convolutions of complex tensors, built from real ones.

A convolution is bilinear, so with x = a + ib, w = c + id (Gauss's three-multiplication
trick, as torch does)::

    t1 = conv(a, c),  t2 = conv(b, d),  t3 = conv(a + b, c + d)
    conv(x, w) = (t1 - t2) + i (t3 - t1 - t2)

Everything is made of narae's differentiable real convolutions and ``real``/``imag``/
``complex``, so the gradients (torch's conjugate-Wirtinger convention) and higher-order
gradients come for free. The bias ``p + iq`` rides in t1 (``p``) and t3 (``p + q``), which
leaves ``p`` in the real part and ``q`` in the imaginary part.

``narae.ops.conv`` routes complex inputs here; the functions below with torch's names run
the same routing directly.
"""
from . import conv as _conv
from .complex import complex as _complex, imag, real

__all__ = ["complex_conv"]


def _parts(t):
    if t._data.dtype.kind == "c":
        return real(t), imag(t)
    return t, None


def complex_conv(conv, input, weight, bias=None):
    """``conv(input, weight, bias)`` for complex ``input``/``weight`` (and optional complex
    bias), given ``conv(x, w, b)``: a real convolution with every geometry argument fixed."""
    for name, t in (("input", input), ("weight", weight)):
        if t._data.dtype.kind != "c":
            raise RuntimeError(f"complex convolution: {name} of shape {tuple(t.shape)} is "
                               f"{t.dtype}, expected a complex tensor (input {input.dtype}, "
                               f"weight {weight.dtype})")
    a, b = _parts(input)
    c, d = _parts(weight)
    p = q = None
    if bias is not None:
        p, q = _parts(bias)
    t1 = conv(a, c, p)
    t2 = conv(b, d, None)
    pq = p if q is None else (q if p is None else p + q)
    t3 = conv(a + b, c + d, pq)
    return _complex(t1 - t2, t3 - t1 - t2)


def _route(real_fn, input, weight, bias, *args):
    if input._data.dtype.kind != "c" and weight._data.dtype.kind != "c":
        return real_fn(input, weight, bias, *args)
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"{real_fn.__name__}: input ({input.dtype}) and weight "
                           f"({weight.dtype}) must have the same dtype")
    return complex_conv(lambda x, w, b: real_fn(x, w, b, *args), input, weight, bias)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv1d`` accepting complex tensors (three real convolutions)."""
    return _route(_conv.conv1d, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv2d`` accepting complex tensors."""
    return _route(_conv.conv2d, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv3d`` accepting complex tensors."""
    return _route(_conv.conv3d, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """``conv_transpose1d`` accepting complex tensors."""
    return _route(_conv.conv_transpose1d, input, weight, bias, stride, padding,
                  output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """``conv_transpose2d`` accepting complex tensors."""
    return _route(_conv.conv_transpose2d, input, weight, bias, stride, padding,
                  output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """``conv_transpose3d`` accepting complex tensors."""
    return _route(_conv.conv_transpose3d, input, weight, bias, stride, padding,
                  output_padding, groups, dilation)
