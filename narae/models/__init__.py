"""``narae.models``: the model zoo, each model built only from ``narae.nn``.

Vision models keep torchvision's constructor names and ``state_dict`` keys. ``MODELS`` maps
the names ``narae train --model`` accepts to builders ``(input_shape, num_classes, **opts)``.
"""
from .blocks import *  # noqa: F401,F403
from .perceptron import *  # noqa: F401,F403
from .mlp import *  # noqa: F401,F403
from .lenet import *  # noqa: F401,F403
from .alexnet import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .googlenet import *  # noqa: F401,F403
from .char_lm import *  # noqa: F401,F403
from .sequence import *  # noqa: F401,F403
from .seq2seq import Seq2Seq, DigitTask, greedy_decode, beam_search, train_seq2seq  # noqa: F401
from .recursive import Tree, RecursiveNet, expression_dataset, train_recursive  # noqa: F401
from .autoencoder import (Autoencoder, LinearAutoencoder, SparseAutoencoder,  # noqa: F401
                          DenoisingAutoencoder, StackedAutoencoder, ConvAutoencoder,
                          train_autoencoder)
from .vae import VAE, kl_normal, reparameterize, train_vae  # noqa: F401
from .rbm import BernoulliRBM, GaussianBernoulliRBM, RBM  # noqa: F401
from .dbn import DBN  # noqa: F401
from .boltzmann import BoltzmannMachine  # noqa: F401
from .gan import (GAN, MLPGenerator, MLPDiscriminator, DCGANGenerator,  # noqa: F401
                  DCGANDiscriminator, dcgan_init_, discriminator_loss, generator_loss)
from . import experiments, unsupervised_experiments, seq2seq, recursive, adding, visualize  # noqa: F401,E501

from .registry import MODELS  # noqa: F401,E402
