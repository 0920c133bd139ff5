"""Fold an eval-mode batch norm into the convolution or linear layer before it: one layer
computes both, a standard inference speed-up (``torch.nn.utils.fusion``)."""
import copy

from ...autograd import grad_mode
from ..parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]


def _scale(bn_rv, bn_eps, bn_w):
    """``gamma / sqrt(var + eps)``, one factor per channel (gamma 1 without affine)."""
    inv_std = (bn_rv + bn_eps).rsqrt()
    return inv_std * (bn_w if bn_w is not None else 1.0)


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """``(w', b')`` with ``conv'(x) = bn(conv(x))`` in eval mode: the weight scaled per output
    channel (dim 0, or 1 for transposed convs), the bias shifted by the running mean."""
    with grad_mode.no_grad():
        scale = _scale(bn_rv, bn_eps, bn_w)
        if conv_b is None:
            conv_b = bn_rm * 0.0
        shape = [1] * conv_w.ndim
        shape[1 if transpose else 0] = -1
        w = conv_w * scale.reshape(shape).to(conv_w.dtype)
        b = (conv_b - bn_rm) * scale + (bn_b if bn_b is not None else 0.0)
    return (Parameter(w, conv_w.requires_grad), Parameter(b.to(conv_b.dtype),
                                                          conv_b.requires_grad))


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` computing ``bn(conv(x))`` (both must be in eval mode)."""
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias,
        transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """``(w', b')`` with ``linear'(x) = bn(linear(x))`` in eval mode."""
    with grad_mode.no_grad():
        scale = _scale(bn_rv, bn_eps, bn_w)
        if linear_b is None:
            linear_b = bn_rm * 0.0
        w = linear_w * scale.unsqueeze(-1)
        b = (linear_b - bn_rm) * scale + (bn_b if bn_b is not None else 0.0)
    return Parameter(w, linear_w.requires_grad), Parameter(b, linear_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` computing ``bn(linear(x))`` (both in eval mode)."""
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError("To fuse, linear.out_features must equal bn.num_features or "
                             "bn.num_features must equal 1")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused
