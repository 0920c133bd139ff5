"""narae.io.save/load: nested state (an optimizer state_dict) in one safetensors file."""
import math

import numpy as np
import pytest

import narae as nr
from narae.io import save, load, load_file, read_metadata


def test_nested_state_round_trip_keeps_types(tmp_path):
    state = {
        "state": {0: {"step": nr.tensor(3.0), "exp_avg": nr.randn(2, 3)},
                  1: {"step": nr.tensor(3.0), "exp_avg": nr.randn(3)}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                          "params": [0, 1], "name": None, "maximize": False}],
        "arr": np.arange(4, dtype=np.int32), "inf": math.inf, "label": "x.y",
        "scalar": np.float32(2.5),
    }
    path = tmp_path / "opt.safetensors"
    save(state, path)
    back = load(path)
    assert set(back["state"]) == {0, 1}                       # int keys survive
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)   # tuples survive
    assert back["param_groups"][0]["params"] == [0, 1]
    assert back["param_groups"][0]["name"] is None
    assert back["inf"] == math.inf and back["label"] == "x.y" and back["scalar"] == 2.5
    assert isinstance(back["arr"], np.ndarray) and back["arr"].dtype == np.int32
    for k in (0, 1):
        for name in ("step", "exp_avg"):
            got, want = back["state"][k][name], state["state"][k][name]
            assert isinstance(got, nr.Tensor) and got.shape == want.shape
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_flat_state_dict_keeps_keys_as_tensor_names(tmp_path):
    sd = {"fc1.weight": nr.randn(4, 3), "fc1.bias": nr.zeros(4)}
    path = tmp_path / "m.safetensors"
    save(sd, path)
    plain = load_file(path)                   # any safetensors reader sees the usual names
    assert set(plain) == set(sd)
    back = load(path)
    assert list(back) == list(sd)             # and the order is kept
    assert read_metadata(path)["format"] == "narae-state-v1"


def test_colliding_names_stay_distinct(tmp_path):
    obj = {"a.b": nr.ones(1), "a": {"b": nr.zeros(1)}}
    save(obj, tmp_path / "c.safetensors")
    back = load(tmp_path / "c.safetensors")
    assert back["a.b"].item() == 1 and back["a"]["b"].item() == 0


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot store a object"):
        save({"x": object()}, tmp_path / "bad.safetensors")
    with pytest.raises(TypeError, match="dict key"):
        save({(1, 2): 3}, tmp_path / "bad.safetensors")


def test_malformed_structure_metadata_is_a_value_error(tmp_path):
    from narae.io import save_file
    path = tmp_path / "m.safetensors"
    save_file({"a": np.zeros(1)}, path, metadata={"narae.structure": '{"T": "missing"}'})
    with pytest.raises(ValueError, match="missing tensor"):
        load(path)
    save_file({"a": np.zeros(1)}, path, metadata={"narae.structure": "{not json"})
    with pytest.raises(ValueError, match="not valid JSON"):
        load(path)
