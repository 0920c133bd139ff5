"""narae.compile on the CPU: every call runs eagerly, the first call of each input signature
under the capture rules (so code that compiles here also captures on a GPU).
The capture itself (CUDA graphs) is tested in tests/gpu/test_gpu_capture.py."""
import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
import narae.optim as optim
from narae.backend import capture


def _setup(seed=0):
    nr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, train_step


def _batches(n=6):
    rng = np.random.default_rng(1)
    return [(nr.tensor(rng.standard_normal((5, 6)).astype(np.float32)),
             nr.tensor(rng.integers(0, 3, 5))) for _ in range(n)]


def test_compiled_step_equals_eager_step_on_cpu():
    eager_model, eager_step = _setup()
    comp_model, step = _setup()
    compiled = nr.compile(step)
    for x, y in _batches():
        a = eager_step(x, y).item()
        b = compiled(x, y).item()
        assert a == b
    for p, q in zip(eager_model.parameters(), comp_model.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


@pytest.mark.parametrize("body,what", [
    (lambda x: x.sum().item(), "Tensor.item()"),
    (lambda x: float(x.sum()), "Tensor.item()"),
    (lambda x: x.tolist(), "Tensor.tolist()"),
    (lambda x: x.detach().numpy(), "Tensor.numpy()"),
    (lambda x: repr(x), "printing a tensor"),
    (lambda x: x + nr.randn(3), "drawing random numbers"),
])
def test_rules_are_checked_on_the_first_call(body, what):
    compiled = nr.compile(body)
    x = nr.ones(3)
    with pytest.raises(RuntimeError, match="inside a function captured by narae.compile") as e:
        compiled(x)
    assert what in str(e.value)
    assert capture.active() is None, "the check must not leak past the call"


def test_each_new_signature_is_checked_again():
    seen = []

    def fn(x):
        if x.shape[0] == 2:
            seen.append(x.sum().item())
        return x * 2
    compiled = nr.compile(fn)
    compiled(nr.ones(3))
    compiled(nr.ones(3))
    with pytest.raises(RuntimeError, match="Tensor.item"):
        compiled(nr.ones(2))


def test_call_forms_and_options():
    def f(x):
        return x + 1
    assert nr.compile(f, disable=True) is f
    g = nr.compile(f, fullgraph=True, mode="reduce-overhead", dynamic=False)
    assert g.__name__ == "f" and g(nr.ones(2)).tolist() == [2.0, 2.0]

    @nr.compile(warmup=2)
    def h(x):
        return x * 3
    assert h.warmup == 2 and h(nr.ones(1)).tolist() == [3.0]
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        nr.compile(f, bogus=1)
    with pytest.raises(ValueError, match="warmup must be >= 1"):
        nr.compile(f, warmup=0)


def test_nested_outputs_and_module():
    model = nn.Linear(4, 2)
    compiled = nr.compile(model)
    out = compiled(nr.ones(3, 4))
    assert tuple(out.shape) == (3, 2)
    both = nr.compile(lambda x: {"a": x + 1, "b": [x * 2, 5]})
    res = both(nr.ones(2))
    assert res["a"].tolist() == [2.0, 2.0] and res["b"][1] == 5


def test_memory_stats_need_a_gpu():
    if nr.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="need CuPy and a CUDA GPU|CUDA"):
        nr.cuda.max_memory_allocated()


def test_dropout_is_allowed_and_masks_come_from_the_device_counter_in_a_capture():
    """In a CUDA capture, dropout masks are drawn on the device (seed fixed at capture, counter
    in device memory advanced by each draw): emulated here with NumPy arrays."""
    from narae.backend import kernels
    from narae.ops.dropout import keep_mask
    compiled = nr.compile(lambda x: F.dropout(x, 0.5, training=True))
    assert tuple(compiled(nr.ones(4, 5)).shape) == (4, 5)     # checked call: allowed
    cap = capture.begin("emulated")
    cap.rng_offset = np.zeros(1, np.int64)
    try:
        with kernels.emulate():
            like = np.zeros(1, np.float32)
            a = keep_mask((200, 100), 0.3, like)
            b = keep_mask((200, 100), 0.3, like)
    finally:
        capture.end()
    assert a.dtype == np.float32 and set(np.unique(a)) <= {0.0, 1.0}
    assert abs(1 - a.mean() - 0.3) < 0.01 and abs(1 - b.mean() - 0.3) < 0.01
    assert cap.rng_offset[0] == 2 * 200 * 100 and np.mean(a != b) > 0.3
    # neighbouring elements are not correlated
    flat = a.ravel()
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.02
