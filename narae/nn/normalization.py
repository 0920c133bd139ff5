"""Normalisation layers: ``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, ``InstanceNorm1d/2d/3d``,
``LayerNorm``, ``GroupNorm``, ``RMSNorm``, ``LocalResponseNorm``, ``CrossMapLRN2d`` (torch's
parameters, buffers and update rule for the running statistics)."""
import numpy as np

from .. import creation
from ..autograd import no_grad
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm",
           "LocalResponseNorm", "CrossMapLRN2d"]


def _affine_parameters(module, shape, affine, bias, device, dtype):
    """``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None where switched off."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    module.weight = Parameter(creation.ones(*shape, device=device, dtype=dtype)) \
        if affine else None
    module.bias = Parameter(creation.zeros(*shape, device=device, dtype=dtype)) \
        if affine and bias else None


class _NormBase(Module):
    """weight/bias (affine) and running_mean/running_var/num_batches_tracked buffers."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, num_features, affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean",
                                 creation.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var",
                                 creation.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked",
                                 creation.tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # checkpoints from before num_batches_tracked existed: start the count at 0
        key = prefix + "num_batches_tracked"
        if self.num_batches_tracked is not None and key not in state_dict and \
                (prefix + "running_mean") in state_dict:
            state_dict = dict(state_dict)
            state_dict[key] = np.array(0, np.int64)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _dims = ()

    def _check_input_dim(self, input):
        if input.ndim not in self._dims:
            names = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{self!r}: expected {names} input (got {input.ndim}D input of "
                             f"shape {tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise self._shape_error(input, f"{self.num_features} channels in dim 1")

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1  # a counter, not part of any graph
            self.num_batches_tracked._version[0] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch_stats = self.training or (self.running_mean is None and
                                            self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs, per channel C."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs, per channel C."""
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over (N, C, D, H, W) inputs, per channel C."""
    _dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose batch statistics are those of every rank's batch together.

    In training, when ``narae.distributed`` is initialised and the group (``process_group``,
    default the world) has more than one rank, mean and variance come from all-reduced
    per-channel sums (mean = sum(x)/n, then var = sum((x - mean)^2)/n, two differentiable
    all-reduces, so backward all-reduces their gradients too). Otherwise it is BatchNorm over
    any (N, C, *) input.
    """

    def _sync_group(self):
        if not self.training:
            return None
        import sys
        dist = sys.modules.get("narae.distributed")  # never initialised if never imported
        if dist is None or not dist.is_initialized():
            return None
        pg = dist.distributed_c10d._resolve(self.process_group, "SyncBatchNorm")
        return pg if pg is not None and pg.size() > 1 else None

    def forward(self, input):
        self._check_input_dim(input)
        pg = self._sync_group()
        if pg is None:
            return super().forward(input)
        from ..distributed.nn.functional import all_reduce
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._version[0] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        dims = (0,) + tuple(range(2, input.ndim))
        bshape = (1, -1) + (1,) * (input.ndim - 2)
        count = creation.tensor([float(input.numel() // input.shape[1])], dtype=input.dtype,
                                device=input.device)
        from ..ops.shape import cat
        sums = all_reduce(cat([input.sum(dim=dims), count]), group=pg)
        n = float(sums[-1].item())
        if n <= 1:
            raise ValueError(f"{self!r}: Expected more than 1 value per channel when training "
                             f"(got input of shape {tuple(input.shape)} over all ranks)")
        mean = sums[:-1] / n
        centered = input - mean.reshape(bshape)
        var = all_reduce((centered * centered).sum(dim=dims), group=pg) / n
        out = centered * (var + self.eps).rsqrt().reshape(bshape)
        if self.weight is not None:
            out = out * self.weight.reshape(bshape)
        if self.bias is not None:
            out = out + self.bias.reshape(bshape)
        if self.track_running_stats and self.running_mean is not None:
            with no_grad():
                rm, rv = self.running_mean, self.running_var
                rm._data[...] = (1 - factor) * rm._data + factor * mean._data
                rv._data[...] = (1 - factor) * rv._data + factor * var._data * (n / (n - 1))
                rm._version[0] += 1
                rv._version[0] += 1
        return out

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"{self!r}: expected at least 2D input (got {input.ndim}D input of "
                             f"shape {tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise self._shape_error(input, f"{self.num_features} channels in dim 1")

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d inside replaced by a SyncBatchNorm sharing its
        parameters and buffers (returns the new module when ``module`` itself is one)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return out


class _InstanceNorm(_NormBase):
    _n = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, input):
        n = self._n
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(f"{self!r}: expected {n + 1}D or {n + 2}D input (got "
                             f"{input.ndim}D input)")
        if input.shape[-n - 1] != self.num_features and self.affine:
            raise self._shape_error(input, f"{self.num_features} channels in dim {-n - 1}")
        unbatched = input.ndim == n + 1
        if unbatched:
            input = input.reshape((1,) + tuple(input.shape))
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                              self.bias, self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.reshape(tuple(out.shape[1:])) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    _n = 1


class InstanceNorm2d(_InstanceNorm):
    _n = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation over (N, C, D, H, W) or (C, D, H, W) inputs."""
    _n = 3


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` dims; weight ones, bias zeros."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, device, dtype)

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        k = len(self.normalized_shape)
        if tuple(input.shape[input.ndim - k:]) != self.normalized_shape or input.ndim < k:
            raise self._shape_error(input, f"(*, {', '.join(map(str, self.normalized_shape))})")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise each of ``num_groups`` channel groups (per sample); per-channel affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, num_channels, affine, bias, device, dtype)

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise self._shape_error(input, f"(N, {self.num_channels}, *)")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last dims (torch.nn.RMSNorm)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.ones(*self.normalized_shape, device=device,
                                                  dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, input):
        k = len(self.normalized_shape)
        if tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise self._shape_error(input, f"(*, {', '.join(map(str, self.normalized_shape))})")
        if hasattr(F, "rms_norm"):
            return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)
        dims = tuple(range(input.ndim - k, input.ndim))
        eps = self.eps if self.eps is not None else float(np.finfo(input._data.dtype).eps)
        y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
        return y if self.weight is None else y * self.weight

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")



class LocalResponseNorm(Module):
    """x / (k + alpha/size * sum of x^2 over ``size`` neighbouring channels) ** beta."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(Module):
    """Lua Torch's SpatialCrossMapLRN on (N, C, H, W) inputs:
    y = x * (k + alpha/size * sum_window(c) x^2) ** -beta.

    The window of channel c is torch's running window: channels c - p + 1 .. c + p - 1 with
    p = (size - 1) // 2 + 1, cropped to [0, C), plus channel 0 always (torch's running sum
    never drops it). It is applied as a constant (C, C) 0/1 matrix. The gradient is the exact
    derivative of this forward (torch's hand-written backward assumes a symmetric window).
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        from ..backend import get_array_module
        from ..backend.constants import cached_constant
        from ..tensor import Tensor
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D "
                             f"instead (input of shape {tuple(input.shape)})")
        n, c, h, w = input.shape
        xp = get_array_module(input._data)
        dtype = input._data.dtype
        window = Tensor(cached_constant(xp, ("cross_map_lrn2d", c, self.size, dtype.str),
                                        lambda: _cross_map_window(c, self.size).astype(dtype)))
        sq = (input * input).reshape(n, c, h * w)
        scale = (window @ sq).reshape(n, c, h, w) * (self.alpha / self.size) + self.k
        return input * scale ** -self.beta

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _cross_map_window(c, size):
    """M[i, j] = 1 when channel j is in channel i's CrossMapLRN2d window."""
    p = int((size - 1) / 2 + 1)
    i = np.arange(c)[:, None]
    j = np.arange(c)[None, :]
    return ((j == 0) | ((j >= i - p + 1) & (j <= i + p - 1))).astype(np.float64)
