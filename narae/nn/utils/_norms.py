"""The maths weight and spectral normalization share between their hook form
(``nn.utils.weight_norm``) and their parametrization form (``nn.utils.parametrizations``)."""
from ...autograd import grad_mode
from ...ops.norm import normalize
from ...ops.linalg import mv

__all__ = ["norm_except_dim", "weight_norm_value", "weight_as_matrix", "power_iteration",
           "spectral_sigma"]


def norm_except_dim(v, dim):
    """The 2-norm of each slice along ``dim`` (shape 1 elsewhere); the whole tensor's norm
    for ``dim=-1`` — torch's convention for weight norm."""
    if dim == -1:
        return v.norm()
    dims = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(dims, keepdim=True).sqrt()


def weight_norm_value(g, v, dim):
    """``w = g * v / ||v||`` (Salimans & Kingma 2016): direction and length learned apart."""
    return v * (g / norm_except_dim(v, dim))


def weight_as_matrix(weight, dim):
    """``weight`` with ``dim`` moved first and the rest flattened: the matrix whose largest
    singular value spectral norm divides by."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.reshape(weight.shape[0], -1)


def power_iteration(matrix, u, v, iterations, eps, u_first=False):
    """``iterations`` steps of the power method, updating the unit vectors ``u``, ``v`` in
    place (they persist between calls, so one step per training step suffices). torch's
    hook form updates ``v`` then ``u``; its parametrization ``u`` then ``v``."""
    with grad_mode.no_grad():
        m = matrix.detach()
        for _ in range(iterations):
            if u_first:
                u._data[...] = normalize(mv(m, v), dim=0, eps=eps)._data
            v._data[...] = normalize(mv(m.t(), u), dim=0, eps=eps)._data
            if not u_first:
                u._data[...] = normalize(mv(m, v), dim=0, eps=eps)._data


def spectral_sigma(matrix, u, v):
    """The largest singular value estimate ``u^T W v``, differentiable in ``W``."""
    return (u.detach() * mv(matrix, v.detach())).sum()
