"""Custom autograd Functions, the PyTorch way: BinaryConnect's straight-through estimator.

``sign(w)`` has a zero gradient almost everywhere, so a network with binary (+1/-1) weights
cannot be trained by plain backprop. BinaryConnect (Courbariaux et al. 2015) keeps real
weights, uses their signs in the forward pass and passes the gradient straight through to
the real weights (zeroed where |w| > 1). That is a forward and a backward that disagree
on purpose: exactly what ``narae.autograd.Function`` with ``forward(ctx, ...)`` and
``backward(ctx, ...)`` is for. A second Function, log(1 + e^x) written to be stable,
has an exact gradient that ``gradcheck`` confirms.

    python examples/custom_autograd_function.py
"""
import argparse

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
from narae.datasets import Digits
from narae.train import fit, evaluate


class BinarizeSTE(nr.autograd.Function):
    @staticmethod
    def forward(ctx, w):
        ctx.save_for_backward(w)
        return nr.where(w >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, grad_output):
        (w,) = ctx.saved_tensors
        return grad_output * (w.abs() <= 1).to(grad_output.dtype)


class StableSoftplus(nr.autograd.Function):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0) + nr.log1p(nr.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * nr.sigmoid(x)


class BinaryLinear(nn.Linear):
    """A Linear layer computing with the signs of its weights, scaled per output unit."""

    def forward(self, x):
        scale = self.weight.abs().mean(1, keepdim=True).detach()
        return F.linear(x, BinarizeSTE.apply(self.weight) * scale, self.bias)


def mlp(linear):
    return nn.Sequential(nn.Flatten(), linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(),
                         linear(128, 10))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()
    x = nr.tensor([-800.0, -3.0, 0.0, 2.5, 800.0], dtype=nr.float64, requires_grad=True)
    print("stable softplus:", StableSoftplus.apply(x).detach().tolist())
    print("gradcheck of its backward:", nr.autograd.gradcheck(StableSoftplus.apply, (x,)))
    train, test = Digits(train=True), Digits(train=False)
    for name, linear in (("real weights", nn.Linear), ("binary weights (STE)", BinaryLinear)):
        nr.manual_seed(0)
        model = mlp(linear)
        fit(model, train, loss=nn.CrossEntropyLoss(), optimizer=nr.optim.Adam(
            model.parameters(), lr=1e-2), epochs=args.epochs, batch_size=64, verbose=0)
        acc = evaluate(model, test, metrics=["accuracy"])["accuracy"]
        print(f"{name:22s} test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
