"""narae.nn.utils.prune on the device: masks built with the tensor's array module, the same
masks and pruned values as on the CPU, and a pruned module that trains on the device."""
import numpy as np
import pytest
from test_gpu_ops import Case, randn, mask, with_layouts, layout_ids, check_case

import narae as nr
from narae.nn.utils import prune as P

pytestmark = pytest.mark.gpu


def _stacked(w):
    """Two methods stacked in a container: the second sees only what the first left."""
    a, b = P.L1Unstructured(0.3), P.LnStructured(1, n=2, dim=0)
    a._tensor_name = b._tensor_name = "w"
    first = a.compute_mask(w, nr.ones_like(w).detach())
    container = P.PruningContainer(a)
    container.add_pruning_method(b)
    return w * container.compute_mask(w, first)


CASES = [
    Case("prune_l1", lambda x: P.L1Unstructured(0.4).prune(x), randn(4, 5)),
    Case("prune_l1_count", lambda x: P.L1Unstructured(3).prune(x), randn(3, 2, 2)),
    Case("prune_ln2_dim0", lambda x: P.LnStructured(0.5, n=2, dim=0).prune(x), randn(4, 3, 2)),
    Case("prune_lninf_dim1", lambda x: P.LnStructured(2, n=float("inf"), dim=1).prune(x),
         randn(3, 4, 2)),
    Case("prune_ln1_scores", lambda x, s: P.LnStructured(1, n=1, dim=-1).prune(
        x, importance_scores=s), randn(3, 4), randn(3, 4)),
    Case("prune_custom", lambda x, m: P.CustomFromMask(m).prune(x), randn(3, 4), mask(3, 4)),
    Case("prune_container", _stacked, randn(4, 5)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_pruned_module_trains_on_device(device):
    rng = np.random.default_rng(0)
    net = nr.nn.Sequential(nr.nn.Linear(6, 5), nr.nn.ReLU(), nr.nn.Linear(5, 3)).to(device)
    P.l1_unstructured(net[0], "weight", 0.3)
    P.ln_structured(net[0], "weight", 1, 2, 0)
    P.random_structured(net[2], "weight", 1, dim=1)
    P.random_unstructured(net[2], "bias", 1)
    P.custom_from_mask(net[2], "weight", mask=nr.from_numpy(rng.random((3, 5)) > 0.2))
    P.global_unstructured([(net[0], "weight"), (net[2], "weight")], P.L1Unstructured,
                          amount=0.2)
    opt = nr.optim.SGD(net.parameters(), lr=0.1)
    x = nr.from_numpy(rng.standard_normal((4, 6)).astype(np.float32)).to(device)
    net(x).sum().backward()
    opt.step()
    for m in (net[0], net[2]):
        assert m.weight_mask.device == m.weight_orig.device == m.weight.device
        g, msk = m.weight_orig.grad.cpu().numpy(), m.weight_mask.cpu().numpy()
        assert (g[msk == 0] == 0).all()
    net(x)
    P.remove(net[0], "weight")
    assert str(net[0].weight.device) == str(net[0].bias.device)
    assert P.is_pruned(net) and not P.is_pruned(net[0])
