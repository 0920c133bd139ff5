"""QConfig: which observer (or fake-quantize) factories to attach to a module's activation
output and to its weight (torch.ao.quantization.qconfig), and the defaults per backend."""
from collections import namedtuple

from ... import _dtype
from ..._dtype import qint8
from ...nn.module import Module
from .fake_quantize import (FakeQuantize, FusedMovingAvgObsFakeQuantize, default_fake_quant,
                            default_weight_fake_quant, default_dynamic_fake_quant,
                            default_per_channel_weight_fake_quant, default_fused_act_fake_quant,
                            default_fused_wt_fake_quant, default_fused_per_channel_wt_fake_quant,
                            default_embedding_fake_quant)
from .observer import (HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver,
                       NoopObserver, PlaceholderObserver,
                       default_observer, default_weight_observer, default_debug_observer,
                       default_per_channel_weight_observer, default_dynamic_quant_observer,
                       default_float_qparams_observer, default_placeholder_observer,
                       weight_observer_range_neg_127_to_127,
                       per_channel_weight_observer_range_neg_127_to_127)

__all__ = ["QConfig", "QConfigDynamic", "default_qconfig", "default_debug_qconfig",
           "default_per_channel_qconfig", "default_dynamic_qconfig", "float16_dynamic_qconfig",
           "float16_static_qconfig", "per_channel_dynamic_qconfig",
           "float_qparams_weight_only_qconfig", "default_qat_qconfig",
           "default_dynamic_qat_qconfig", "default_weight_only_qconfig",
           "default_activation_only_qconfig", "default_qat_qconfig_v2",
           "default_symmetric_qnnpack_qconfig", "default_per_channel_symmetric_qnnpack_qconfig",
           "default_embedding_qat_qconfig", "default_quint8_weight_qconfig",
           "get_default_qconfig", "get_default_qat_qconfig", "qconfig_equals"]

_BACKENDS = ["fbgemm", "x86", "qnnpack", "onednn"]


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """(activation, weight): factories (classes or ``Observer.with_args(...)``), not
    instances, so each module gets observers of its own."""
    __slots__ = ()

    def __new__(cls, activation, weight):
        if isinstance(activation, Module) or isinstance(weight, Module):
            raise ValueError("QConfig received observer instance, please pass observer class "
                             "instead. Use MyObserver.with_args(x=1) to override arguments to "
                             "constructor if needed")
        return super().__new__(cls, activation, weight)


QConfigDynamic = QConfig


def _identity_factory():
    from ...nn import Identity
    return Identity


default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_debug_qconfig = QConfig(weight=default_weight_observer,
                                activation=default_debug_observer)
default_per_channel_qconfig = QConfig(activation=default_observer,
                                      weight=default_per_channel_weight_observer)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                  weight=default_weight_observer)
float16_dynamic_qconfig = QConfig(
    activation=PlaceholderObserver.with_args(dtype=_dtype.float16, is_dynamic=True),
    weight=PlaceholderObserver.with_args(dtype=_dtype.float16))
float16_static_qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=_dtype.float16),
                                 weight=PlaceholderObserver.with_args(dtype=_dtype.float16))
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)
float_qparams_weight_only_qconfig = QConfig(activation=default_placeholder_observer,
                                            weight=default_float_qparams_observer)
default_qat_qconfig = QConfig(activation=default_fake_quant, weight=default_weight_fake_quant)
default_dynamic_qat_qconfig = QConfig(activation=default_dynamic_fake_quant,
                                      weight=default_weight_fake_quant)
default_weight_only_qconfig = QConfig(activation=_identity_factory(),
                                      weight=default_weight_fake_quant)
default_activation_only_qconfig = QConfig(activation=default_fake_quant,
                                          weight=_identity_factory())
default_qat_qconfig_v2 = QConfig(activation=default_fused_act_fake_quant,
                                 weight=default_fused_wt_fake_quant)
default_symmetric_qnnpack_qconfig = QConfig(
    activation=HistogramObserver.with_args(dtype=qint8, reduce_range=False, eps=2 ** -12),
    weight=weight_observer_range_neg_127_to_127)
default_per_channel_symmetric_qnnpack_qconfig = QConfig(
    activation=HistogramObserver.with_args(dtype=qint8, reduce_range=False, eps=2 ** -12),
    weight=per_channel_weight_observer_range_neg_127_to_127)
default_embedding_qat_qconfig = QConfig(activation=NoopObserver.with_args(dtype=_dtype.float32),
                                        weight=default_embedding_fake_quant)
default_quint8_weight_qconfig = QConfig(activation=HistogramObserver, weight=MinMaxObserver)


def _check_backend(backend):
    if backend not in _BACKENDS:
        raise ValueError(f"backend: {backend} not supported. backend must be one of "
                         f"{_BACKENDS}")


def get_default_qconfig(backend="x86", version=0):
    """The post-training static quantization qconfig for ``backend``: a histogram observer
    for activations (7-bit range on x86/fbgemm, whose kernels can overflow with 8 bits) and
    symmetric int8 weights (per channel except on qnnpack)."""
    _check_backend(backend)
    if version != 0:
        raise ValueError(f"Version number: {version} in get_default_qconfig is not supported. "
                         "Version number must be 0")
    if backend == "qnnpack":
        return QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                       weight=default_weight_observer)
    if backend == "onednn":
        return QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                       weight=default_per_channel_weight_observer)
    return QConfig(activation=HistogramObserver.with_args(reduce_range=True),
                   weight=default_per_channel_weight_observer)


def get_default_qat_qconfig(backend="x86", version=1):
    """The quantization-aware training qconfig for ``backend`` (fake-quantize modules with
    moving-average observers; version 1 uses the fused kind)."""
    _check_backend(backend)
    reduce = backend in ("x86", "fbgemm")
    if version == 0:
        act = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                     quant_max=255, **({} if backend == "onednn" else
                                                       {"reduce_range": reduce}))
        weight = default_weight_fake_quant if backend == "qnnpack" else \
            default_per_channel_weight_fake_quant
        return QConfig(activation=act, weight=weight)
    if version != 1:
        raise ValueError(f"Version number: {version} in get_default_qat_qconfig is not "
                         "supported. Version number must be 0 or 1")
    act = FusedMovingAvgObsFakeQuantize.with_args(
        observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
        **({} if backend == "onednn" else {"reduce_range": reduce}))
    weight = default_fused_wt_fake_quant if backend == "qnnpack" else \
        default_fused_per_channel_wt_fake_quant
    return QConfig(activation=act, weight=weight)


def _factory_equals(a, b):
    if hasattr(a, "func") and hasattr(b, "func"):
        return a.func == b.func and a.args == b.args and a.keywords == b.keywords
    return a == b


def qconfig_equals(q1, q2):
    """Whether two qconfigs make the same observers."""
    if q1 is None or q2 is None:
        return q1 == q2
    return _factory_equals(q1.activation, q2.activation) and \
        _factory_equals(q1.weight, q2.weight)
