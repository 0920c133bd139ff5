"""Module API: registration, traversal, modes, state_dict, device/dtype moves, hooks, repr."""
import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn


class Net(nn.Module):
    def __init__(self, lib=nn):
        super().__init__()
        self.fc1 = lib.Linear(3, 4)
        self.block = lib.Sequential(lib.Linear(4, 4), lib.ReLU())
        self.fc2 = lib.Linear(4, 2)
        self.scale = lib.Parameter(nr.ones(2) if lib is nn else torch.ones(2))
        self.register_buffer("steps", nr.zeros(1) if lib is nn else torch.zeros(1))
        self.register_buffer("tmp", nr.zeros(2) if lib is nn else torch.zeros(2),
                             persistent=False)

    def forward(self, x):
        return self.fc2(self.block(self.fc1(x))) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.block = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
        self.fc2 = torch.nn.Linear(4, 2)
        self.scale = torch.nn.Parameter(torch.ones(2))
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("tmp", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.block(self.fc1(x))) * self.scale


def test_parameter_is_tensor_and_repr():
    p = nn.Parameter(nr.zeros(2, 3))
    assert isinstance(p, nr.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert nn.Parameter(nr.zeros(2), requires_grad=False).requires_grad is False
    assert nn.Parameter().shape == (0,)
    t = nr.zeros(3)
    assert nn.Parameter(t)._data is t._data  # shares the array, as torch does
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q._data is not p._data


def test_registration_and_names_match_torch():
    ours, theirs = Net(), TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert len(list(ours.parameters(recurse=False))) == 1
    assert [n for n, _ in ours.named_parameters(prefix="net")][1] == "net.fc1.weight"
    assert ours.get_submodule("block.0") is ours.block[0]
    assert ours.get_parameter("block.0.bias") is ours.block[0].bias
    assert ours.get_buffer("steps") is ours.steps
    with pytest.raises(AttributeError):
        ours.get_submodule("block.7")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ours.nope


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(nr.zeros(2))
    assert "w" in m._parameters and "w" not in m.__dict__
    with pytest.raises(TypeError, match="cannot assign"):
        m.w = nr.zeros(2)  # a plain tensor cannot replace a parameter
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.sub = nn.Linear(2, 2)
    assert m._modules["sub"] is m.sub
    m.sub = nn.Parameter(nr.zeros(1))  # re-binding moves it between registries
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_buffer("training", nr.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(nr.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, lin)
    assert len(list(m.parameters())) == 2
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    assert len(list(m.modules())) == 2


def test_train_eval_propagate():
    m = Net()
    assert m.training and m.block[1].training
    assert m.eval() is m
    assert not any(s.training for s in m.modules())
    m.block.train()
    assert m.block[0].training and not m.fc1.training
    with pytest.raises(ValueError):
        m.train("yes")


def test_requires_grad_and_zero_grad():
    m = Net()
    m(nr.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_state_dict_round_trip_and_values_detached():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict)
    assert all(not v.requires_grad for v in sd.values())
    assert "tmp" not in sd
    assert sd["fc1.weight"]._data is a.fc1.weight._data  # detached, not copied
    w_before = b.fc1.weight
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert b.fc1.weight is w_before  # loaded in place
    x = nr.randn(4, 3)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    assert sd["fc1.weight"]._data is not b.fc1.weight._data


def test_load_from_torch_numpy_and_torch_tensors():
    t = TorchNet()
    ours = Net()
    ours.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(nr.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    ours2 = Net()
    ours2.load_state_dict(t.state_dict())  # torch tensors directly
    np.testing.assert_array_equal(ours2.fc2.bias.detach().numpy(), t.fc2.bias.detach().numpy())


def test_load_state_dict_strict_errors():
    m = Net()
    sd = dict(m.state_dict())
    del sd["fc2.bias"]
    sd["extra.weight"] = nr.zeros(1)
    sd["block.5.weight"] = nr.zeros(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert 'Missing key(s) in state_dict: "fc2.bias"' in msg
    assert '"extra.weight"' in msg and '"block.5.weight"' in msg
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc2.bias"]
    assert sorted(res.unexpected_keys) == ["block.5.weight", "extra.weight"]


def test_load_state_dict_shape_mismatch_message():
    m = Net()
    sd = m.state_dict()
    sd["fc1.weight"] = np.zeros((5, 3), np.float32)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd, strict=False)
    msg = str(e.value)
    assert "size mismatch for fc1.weight" in msg
    assert "(5, 3)" in msg and "(4, 3)" in msg


def test_load_casts_dtype():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})  # float64 into float32
    assert m.weight.dtype == nr.float32
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.eye(2))


