"""Lazy modules: shapes of parameters inferred from the first input (LazyLinear, LazyConv2d...).

A lazy module holds ``UninitializedParameter``/``UninitializedBuffer`` placeholders. Its first
call reads the missing size (in_features, in_channels, num_features) from the input,
materializes the placeholders in place, initialises them as the regular layer would, and
turns the module into that layer (``cls_to_become``: a LazyLinear becomes a Linear). Because
the placeholders are the same objects before and after, an optimizer built before the first
call keeps working; ``module.to(dtype/device)`` before it sets the placeholders' dtype and
device. ``load_state_dict`` materializes placeholders from the checkpoint's shapes.

A new lazy layer is one small class: the regular layer's constructor called with size 0,
placeholders assigned over its tensors, and ``initialize_parameters(input)``.
"""
from ..autograd import grad_mode
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d,
                            InstanceNorm2d, InstanceNorm3d)
from .parameter import UninitializedBuffer, UninitializedParameter, _Uninitialized

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _is_lazy(t):
    return isinstance(t, _Uninitialized)


class LazyModuleMixin:
    """Mixin (listed before the layer class) that infers the uninitialized shapes on the first
    call. Subclasses set ``cls_to_become`` and define ``initialize_parameters(*inputs)``."""
    cls_to_become = None

    def has_uninitialized_params(self):
        """Whether this module (not its children) still holds a placeholder."""
        return any(_is_lazy(t) for t in
                   list(self._parameters.values()) + list(self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _sync_sizes(self):
        """Set the inferred size attribute from materialized tensors (after a load)."""

    def __call__(self, *args, **kwargs):
        # after the first call the class is cls_to_become: this method is no longer reached
        lazy_class = type(self)
        self._infer_parameters(args, kwargs)
        if type(self) is not lazy_class:
            return type(self).__call__(self, *args, **kwargs)
        return super().__call__(*args, **kwargs)

    def _infer_parameters(self, args, kwargs):
        with grad_mode.no_grad():
            if self.has_uninitialized_params():
                self.initialize_parameters(*args, **kwargs)
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        self._sync_sizes()
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # placeholders are saved as they are (torch does the same): they have no data
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars or _is_lazy(p) else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars or _is_lazy(b) else b.detach()

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Placeholders take the checkpoint's shape first; a placeholder in the checkpoint
        (a lazy module saved before its first call) leaves ours as it is."""
        from .module import _as_array
        skipped = []
        for name, t in list(self._parameters.items()) + list(self._buffers.items()):
            key = prefix + name
            if t is None or key not in state_dict:
                continue
            value = state_dict[key]
            if _is_lazy(value):
                skipped.append(key)
            elif _is_lazy(t):
                with grad_mode.no_grad():
                    t.materialize(tuple(_as_array(value).shape))
        if skipped:
            state_dict = {k: v for k, v in state_dict.items() if k not in skipped}
        before = len(missing_keys)
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        missing_keys[before:] = [k for k in missing_keys[before:] if k not in skipped]


# --- linear ----------------------------------------------------------------------------------
class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features is the last dim of its first input."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        if input.ndim == 0:
            raise RuntimeError(f"{type(self).__name__}: cannot infer in_features from a 0-D "
                               f"input")
        self.in_features = input.shape[-1]
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()

    def _sync_sizes(self):
        self.in_features = self.weight.shape[1]


# --- convolutions ----------------------------------------------------------------------------
class _LazyConvMixin(LazyModuleMixin):
    def _placeholders(self, out_channels, bias, device, dtype):
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        n = self._n
        if input.ndim not in (n + 1, n + 2):
            raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: "
                               f"{tuple(input.shape)}")
        self.in_channels = input.shape[input.ndim - n - 1]
        if self.in_channels % self.groups != 0:
            raise ValueError(f"{type(self).__name__}: in_channels ({self.in_channels}, from "
                             f"input of shape {tuple(input.shape)}) must be divisible by "
                             f"groups ({self.groups})")
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, self.in_channels // self.groups)
        self.weight.materialize(shape + tuple(self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def _sync_sizes(self):
        w = self.weight.shape
        self.in_channels = w[0] if self.transposed else w[1] * self.groups


class LazyConv1d(_LazyConvMixin, Conv1d):
    """A Conv1d whose in_channels is read from its first input."""
    cls_to_become = Conv1d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode)
        self._placeholders(out_channels, bias, device, dtype)


class LazyConv2d(_LazyConvMixin, Conv2d):
    """A Conv2d whose in_channels is read from its first input."""
    cls_to_become = Conv2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode)
        self._placeholders(out_channels, bias, device, dtype)


class LazyConv3d(_LazyConvMixin, Conv3d):
    """A Conv3d whose in_channels is read from its first input."""
    cls_to_become = Conv3d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode)
        self._placeholders(out_channels, bias, device, dtype)


class LazyConvTranspose1d(_LazyConvMixin, ConvTranspose1d):
    """A ConvTranspose1d whose in_channels is read from its first input."""
    cls_to_become = ConvTranspose1d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode)
        self._placeholders(out_channels, bias, device, dtype)


class LazyConvTranspose2d(_LazyConvMixin, ConvTranspose2d):
    """A ConvTranspose2d whose in_channels is read from its first input."""
    cls_to_become = ConvTranspose2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode)
        self._placeholders(out_channels, bias, device, dtype)


class LazyConvTranspose3d(_LazyConvMixin, ConvTranspose3d):
    """A ConvTranspose3d whose in_channels is read from its first input."""
    cls_to_become = ConvTranspose3d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode)
        self._placeholders(out_channels, bias, device, dtype)


# --- normalization ---------------------------------------------------------------------------
class _LazyNormMixin(LazyModuleMixin):
    _channel_dim = 1  # batch norms: dim 1; instance norms: dim -n-1 (they accept unbatched)

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, False, False, bias=bias)
        self.affine = affine
        self.track_running_stats = track_running_stats
        kw = dict(device=device, dtype=dtype)
        if affine:
            self.weight = UninitializedParameter(**kw)
            if bias:
                self.bias = UninitializedParameter(**kw)
        if track_running_stats:
            from .. import creation
            self.running_mean = UninitializedBuffer(**kw)
            self.running_var = UninitializedBuffer(**kw)
            self.num_batches_tracked = creation.tensor(0, dtype="int64", device=device)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def _channels(self, input):
        if input.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected at least 2D input to infer "
                             f"num_features, got shape {tuple(input.shape)}")
        return input.shape[self._channel_dim]

    def initialize_parameters(self, input):
        self.num_features = self._channels(input)
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(self, name)
            if t is not None and _is_lazy(t):
                t.materialize((self.num_features,))
        self.reset_parameters()

    def _sync_sizes(self):
        for name in ("weight", "running_mean"):
            t = getattr(self, name)
            if t is not None:
                self.num_features = t.shape[0]
                return


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    """A BatchNorm1d whose num_features is read from dim 1 of its first input."""
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    """A BatchNorm2d whose num_features is read from dim 1 of its first input."""
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormMixin, BatchNorm3d):
    """A BatchNorm3d whose num_features is read from dim 1 of its first input."""
    cls_to_become = BatchNorm3d


class _LazyInstanceNormMixin(_LazyNormMixin):
    def _channels(self, input):
        n = self._n
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(f"{type(self).__name__}: expected {n + 1}D or {n + 2}D input, got "
                             f"shape {tuple(input.shape)}")
        return input.shape[input.ndim - n - 1]


class LazyInstanceNorm1d(_LazyInstanceNormMixin, InstanceNorm1d):
    """An InstanceNorm1d whose num_features is read from its first input."""
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNormMixin, InstanceNorm2d):
    """An InstanceNorm2d whose num_features is read from its first input."""
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNormMixin, InstanceNorm3d):
    """An InstanceNorm3d whose num_features is read from its first input."""
    cls_to_become = InstanceNorm3d
