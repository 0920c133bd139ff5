"""fuse_modules: merge conv/linear with the BatchNorm and ReLU after them
(torch.ao.quantization.fuse_modules). In eval (post-training quantization) BatchNorm folds
into the conv's weight and bias; for QAT (``fuse_modules_qat``) it stays, in a fused module
that ``prepare_qat`` turns into a QAT ConvBn."""
import copy

from ...nn import Identity
from ...nn.activation import ReLU
from ...nn.conv import Conv1d, Conv2d
from ...nn.linear import Linear
from ...nn.normalization import BatchNorm1d, BatchNorm2d
from ...nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
from ..nn import intrinsic as nni

__all__ = ["fuse_modules", "fuse_modules_qat", "fuse_known_modules", "get_fuser_method",
           "fuse_conv_bn", "fuse_conv_bn_relu", "fuse_linear_bn"]


def fuse_conv_bn(is_qat, conv, bn):
    """Conv + BN: a ConvBn fused module for QAT, else the conv with BN folded in."""
    if conv.training != bn.training:
        raise ValueError("Conv and BN both must be in the same mode (train or eval).")
    if is_qat:
        if bn.num_features != conv.out_channels:
            raise ValueError("Output channel of Conv2d must match num_features of BatchNorm")
        cls = {Conv1d: nni.ConvBn1d, Conv2d: nni.ConvBn2d}.get(type(conv))
        if cls is None:
            raise NotImplementedError(f"Cannot fuse train modules: {(conv, bn)}")
        return cls(conv, bn)
    return fuse_conv_bn_eval(conv, bn)


def fuse_conv_bn_relu(is_qat, conv, bn, relu):
    """Conv + BN + ReLU: ConvBnReLU for QAT, else ConvReLU around the folded conv."""
    if conv.training != bn.training or bn.training != relu.training:
        raise ValueError("Conv and BN both must be in the same mode (train or eval).")
    if is_qat:
        cls = {Conv1d: nni.ConvBnReLU1d, Conv2d: nni.ConvBnReLU2d}.get(type(conv))
        if cls is None:
            raise NotImplementedError(f"Cannot fuse train modules: {(conv, bn, relu)}")
        return cls(conv, bn, relu)
    fused = fuse_conv_bn_eval(conv, bn)
    cls = {Conv1d: nni.ConvReLU1d, Conv2d: nni.ConvReLU2d}.get(type(conv))
    if cls is None:
        raise NotImplementedError(f"Cannot fuse eval modules: {(conv, bn, relu)}")
    return cls(fused, relu)


def fuse_linear_bn(is_qat, linear, bn):
    """Linear + BatchNorm1d: LinearBn1d for QAT, else the linear with BN folded in."""
    if linear.training != bn.training:
        raise ValueError("Linear and BN both must be in the same mode (train or eval).")
    if is_qat:
        return nni.LinearBn1d(linear, bn)
    return fuse_linear_bn_eval(linear, bn)


def _seq(cls):
    return lambda is_qat, *mods: cls(*mods)


_FUSERS = {
    (Conv1d, BatchNorm1d): fuse_conv_bn,
    (Conv1d, BatchNorm1d, ReLU): fuse_conv_bn_relu,
    (Conv2d, BatchNorm2d): fuse_conv_bn,
    (Conv2d, BatchNorm2d, ReLU): fuse_conv_bn_relu,
    (Conv1d, ReLU): _seq(nni.ConvReLU1d),
    (Conv2d, ReLU): _seq(nni.ConvReLU2d),
    (Linear, BatchNorm1d): fuse_linear_bn,
    (Linear, ReLU): _seq(nni.LinearReLU),
    (BatchNorm2d, ReLU): _seq(nni.BNReLU2d),
}


def get_fuser_method(op_list, additional_fuser_method_mapping=None):
    """The function fusing modules of these types (in this order)."""
    table = dict(_FUSERS)
    table.update(additional_fuser_method_mapping or {})
    fn = table.get(tuple(op_list))
    if fn is None:
        raise NotImplementedError(f"did not find fuser method for: {tuple(op_list)}")
    return fn


def fuse_known_modules(mod_list, is_qat, additional_fuser_method_mapping=None):
    """[fused, Identity, ...]: the fused module in the first slot, identities after."""
    types = tuple(type(m) for m in mod_list)
    fuser = get_fuser_method(types, additional_fuser_method_mapping)
    fused = fuser(is_qat, *mod_list)
    out = [fused] + [Identity() for _ in mod_list[1:]]
    for m in out[1:]:
        m.train(fused.training)
    return out


def _get(model, name):
    for part in name.split("."):
        model = getattr(model, part)
    return model


def _set(model, name, module):
    *parents, last = name.split(".")
    for part in parents:
        model = getattr(model, part)
    setattr(model, last, module)


def _fuse(model, modules_to_fuse, is_qat, inplace, fuser_func, fuse_custom_config_dict):
    if not inplace:
        model = copy.deepcopy(model)
    groups = modules_to_fuse
    if groups and all(isinstance(g, str) for g in groups):
        groups = [groups]
    extra = (fuse_custom_config_dict or {}).get("additional_fuser_method_mapping", {})
    for names in groups:
        mods = [_get(model, n) for n in names]
        fused = fuser_func(mods, is_qat, extra)
        for n, m in zip(names, fused):
            _set(model, n, m)
    return model


def fuse_modules(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules,
                 fuse_custom_config_dict=None):
    """Fuse each list of named submodules (conv-bn, conv-bn-relu, conv-relu, linear-relu,
    linear-bn, bn-relu) for post-training quantization; the model should be in eval."""
    return _fuse(model, modules_to_fuse, False, inplace, fuser_func, fuse_custom_config_dict)


def fuse_modules_qat(model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules,
                     fuse_custom_config_dict=None):
    """``fuse_modules`` for quantization-aware training (BatchNorm kept, model in train)."""
    return _fuse(model, modules_to_fuse, True, inplace, fuser_func, fuse_custom_config_dict)
