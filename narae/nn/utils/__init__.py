"""``narae.nn.utils``: gradient clipping, parameter/vector conversion, packed sequences,
weight/spectral normalization, parametrizations, conv/linear + batch-norm fusion, truncated
BPTT, pruning (torch.nn.utils, plus tbptt)."""
from . import rnn, tbptt, parametrize, parametrizations, fusion, prune  # noqa: F401
from .weight_norm import weight_norm, remove_weight_norm
from .spectral_norm import spectral_norm, remove_spectral_norm
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,
                     fuse_linear_bn_weights)
from .clip_grad import (clip_grad_norm_, clip_grad_norm, clip_grad_value_, get_total_norm,
                        clip_grads_with_norm_)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .rnn import (PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence,
                  pack_sequence, unpad_sequence, unpack_sequence)
from .tbptt import tbptt_windows, detach_state, train_tbptt, TruncatedBPTT
from .init import skip_init

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_", "parameters_to_vector", "vector_to_parameters",
           "PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "tbptt_windows",
           "detach_state", "train_tbptt", "TruncatedBPTT", "weight_norm", "remove_weight_norm",
           "spectral_norm", "remove_spectral_norm", "fuse_conv_bn_eval", "fuse_conv_bn_weights",
           "fuse_linear_bn_eval", "fuse_linear_bn_weights", "parametrize", "parametrizations",
           "fusion", "prune", "skip_init"]
