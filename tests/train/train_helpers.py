"""Small helpers shared by the narae.train tests."""
import numpy as np


def make_mlp(hidden=32):
    import narae.nn as nn
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def weights(model):
    return {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
