"""Flatten parameters into one vector and back (for line searches, second-order methods)."""
from ...backend import get_array_module
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(params):
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise TypeError(f"Found parameters on different devices: {sorted(map(str, devices))}")


def parameters_to_vector(parameters):
    """One 1-D tensor holding every parameter, flattened, in order.

    Built with ``narae.cat`` when it exists (then differentiable, as torch's); otherwise the
    vector is a fresh array outside the graph.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    _check_same_device(params)
    import narae
    if hasattr(narae, "cat"):
        return narae.cat([p.reshape(-1) for p in params])
    if not params:
        raise RuntimeError("parameters_to_vector: got no parameters")
    xp = get_array_module(params[0]._data)
    return Tensor(xp.concatenate([p._data.reshape(-1) for p in params]))


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters, in place.

    (torch re-points ``param.data`` at views of ``vec``; copying keeps each parameter's own
    array, so optimizers and aliases keep seeing it, and ``vec`` stays independent.)
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a narae Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape "
                         f"{tuple(vec.shape)}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    _check_same_device(params)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(f"vector_to_parameters: vector of {vec.numel()} elements for "
                         f"parameters with {total} elements")
    offset = 0
    flat = vec._data
    for p in params:
        n = p.numel()
        p._data[...] = flat[offset:offset + n].reshape(p.shape).astype(p._data.dtype,
                                                                        copy=False)
        p._version[0] += 1
        offset += n
