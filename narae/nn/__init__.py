"""``narae.nn``: modules, parameters, layers and the functional API (mirrors torch.nn)."""
from . import functional  # noqa: F401
from . import init, utils  # noqa: F401
from .parameter import *  # noqa: F401,F403
from .module import Module
from .containers import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .linear import Identity, Linear, Bilinear
from .flatten import Flatten, Unflatten
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d
from .loss import *  # noqa: F401,F403
from .maxout import Maxout
from .regularization import l1_penalty, l2_penalty, MaxNorm, apply_max_norm_
from .attention import MultiheadAttention, BahdanauAttention, LuongAttention
from .transformer import (Transformer, TransformerEncoder, TransformerDecoder,
                          TransformerEncoderLayer, TransformerDecoderLayer,
                          generate_square_subsequent_mask)
from .positional import SinusoidalPositionalEncoding, LearnedPositionalEncoding
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell
from .spatial import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .lazy import *  # noqa: F401,F403
from .parallel import DataParallel  # noqa: F401  (DistributedDataParallel: nn.parallel)
