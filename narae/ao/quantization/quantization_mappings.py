"""Which float module becomes which quantized / QAT module (torch's default mappings, plus
narae's pass-through entries for layers torch runs on quantized tensors natively: ReLU,
max pooling, Flatten, Sigmoid with its fixed qparams)."""
from ... import nn
from ..nn import intrinsic as nni, qat as nnqat, quantized as nnq
from ..nn.intrinsic import qat as nniqat, quantized as nniq
from ..nn.quantized import dynamic as nnqd
from .stubs import QuantStub, DeQuantStub

__all__ = ["DEFAULT_STATIC_QUANT_MODULE_MAPPINGS", "DEFAULT_QAT_MODULE_MAPPINGS",
           "DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS", "get_default_static_quant_module_mappings",
           "get_default_qat_module_mappings", "get_default_dynamic_quant_module_mappings",
           "get_default_qconfig_propagation_list", "no_observer_set",
           "get_static_quant_module_class", "get_dynamic_quant_module_class"]

DEFAULT_STATIC_QUANT_MODULE_MAPPINGS = {
    QuantStub: nnq.Quantize,
    DeQuantStub: nnq.DeQuantize,
    nn.Linear: nnq.Linear,
    nn.Conv1d: nnq.Conv1d,
    nn.Conv2d: nnq.Conv2d,
    nn.ReLU6: nnq.ReLU6,
    nn.Hardswish: nnq.Hardswish,
    nn.LeakyReLU: nnq.LeakyReLU,
    nn.ELU: nnq.ELU,
    nn.Dropout: nnq.Dropout,
    nn.BatchNorm2d: nnq.BatchNorm2d,
    nn.LayerNorm: nnq.LayerNorm,
    nni.LinearReLU: nniq.LinearReLU,
    nni.ConvReLU1d: nniq.ConvReLU1d,
    nni.ConvReLU2d: nniq.ConvReLU2d,
    nnqat.Linear: nnq.Linear,
    nnqat.Conv1d: nnq.Conv1d,
    nnqat.Conv2d: nnq.Conv2d,
    nniqat.LinearReLU: nniq.LinearReLU,
    nniqat.ConvReLU1d: nniq.ConvReLU1d,
    nniqat.ConvReLU2d: nniq.ConvReLU2d,
    nniqat.ConvBn2d: nnq.Conv2d,
    nniqat.ConvBnReLU2d: nniq.ConvReLU2d,
    nnq.FloatFunctional: nnq.QFunctional,
}

# layers narae runs on the integers of a quantized tensor (same qparams out as in)
_PASS_THROUGH = {
    nn.ReLU: nnq.ReLU,
    nn.MaxPool1d: nnq.MaxPool1d,
    nn.MaxPool2d: nnq.MaxPool2d,
    nn.Flatten: nnq.QuantizedPassThrough,
    nn.Sigmoid: nnq.Sigmoid,
}

DEFAULT_QAT_MODULE_MAPPINGS = {
    nn.Linear: nnqat.Linear,
    nn.Conv1d: nnqat.Conv1d,
    nn.Conv2d: nnqat.Conv2d,
    nni.LinearReLU: nniqat.LinearReLU,
    nni.ConvReLU1d: nniqat.ConvReLU1d,
    nni.ConvReLU2d: nniqat.ConvReLU2d,
    nni.ConvBn2d: nniqat.ConvBn2d,
    nni.ConvBnReLU2d: nniqat.ConvBnReLU2d,
}

DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {
    nn.Linear: nnqd.Linear,
}

# modules that get no output observer even with a qconfig
no_observer_set = {nn.ReLU, nn.MaxPool1d, nn.MaxPool2d, nn.Flatten, nn.Identity, nn.Sigmoid,
                   DeQuantStub}


def get_default_static_quant_module_mappings():
    """float/QAT/fused module type -> quantized module type (a copy)."""
    table = dict(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)
    table.update(_PASS_THROUGH)
    return table


def get_default_qat_module_mappings():
    return dict(DEFAULT_QAT_MODULE_MAPPINGS)


def get_default_dynamic_quant_module_mappings():
    return dict(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)


def get_default_qconfig_propagation_list():
    """Module types that receive a qconfig (and so observers / swaps)."""
    return set(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS) | set(DEFAULT_QAT_MODULE_MAPPINGS) | \
        set(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS) | set(_PASS_THROUGH) | {nn.Sequential}


def get_static_quant_module_class(float_module_class, additional_static_quant_mapping=None,
                                  is_reference=False):
    table = get_default_static_quant_module_mappings()
    table.update(additional_static_quant_mapping or {})
    cls = table.get(float_module_class)
    if cls is None:
        raise KeyError(f"Floating point module class {float_module_class} does not have a "
                       "corresponding quantized module class")
    return cls


def get_dynamic_quant_module_class(float_module_class, additional_dynamic_quant_mapping=None):
    table = get_default_dynamic_quant_module_mappings()
    table.update(additional_dynamic_quant_mapping or {})
    cls = table.get(float_module_class)
    if cls is None:
        raise KeyError(f"Floating point module class {float_module_class} does not have a "
                       "corresponding quantized module class")
    return cls
