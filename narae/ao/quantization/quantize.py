"""Eager-mode quantization workflow (torch.ao.quantization.quantize):

    model.qconfig = get_default_qconfig("x86")
    prepared = prepare(model)        # observers after each quantizable layer
    for x in calibration_data: prepared(x)
    qmodel = convert(prepared)       # float layers -> integer layers

``prepare_qat`` swaps in fake-quantized training layers instead; ``quantize_dynamic``
quantizes Linear weights ahead of time and activations on the fly.
"""
import copy
import inspect
import warnings

from ... import nn
from ..._dtype import qint8
from ..nn.intrinsic import _FusedModule
from ..nn.quantized import FloatFunctional, FXFloatFunctional
from .fake_quantize import FakeQuantizeBase
from .observer import ObserverBase
from .qconfig import default_dynamic_qconfig
from .quantization_mappings import (get_default_static_quant_module_mappings,
                                    get_default_qat_module_mappings,
                                    get_default_dynamic_quant_module_mappings,
                                    get_default_qconfig_propagation_list, no_observer_set)
from .stubs import DeQuantStub, QuantWrapper

__all__ = ["propagate_qconfig_", "add_quant_dequant", "prepare", "prepare_qat", "convert",
           "quantize", "quantize_qat", "quantize_dynamic", "swap_module"]


def _is_activation_post_process(m):
    return isinstance(m, (ObserverBase, FakeQuantizeBase))


def _propagate(module, qconfig_dict, parent, prefix):
    qconfig = qconfig_dict.get(type(module), parent)
    qconfig = qconfig_dict.get(prefix, qconfig)
    qconfig = getattr(module, "qconfig", qconfig)
    module.qconfig = qconfig
    for name, child in module.named_children():
        _propagate(child, qconfig_dict, qconfig, f"{prefix}.{name}" if prefix else name)


def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None):
    """Give every submodule a ``qconfig``: its own, else the one ``qconfig_dict`` names for its
    type or qualified name, else its parent's (in place)."""
    _propagate(module, qconfig_dict or {}, None, "")


def _observer_forward_hook(self, input, output):
    """Forward hook: observe (or fake-quantize) a module's output."""
    return self.activation_post_process(output)


def _needs_observation(m):
    return getattr(m, "qconfig", None) is not None


def _insert_observer(m):
    if _needs_observation(m) and not isinstance(m, DeQuantStub) and \
            type(m) not in no_observer_set:
        m.add_module("activation_post_process", m.qconfig.activation())
        m.register_forward_hook(_observer_forward_hook, prepend=True)


def _add_observer_(module, propagation_list, non_leaf_module_list):
    for child in module.children():
        if type(child) in (FloatFunctional, FXFloatFunctional):
            if _needs_observation(child):
                child.activation_post_process = child.qconfig.activation()
        elif isinstance(child, _FusedModule) or (
                non_leaf_module_list is not None and type(child) in non_leaf_module_list):
            _insert_observer(child)
        else:
            _add_observer_(child, propagation_list, non_leaf_module_list)
    if not any(True for _ in module.children()) and not isinstance(module, nn.Sequential) \
            and type(module) in propagation_list:
        _insert_observer(module)


def prepare(model, inplace=False, allow_list=None, observer_non_leaf_module_list=None,
            prepare_custom_config_dict=None):
    """Attach an observer (``activation_post_process``) to the output of each quantizable
    layer that has a qconfig; run calibration data through the result, then ``convert``."""
    if not inplace:
        model = copy.deepcopy(model)
    propagation_list = allow_list or get_default_qconfig_propagation_list()
    propagate_qconfig_(model)
    if not any(_needs_observation(m) for m in model.modules()):
        warnings.warn("None of the submodule got qconfig applied. Make sure you passed correct "
                      "configuration through `qconfig_dict` or by assigning the `.qconfig` "
                      "attribute directly on submodules", stacklevel=2)
    _add_observer_(model, propagation_list, observer_non_leaf_module_list)
    return model


def prepare_qat(model, mapping=None, inplace=False):
    """Swap layers for their quantization-aware-training versions (fake-quantized weights)
    and fake-quantize their outputs; the model must be in training mode."""
    if not model.training:
        raise RuntimeError("prepare_qat only works on models in training mode (call "
                           "model.train())")
    mapping = get_default_qat_module_mappings() if mapping is None else mapping
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    convert(model, mapping=mapping, inplace=True, remove_qconfig=False)
    prepare(model, observer_non_leaf_module_list=set(mapping.values()), inplace=True)
    return model


