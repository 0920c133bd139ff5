"""The zoo's CLI builders: any (C, H, W) input and class count."""
import pytest

import narae as nr
from narae.models import MODELS


@pytest.mark.parametrize("name", ["lenet5", "resnet20", "alexnet", "resnet18", "googlenet",
                                  "vgg11"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_builders_take_any_image_shape(name, shape):
    model = MODELS[name](shape, 7)
    model.eval()
    with nr.no_grad():
        assert model(nr.randn(2, *shape)).shape == (2, 7)


def test_cli_lists_the_zoo(capsys):
    from narae.cli import main
    main(["models"])
    out = capsys.readouterr().out
    for name in ("alexnet", "vgg16", "resnet18", "googlenet", "lenet5", "resnet20"):
        assert name in out
