"""Rosenblatt's perceptron (1958) and logistic regression: the two single-layer classifiers.

The perceptron has a step activation, so it has no useful gradient: it learns with its own
error-correction rule, w <- w + lr * (target - prediction) * x, applied one sample at a time.
The rule converges whenever the classes are linearly separable (Novikoff, 1962) and cycles
forever otherwise, which is why it cannot learn XOR (Minsky & Papert, 1969).
"""
from .. import nn
from .. import creation
from ..autograd import no_grad
from ..creation import as_tensor
from ..creation import randperm

__all__ = ["Perceptron", "LogisticRegression"]


def _binary_targets(y):
    """Targets as a float Tensor of 0/1; accepts {0, 1} or {-1, 1} labels."""
    y = as_tensor(y).float().flatten()
    if bool(((y != 0) & (y != 1) & (y != -1)).any()):
        raise ValueError("Perceptron.fit: labels must be 0/1 or -1/1")
    return (y > 0).float()


class Perceptron(nn.Module):
    """A linear threshold unit: ``forward(x)`` = 1 where x @ w + b > 0, else 0 (shape (N,)).

    ``fit(X, y, epochs)`` trains with the perceptron rule (no backprop; the parameters do not
    require grad). ``errors_`` records the misclassified samples seen in each epoch.
    """

    def __init__(self, in_features):
        super().__init__()
        self.in_features = in_features
        self.weight = nn.Parameter(creation.zeros(1, in_features), requires_grad=False)
        self.bias = nn.Parameter(creation.zeros(1), requires_grad=False)
        self.errors_ = []

    def decision_function(self, x):
        """The pre-activation x @ w + b, shape (N,)."""
        return (as_tensor(x).float() @ self.weight.t() + self.bias).flatten()

    def forward(self, x):
        return (self.decision_function(x) > 0).float()

    predict = forward

    def fit(self, X, y, epochs=10, lr=1.0, shuffle=True):
        """Cycle over the samples ``epochs`` times, correcting w and b on every mistake; stop
        early after an epoch without mistakes (the data are separated). Returns self."""
        X = as_tensor(X).float()
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError(f"Perceptron.fit: expected X of shape (N, {self.in_features}), "
                             f"got {tuple(X.shape)}")
        t = _binary_targets(y)
        if t.shape[0] != X.shape[0]:
            raise ValueError(f"Perceptron.fit: {X.shape[0]} samples but {t.shape[0]} labels")
        self.errors_ = []
        with no_grad():
            for _ in range(epochs):
                order = randperm(X.shape[0]).tolist() if shuffle else range(X.shape[0])
                mistakes = 0
                for i in order:
                    xi = X[i]
                    pred = float((xi @ self.weight[0] + self.bias[0]).item() > 0)
                    err = float(t[i].item()) - pred
                    if err != 0.0:
                        self.weight.add_(xi.unsqueeze(0) * (lr * err))
                        self.bias.add_(lr * err)
                        mistakes += 1
                self.errors_.append(mistakes)
                if mistakes == 0:
                    break
        return self

    def extra_repr(self):
        return f"in_features={self.in_features}"


class LogisticRegression(nn.Module):
    """A linear layer whose logits feed a sigmoid (``out_features=1``, train with
    BCEWithLogitsLoss) or a softmax (``out_features=K``, CrossEntropyLoss): the differentiable
    single-layer classifier, trained by gradient descent."""

    def __init__(self, in_features, out_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        """Logits: (N,) for one output, (N, K) otherwise."""
        z = self.linear(x)
        return z.flatten() if self.linear.out_features == 1 else z

    def predict_proba(self, x):
        z = self(x)
        return z.sigmoid() if z.ndim == 1 else z.softmax(-1)

    def predict(self, x):
        z = self(x)
        return (z > 0).long() if z.ndim == 1 else z.argmax(-1)