def swap_module(mod, mapping, custom_module_class_mapping=None,
                use_precomputed_fake_quant=False):
    """``mapping[type(mod)].from_float(mod)`` when mod has a qconfig (hooks other than the
    observer's are carried over), else ``mod``."""
    if getattr(mod, "qconfig", None) is None or type(mod) not in mapping:
        return mod
    qmod = mapping[type(mod)]
    if "use_precomputed_fake_quant" in inspect.signature(qmod.from_float).parameters:
        new = qmod.from_float(mod, use_precomputed_fake_quant=use_precomputed_fake_quant)
    else:
        new = qmod.from_float(mod)
    for hook in mod._forward_pre_hooks.values():
        new.register_forward_pre_hook(hook)
    for hook in mod._forward_hooks.values():
        if hook is not _observer_forward_hook:
            new.register_forward_hook(hook)
    new.train(mod.training)
    return new


def _convert(module, mapping, use_precomputed_fake_quant):
    swaps = {}
    for name, child in module.named_children():
        # fused and QAT modules are swapped whole (torch's QAT ConvBn is a fused module)
        if not isinstance(child, _FusedModule) and not hasattr(child, "weight_fake_quant"):
            _convert(child, mapping, use_precomputed_fake_quant)
        swaps[name] = swap_module(child, mapping, None, use_precomputed_fake_quant)
    for name, new in swaps.items():
        module._modules[name] = new


def _remove_qconfig(module):
    for child in module.children():
        _remove_qconfig(child)
    if "qconfig" in module.__dict__:
        del module.qconfig
    app = module._modules.get("activation_post_process")
    if app is not None and _is_activation_post_process(app):
        del module._modules["activation_post_process"]
        for hid, hook in list(module._forward_hooks.items()):
            if hook is _observer_forward_hook:
                del module._forward_hooks[hid]


def convert(module, mapping=None, inplace=False, remove_qconfig=True, is_reference=False,
            convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    """Replace each observed (or QAT) layer by its quantized module, built from the qparams
    its observers recorded; observers and qconfigs are removed."""
    if is_reference:
        raise NotImplementedError("convert(is_reference=True): narae has no reference "
                                  "quantized modules")
    mapping = get_default_static_quant_module_mappings() if mapping is None else mapping
    if not inplace:
        module = copy.deepcopy(module)
    _convert(module, mapping, use_precomputed_fake_quant)
    if remove_qconfig:
        _remove_qconfig(module)
    return module


def quantize(model, run_fn, run_args, mapping=None, inplace=False):
    """Post-training static quantization in one call: prepare, ``run_fn(model, *run_args)``
    to calibrate, convert."""
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    prepare(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, mapping, inplace=True)
    return model


def quantize_qat(model, run_fn, run_args, inplace=False):
    """Quantization-aware training in one call: prepare_qat, ``run_fn`` (training), convert."""
    if not inplace:
        model = copy.deepcopy(model)
    model.train()
    prepare_qat(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, inplace=True)
    return model


def quantize_dynamic(model, qconfig_spec=None, dtype=qint8, mapping=None, inplace=False):
    """Dynamic quantization: the layers named by ``qconfig_spec`` (a set of types or names,
    or a dict to qconfigs; default: every nn.Linear) get int8 weights now and quantize their
    input per call."""
    model.eval()
    if dtype is not qint8:
        raise NotImplementedError(f"quantize_dynamic: narae supports dtype=narae.qint8 only, "
                                  f"got {dtype}")
    if qconfig_spec is None:
        qconfig_spec = {nn.Linear: default_dynamic_qconfig}
    elif isinstance(qconfig_spec, (set, list, tuple)):
        qconfig_spec = dict.fromkeys(qconfig_spec, default_dynamic_qconfig)
    mapping = get_default_dynamic_quant_module_mappings() if mapping is None else mapping
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model, qconfig_spec)
    convert(model, mapping, inplace=True)
    return model


def add_quant_dequant(module):
    """Wrap each leaf module that has a qconfig in a QuantWrapper (quantize its input,
    dequantize its output)."""
    if not any(True for _ in module.children()) and _needs_observation(module):
        return QuantWrapper(module)
    for name, child in module.named_children():
        module._modules[name] = add_quant_dequant(child)
    return module


