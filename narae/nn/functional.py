"""``narae.nn.functional``: torch.nn.functional's names, arguments and defaults over narae ops."""
from ..ops.linalg import linear, bilinear  # noqa: F401
from ..ops.activation import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.pool import *  # noqa: F401,F403
from ..ops.norm import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.attention import *  # noqa: F401,F403
from ..ops.dropout import *  # noqa: F401,F403
from ..ops.embedding import *  # noqa: F401,F403
from ..ops.resize import *  # noqa: F401,F403
from ..ops.index import one_hot  # noqa: F401
from ..ops.shape import pad  # noqa: F401
from ..ops.distance import *  # noqa: F401,F403
from ..ops.fused_loss import *  # noqa: F401,F403
from ..ops.spatial import *  # noqa: F401,F403