def test_to_dtype_keeps_parameter_objects():
    m = Net()
    params = list(m.parameters())
    m(nr.randn(2, 3)).sum().backward()
    assert m.double() is m
    assert all(p.dtype == nr.float64 for p in m.parameters())
    assert all(p.grad.dtype == nr.float64 for p in m.parameters())
    assert all(a is b for a, b in zip(params, m.parameters()))
    assert m.steps.dtype == nr.float64
    y = m(nr.randn(2, 3, dtype=nr.float64))
    assert y.dtype == nr.float64
    m.to(nr.float32)
    assert m.fc1.weight.dtype == nr.float32
    m.to("cpu")
    m.cpu().float()
    assert m.fc1.weight.device.type == "cpu"


def test_to_keeps_integer_buffers():
    bn = nn.BatchNorm1d(3).double()
    assert bn.num_batches_tracked.dtype == nr.int64
    assert bn.running_mean.dtype == nr.float64
    with pytest.raises(TypeError):
        bn.to(nr.int32)


def test_apply_visits_children_first():
    m = Net()
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Linear", "ReLU", "Sequential", "Linear", "Net"]


def test_forward_hooks_fire_and_replace():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre") or (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append("post") or out + 1)
    y = m(nr.randn(3, 2))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(y.detach().numpy(), m.bias.detach().numpy() + 1 +
                               np.zeros((3, 2)), rtol=1e-6)
    h1.remove()
    h2.remove()
    m(nr.randn(3, 2))
    assert calls == ["pre", "post"]


def test_forward_hook_kwargs_and_prepend():
    m = nn.Identity()
    order = []
    m.register_forward_hook(lambda *a: order.append("a"))
    m.register_forward_hook(lambda *a: order.append("b"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, kwargs), with_kwargs=True)
    m(nr.zeros(1))
    assert order == ["b", "a"]


