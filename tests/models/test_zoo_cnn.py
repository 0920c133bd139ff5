"""The CNN zoo: output shapes, torchvision's parameter counts and state_dict keys, forward
parity with hand-built torch.nn modules (BasicBlock, Bottleneck, VGG block, whole ResNet-18),
and determinism under ``narae.manual_seed``."""
import numpy as np
import pytest
import torch
import torch.nn as tnn

import narae as nr
from narae import models as M
from narae.models import blocks

# torchvision's published parameter counts (1000 classes; googlenet without aux heads)
TORCHVISION_COUNTS = {
    "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg16": 138_357_544,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808, "googlenet": 6_624_904,
}


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach()._data)


# -- hand-built torch references (torch.nn only, no torchvision) ---------------------------
class TorchBasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def torch_projection(inplanes, outplanes, stride):
    return tnn.Sequential(tnn.Conv2d(inplanes, outplanes, 1, stride, bias=False),
                          tnn.BatchNorm2d(outplanes))


class TorchResNet18(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, planes in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            down = torch_projection(inplanes, planes, stride) if stride != 1 else None
            setattr(self, f"layer{i + 1}", tnn.Sequential(
                TorchBasicBlock(inplanes, planes, stride, down), TorchBasicBlock(planes, planes)))
            inplanes = planes
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomise_bn(torch_module, seed=0):
    """Non-trivial BN affine parameters and running statistics (eval-mode parity means
    something only when they differ from 1/0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in torch_module.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(1 + 0.5 * torch.rand(m.running_var.shape, generator=g))


def _parity(ours, theirs, x, train, atol=1e-4):
    """Copy torch's state into ours, compare outputs (and input/parameter grads in train)."""
    _randomise_bn(theirs)
    ours.load_state_dict(theirs.state_dict())
    ours.train(train)
    theirs.train(train)
    xt = torch.tensor(x, requires_grad=True)
    xn = nr.tensor(x, requires_grad=True)
    yt, yn = theirs(xt), ours(xn)
    np.testing.assert_allclose(_np(yn), _np(yt), atol=atol, rtol=1e-4)
    if train:
        w = np.random.default_rng(1).standard_normal(yt.shape).astype(np.float32)
        (yt * torch.tensor(w)).sum().backward()
        (yn * nr.tensor(w)).sum().backward()
        np.testing.assert_allclose(_np(xn.grad), _np(xt.grad), atol=atol, rtol=1e-3)
        tp = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(_np(p.grad), _np(tp[name].grad), atol=atol, rtol=1e-3,
                                       err_msg=name)
        for name, b in ours.named_buffers():  # running statistics updated identically
            np.testing.assert_allclose(_np(b), _np(theirs.get_buffer(name)), atol=1e-5,
                                       err_msg=name)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- parity ----------------------------------------------------------------------------------
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
def test_basic_block_matches_torch(stride, train):
    down = blocks.nn.Sequential(blocks.conv1x1(4, 8, stride), blocks.nn.BatchNorm2d(8))
    ours = M.BasicBlock(4, 8, stride, down)
    theirs = TorchBasicBlock(4, 8, stride, torch_projection(4, 8, stride))
    _parity(ours, theirs, _x(2, 4, 6, 6), train)


@pytest.mark.parametrize("train", [True, False])
def test_basic_block_identity_shortcut_matches_torch(train):
    _parity(M.BasicBlock(6, 6), TorchBasicBlock(6, 6), _x(2, 6, 5, 5), train)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
def test_bottleneck_matches_torch(stride, train):
    down = blocks.nn.Sequential(blocks.conv1x1(8, 16, stride), blocks.nn.BatchNorm2d(16))
    ours = M.Bottleneck(8, 4, stride, down)
    theirs = TorchBottleneck(8, 4, stride, torch_projection(8, 16, stride))
    _parity(ours, theirs, _x(2, 8, 6, 6), train)


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_vgg_block_matches_torch(batch_norm, train):
    ours = M.make_layers([8, 8, "M"], batch_norm=batch_norm, in_channels=3)
    layers = []
    for c_in in (3, 8):
        layers.append(tnn.Conv2d(c_in, 8, 3, padding=1))
        if batch_norm:
            layers.append(tnn.BatchNorm2d(8))
        layers.append(tnn.ReLU(inplace=True))
    theirs = tnn.Sequential(*layers, tnn.MaxPool2d(2, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _parity(ours, theirs, _x(2, 3, 8, 8), train)


def test_resnet18_loads_torch_state_dict_and_matches():
    torch.manual_seed(0)
    theirs = TorchResNet18(num_classes=10)
    ours = M.resnet18(num_classes=10)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _parity(ours, theirs, _x(1, 3, 64, 64), train=False, atol=2e-4)


# -- counts, keys, shapes -----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_parameter_count_equals_torchvision(name):
    assert M.count_parameters(getattr(M, name)) == TORCHVISION_COUNTS[name]


def test_count_parameters_agrees_with_initialised_model():
    model = M.resnet18()
    assert M.count_parameters(model) == sum(p.numel() for p in model.parameters()) \
        == TORCHVISION_COUNTS["resnet18"]


def test_skip_init_restores_the_init_functions():
    before = nr.nn.init.kaiming_uniform_
    with M.skip_init():
        assert nr.nn.init.kaiming_uniform_ is not before
    assert nr.nn.init.kaiming_uniform_ is before


def test_cifar_resnet_counts_and_shortcuts():
    # He et al. (2015), table 6: 0.27M / 0.46M / 0.85M parameters with option A shortcuts
    assert M.count_parameters(M.resnet20) == 269_722
    assert M.count_parameters(M.resnet32) == 464_154
    assert M.count_parameters(M.resnet56) == 853_018
    b = M.resnet20(shortcut="B")
    assert "layer2.0.downsample.0.weight" in b.state_dict()
    assert "layer2.0.downsample.0.weight" not in M.resnet20().state_dict()
    with pytest.raises(ValueError, match="6n"):
        M.CifarResNet(depth=21)


def test_state_dict_keys_are_torchvision_names():
    with M.skip_init():
        sd = {
            "alexnet": M.alexnet().state_dict(), "vgg16": M.vgg16().state_dict(),
            "vgg11_bn": M.vgg11_bn().state_dict(), "resnet50": M.resnet50().state_dict(),
            "googlenet": M.googlenet().state_dict(),
            "googlenet_aux": M.googlenet(aux_logits=True).state_dict(),
        }
    assert list(sd["alexnet"])[:2] == ["features.0.weight", "features.0.bias"]
    assert {"features.3.weight", "features.10.weight", "classifier.1.weight",
            "classifier.4.weight", "classifier.6.bias"} <= set(sd["alexnet"])
    assert len(sd["alexnet"]) == 16
    assert {"features.0.weight", "features.28.weight", "classifier.0.weight",
            "classifier.3.weight", "classifier.6.weight"} <= set(sd["vgg16"])
    assert len(sd["vgg16"]) == 32
    assert {"features.1.running_mean", "features.1.num_batches_tracked",
            "features.25.weight"} <= set(sd["vgg11_bn"])
    r = sd["resnet50"]
    assert list(r)[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                           "bn1.running_var", "bn1.num_batches_tracked"]
    assert {"layer1.0.conv3.weight", "layer1.0.bn1.running_mean",
            "layer1.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
            "layer4.2.bn3.bias", "fc.weight", "fc.bias"} <= set(r)
    assert len(r) == 320
    g = sd["googlenet"]
    assert {"conv1.conv.weight", "conv1.bn.weight", "conv3.bn.running_var",
            "inception3a.branch1.conv.weight", "inception3a.branch2.0.conv.weight",
            "inception3a.branch3.1.bn.bias", "inception5b.branch4.1.conv.weight",
            "fc.weight"} <= set(g)
    assert not any(k.startswith("aux") for k in g)
    assert {"aux1.conv.conv.weight", "aux1.fc1.weight", "aux2.fc2.bias"} <= set(sd["googlenet_aux"])


@pytest.mark.parametrize("name,shape", [
    ("resnet18", (1, 3, 64, 64)), ("resnet50", (1, 3, 64, 64)), ("googlenet", (1, 3, 64, 64)),
    ("resnet20", (2, 3, 32, 32)), ("resnet32", (1, 3, 32, 32)),
])
def test_output_shapes(name, shape):
    model = getattr(M, name)(num_classes=7).eval()
    with nr.no_grad():
        y = model(nr.randn(*shape))
    assert tuple(y.shape) == (shape[0], 7)
    assert np.isfinite(_np(y)).all()


@pytest.mark.parametrize("name,shape", [
    ("alexnet", (1, 3, 64, 64)), ("vgg11", (1, 3, 32, 32)), ("vgg16_bn", (1, 3, 32, 32)),
])
def test_output_shapes_big_classifiers(name, shape):
    # drawing 100M random weights takes seconds: build unfilled, then zero them (fast)
    with M.skip_init():
        model = getattr(M, name)(num_classes=7).eval()
    for p in model.parameters():
        nr.nn.init.zeros_(p)
    with nr.no_grad():
        y = model(nr.randn(*shape))
    assert tuple(y.shape) == (1, 7)


def test_vgg_features_shape():
    feats = M.make_layers(M.cfgs["D"], batch_norm=True)
    with nr.no_grad():
        y = feats.eval()(nr.randn(1, 3, 32, 32))
    assert tuple(y.shape) == (1, 512, 1, 1)


def test_googlenet_aux_outputs_in_training():
    model = M.googlenet(num_classes=5, aux_logits=True)
    out = model(nr.randn(2, 3, 64, 64))
    assert isinstance(out, M.GoogLeNetOutputs)
    assert [tuple(o.shape) for o in out] == [(2, 5)] * 3
    model.eval()
    with nr.no_grad():
        assert tuple(model(nr.randn(1, 3, 64, 64)).shape) == (1, 5)


@pytest.mark.parametrize("size", [8, 28, 32])
def test_lenet5_sizes(size):
    model = M.lenet5(input_size=size)
    assert M.count_parameters(model) == 61_706
    assert list(model.state_dict()) == [f"{part}.{i}.{kind}" for part, idx in
                                        (("features", (0, 3)), ("classifier", (0, 3, 6)))
                                        for i in idx for kind in ("weight", "bias")]
    assert tuple(model(nr.randn(3, 1, size, size)).shape) == (3, 10)


def test_cli_builders():
    m = M.build_lenet5((1, 8, 8), 10, dropout=0.2)
    assert tuple(m(nr.randn(2, 1, 8, 8)).shape) == (2, 10)
    assert m.classifier[2].p == 0.2
    r = M.build_resnet20((1, 8, 8), 4)
    assert tuple(r(nr.randn(2, 1, 8, 8)).shape) == (2, 4)
    with pytest.raises(ValueError, match="square"):
        M.build_lenet5((1, 8, 6), 10)


def test_zero_init_residual_and_groups():
    m = M.resnet18(num_classes=3, zero_init_residual=True)
    assert float(m.layer1[0].bn2.weight.abs().sum()) == 0.0
    assert float(m.layer1[0].bn1.weight.abs().sum()) == 64.0
    b = M.resnet50(num_classes=3, zero_init_residual=True)
    assert float(b.layer1[0].bn3.weight.abs().sum()) == 0.0
    x = M.resnext50_32x4d(num_classes=3)
    assert x.layer1[0].conv2.groups == 32 and x.layer1[0].conv2.in_channels == 128
    with pytest.raises(ValueError, match="BasicBlock"):
        M.ResNet(M.BasicBlock, [1, 1, 1, 1], groups=2)


@pytest.mark.parametrize("name", ["resnet20", "lenet5", "googlenet"])
def test_deterministic_under_manual_seed(name):
    def build():
        nr.manual_seed(123)
        return getattr(M, name)(num_classes=4)
    a, b = build().state_dict(), build().state_dict()
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(_np(a[k]), _np(b[k]), err_msg=k)
    nr.manual_seed(124)
    c = getattr(M, name)(num_classes=4).state_dict()
    assert any(not np.array_equal(_np(a[k]), _np(c[k])) for k in a)


def test_googlenet_transform_input_rescales_imagenet_normalisation():
    model = M.googlenet(num_classes=3, transform_input=True, init_weights=False)
    p = np.random.default_rng(0).random((1, 3, 4, 4)).astype(np.float32)   # pixels in [0, 1]
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    out = model._transform_input(nr.tensor((p - mean) / std))
    np.testing.assert_allclose(_np(out), (p - 0.5) / 0.5, atol=1e-5)
