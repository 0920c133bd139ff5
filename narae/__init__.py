"""narae: a deep-learning framework on NumPy (and CuPy), with PyTorch's API.

    import narae as nr
    x = nr.randn(3, requires_grad=True)
    (x * x).sum().backward()      # x.grad == 2 * x
"""
from ._dtype import (dtype, float16, float32, float64, bfloat16, half, float, double, int8, int16,
                     int32, int64, uint8, short, int, long, bool, get_default_dtype,
                     set_default_dtype)
from .backend import Device as device
from .tensor import Tensor
from .tensor_info import *  # noqa: F401,F403
from .random import manual_seed, seed, initial_seed, Generator, get_rng_state, set_rng_state
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode
from . import autograd

# Importing the op modules attaches their Tensor methods; `*` brings their functions here.
from .creation import *  # noqa: F401,F403
from .ops.convert import *  # noqa: F401,F403
from .ops.arith import *  # noqa: F401,F403
from .ops.compare import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.reduce import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.activation import (relu, sigmoid, tanh, softmax, log_softmax, prelu,  # noqa: F401
                             selu, celu, rrelu, hardshrink, threshold)
from .ops.index import *  # noqa: F401,F403
from .ops.elementwise import *  # noqa: F401,F403
from .ops.statistics import *  # noqa: F401,F403
from .ops.einsum import *  # noqa: F401,F403
from .ops.matrix import *  # noqa: F401,F403
from .ops.construct import *  # noqa: F401,F403
from .ops.decomposition import *  # noqa: F401,F403
from .ops.scatter import *  # noqa: F401,F403
from .ops.rearrange import *  # noqa: F401,F403
from .ops.incomplete_gamma import *  # noqa: F401,F403
from .ops.complex import *  # noqa: F401,F403
from .ops.spectral import *  # noqa: F401,F403
from .ops.quantize import *  # noqa: F401,F403
from .ops.lowrank import *  # noqa: F401,F403
from .ops.copy_variants import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
# torch also keeps these functional ops at the top level
from .ops.activation import relu_, selu_, celu_, rrelu_, threshold_  # noqa: F401
from .ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,  # noqa: F401
                       conv_transpose3d)
from .ops.pool import (max_pool1d, max_pool2d, max_pool3d, avg_pool1d,  # noqa: F401
                       adaptive_avg_pool1d, adaptive_max_pool1d, max_pool1d_with_indices)
from .ops.spatial import (pixel_shuffle, pixel_unshuffle, channel_shuffle,  # noqa: F401
                          native_channel_shuffle)
from .ops.ctc import ctc_loss  # noqa: F401
from .ops.norm import batch_norm, group_norm, instance_norm, layer_norm, rms_norm  # noqa: F401
from .ops.dropout import dropout, alpha_dropout, feature_alpha_dropout  # noqa: F401
from .ops.embedding import embedding, embedding_bag  # noqa: F401
from .ops.distance import cdist, pdist, cosine_similarity, pairwise_distance  # noqa: F401
from .ops.loss import (binary_cross_entropy_with_logits, cosine_embedding_loss,  # noqa: F401
                       hinge_embedding_loss, kl_div, margin_ranking_loss, poisson_nll_loss,
                       triplet_margin_loss)
from .autograd.anomaly_mode import (is_anomaly_enabled, is_anomaly_check_nan_enabled,  # noqa
                                    set_anomaly_enabled)
from . import cuda
from .graph_capture import compile
from . import amp
from .amp import autocast
from .io import save, load
from .sparse._api import sparse_coo_tensor  # noqa: F401 (torch.sparse_coo_tensor)

from .autograd import engine as _engine
from .ops.shape import sum_to as _sum_to
_engine._sum_to = _sum_to

__version__ = "0.1.0"

_SUBPACKAGES = ("nn", "optim", "utils", "datasets", "transforms", "train", "io", "models",
                "linalg", "distributions", "func", "special", "profiler", "fft", "onnx", "sparse",
                "ao", "distributed", "multiprocessing")


def __getattr__(name):
    """Import subpackages on first use (``narae.nn``, ``narae.optim``...), keeping import fast."""
    if name == "vmap":  # torch.vmap is torch.func.vmap
        from .func import vmap
        return vmap
    if name in _SUBPACKAGES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'narae' has no attribute {name!r}")