def test_full_backward_hook_matches_torch():
    def run(lib, nnlib):
        torch.manual_seed(0)
        tl = torch.nn.Linear(3, 2)
        m = nnlib.Linear(3, 2)
        if lib is nr:
            m.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
        else:
            m = tl
        seen = {}

        def hook(mod, gin, gout):
            seen["gin"] = [None if g is None else np.array(g.detach().numpy()) for g in gin]
            seen["gout"] = [np.array(g.detach().numpy()) for g in gout]
            return tuple(None if g is None else g * 2 for g in gin)

        m.register_full_backward_hook(hook)
        x = lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
        (m(x) * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        return seen, x.grad.numpy(), m.weight.grad.numpy()

    (so, xo, wo), (st, xt, wt) = run(nr, nn), run(torch, torch.nn)
    np.testing.assert_allclose(so["gout"][0], st["gout"][0])
    np.testing.assert_allclose(so["gin"][0], st["gin"][0], rtol=1e-6)
    np.testing.assert_allclose(xo, xt, rtol=1e-6)  # doubled by the hook
    np.testing.assert_allclose(wo, wt, rtol=1e-6)


def test_repr_matches_torch():
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(),
                         nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False),
                                       nn.BatchNorm2d(8)),
                         nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Tanh()]),
                         nn.LayerNorm(4), nn.Dropout(0.1), nn.Embedding(10, 3, padding_idx=0),
                         nn.MaxPool2d(2), nn.GELU(), nn.LeakyReLU(0.2), nn.Flatten(),
                         nn.ParameterList([nn.Parameter(nr.zeros(2, 3))]))
    T = torch.nn
    theirs = T.Sequential(T.Linear(3, 4), T.ReLU(),
                          T.Sequential(T.Conv2d(3, 8, 3, padding=1, bias=False),
                                       T.BatchNorm2d(8)),
                          T.ModuleList([T.Linear(2, 2) for _ in range(3)] + [T.Tanh()]),
                          T.LayerNorm(4), T.Dropout(0.1), T.Embedding(10, 3, padding_idx=0),
                          T.MaxPool2d(2), T.GELU(), T.LeakyReLU(0.2), T.Flatten(),
                          T.ParameterList([T.Parameter(torch.zeros(2, 3))]))
    assert repr(ours).replace("narae.", "torch.") == repr(theirs)


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(3, 4, (3, 5), stride=2, padding="same" if False else 1, dilation=2,
                       groups=1, padding_mode="zeros"),
    lambda m: m.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2, bias=False),
    lambda m: m.Conv1d(2, 2, 3, padding="same"),
    lambda m: m.AvgPool2d(3, 2, 1), lambda m: m.AdaptiveAvgPool2d((2, 2)),
    lambda m: m.AdaptiveMaxPool2d(3), lambda m: m.MaxPool1d(2),
    lambda m: m.BatchNorm1d(4, affine=False, track_running_stats=False),
    lambda m: m.GroupNorm(2, 4, affine=False), lambda m: m.Dropout2d(),
    lambda m: m.Upsample(scale_factor=2, mode="bilinear"), lambda m: m.Upsample(size=4),
    lambda m: m.PReLU(3), lambda m: m.ELU(alpha=0.5, inplace=True), lambda m: m.SELU(),
    lambda m: m.SiLU(), lambda m: m.Softplus(beta=2), lambda m: m.Softmax(dim=1),
    lambda m: m.LogSoftmax(-1), lambda m: m.Hardtanh(-2, 2), lambda m: m.ReLU6(),
    lambda m: m.ReLU(inplace=True), lambda m: m.Mish(), lambda m: m.Sigmoid(),
    lambda m: m.Unflatten(1, (2, 2)), lambda m: m.Bilinear(2, 3, 4),
    lambda m: m.Embedding(5, 2, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True),
    lambda m: m.CrossEntropyLoss(label_smoothing=0.1), lambda m: m.MSELoss(),
])
def test_layer_reprs_match_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_missing_forward():
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        nn.Module()(1)


def test_deepcopy_module_is_independent():
    m = Net()
    c = copy.deepcopy(m)
    c.fc1.weight._data[...] = 0
    assert not np.all(m.fc1.weight.detach().numpy() == 0)
    assert isinstance(c.fc1.weight, nn.Parameter)
    assert list(c.state_dict()) == list(m.state_dict())


def test_load_state_dict_assign_takes_arrays():
    m = nn.Linear(2, 2)
    w = np.ones((2, 2), np.float64)
    m.load_state_dict({"weight": w, "bias": np.zeros(2, np.float64)}, assign=True)
    assert m.weight._data is w and m.weight.dtype == nr.float64
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad


def test_pickle_round_trip():
    import pickle
    m = Net()
    m.eval()
    c = pickle.loads(pickle.dumps(m))
    assert not c.training and isinstance(c.fc1.weight, nn.Parameter)
    x = nr.randn(2, 3)
    np.testing.assert_array_equal(c(x).detach().numpy(), m(x).detach().numpy())
    assert list(c.state_dict()) == list(m.state_dict())


@pytest.mark.gpu
def test_cuda_moves_in_place():
    from narae.backend import gpu_available
    if not gpu_available():
        pytest.skip("no GPU")
    m = Net()
    params = list(m.parameters())
    m.cuda()
    assert all(p.device.type == "cuda" for p in m.parameters())
    assert all(a is b for a, b in zip(params, m.parameters()))
    assert m.steps.device.type == "cuda"
    y = m(nr.randn(2, 3).cuda())
    assert y.device.type == "cuda"
    m.cpu()
    assert m.fc1.weight.device.type == "cpu"


def test_unexpected_keys_match_torch():
    ours, theirs = Net(), TorchNet()
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    sd.pop("fc1.bias")
    sd.update({"tmp": np.zeros(2, np.float32), "block.0.extra": np.zeros(1, np.float32),
               "other": np.zeros(1, np.float32)})
    ro = ours.load_state_dict(sd, strict=False)
    rt = theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=False)
    assert ro.missing_keys == rt.missing_keys
    assert sorted(ro.unexpected_keys) == sorted(rt.unexpected_keys)
