"""``mlp``: a multilayer perceptron builder, the baseline model of most experiments.

``mlp([64, 128, 128, 10])`` is Linear(64,128) -> ReLU -> Linear(128,128) -> ReLU ->
Linear(128,10) in one ``nn.Sequential``: options insert BatchNorm1d before and Dropout after
each hidden activation, and choose the weight initialisation.
"""
import math

from .. import nn

__all__ = ["mlp", "ACTIVATIONS", "init_linear_"]

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
               "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "selu": nn.SELU, "silu": nn.SiLU,
               "identity": nn.Identity}


def init_linear_(layer, scheme):
    """Re-initialise a Linear layer's weight (bias to 0) by ``scheme``:

    ``"default"`` torch's U(+-1/sqrt(fan_in)) (left as is); ``"he"``/``"kaiming"`` He normal
    (variance 2/fan_in: keeps ReLU activations' scale); ``"xavier"``/``"glorot"`` Glorot
    uniform (variance 2/(fan_in+fan_out): for tanh/sigmoid); ``"lecun"`` variance 1/fan_in;
    ``("normal", std)`` N(0, std^2); a callable ``f(weight)`` fills the weight itself.
    """
    w = layer.weight
    if scheme in (None, "default"):
        return layer
    if callable(scheme):
        scheme(w)
    elif scheme in ("he", "kaiming"):
        nn.init.kaiming_normal_(w, nonlinearity="relu")
    elif scheme in ("xavier", "glorot"):
        nn.init.xavier_uniform_(w)
    elif scheme == "lecun":
        nn.init.normal_(w, 0.0, 1.0 / math.sqrt(w.shape[1]))
    elif isinstance(scheme, tuple) and scheme[0] == "normal":
        nn.init.normal_(w, 0.0, float(scheme[1]))
    else:
        raise ValueError(f"mlp: unknown init {scheme!r} (use 'default', 'he', 'xavier', "
                         "'lecun', ('normal', std) or a callable)")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def mlp(sizes, activation="relu", dropout=0.0, batch_norm=False, init="default",
        flatten=False, bias=True):
    """An ``nn.Sequential`` MLP with layer widths ``sizes`` = [in, hidden..., out].

    Each hidden layer is Linear [-> BatchNorm1d] -> activation [-> Dropout(dropout)]; the
    last Linear has no activation (logits). ``activation`` is a name from ``ACTIVATIONS`` or a
    Module class; ``flatten`` prepends nn.Flatten (for image inputs). ``init`` is one of
    ``init_linear_``'s schemes, applied to every Linear.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs at least [in, out], got {sizes}")
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"mlp: unknown activation {activation!r}; one of "
                             f"{sorted(ACTIVATIONS)}")
        act = ACTIVATIONS[activation]
    else:
        act = activation
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"mlp: dropout must be in [0, 1), got {dropout}")
    layers = [nn.Flatten()] if flatten else []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        linear = nn.Linear(n_in, n_out, bias=bias)
        init_linear_(linear, init)
        layers.append(linear)
        if last:
            break
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(act())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
