"""Failure modes: an op that cannot convert is named with where it comes from; the TensorRT check."""

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from jaxrobot.export import tensorrt
from jaxrobot.export.errors import ExportError
from jaxrobot.export.functions import ExportFunction, TensorSpec


def _mystery_primitive():
    """A primitive XLA can run but no converter knows (stands in for any unsupported op)."""
    from jax.extend.core import Primitive
    from jax.interpreters import mlir

    p = Primitive("mystery_op")
    p.def_impl(lambda x: x * 2)
    p.def_abstract_eval(lambda x: jax.core.ShapedArray(x.shape, x.dtype))
    mlir.register_lowering(p, mlir.lower_fun(lambda x: x * 2, multiple_results=False))
    return p


def test_unconvertible_op_is_named_with_its_module_path():
    import flax.linen as nn

    from jaxrobot.export.onnx_export import to_onnx

    prim = _mystery_primitive()

    class Head(nn.Module):
        @nn.compact
        def __call__(self, x):
            return prim.bind(nn.Dense(3)(x))

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Head(name="action_head")(nn.relu(nn.Dense(8)(x)))

    variables = Net().init(jax.random.PRNGKey(0), jnp.ones((1, 4)))
    fn = ExportFunction("policy", lambda x: Net().apply(variables, x), (TensorSpec("state", (None, 4), "float32"),),
                        ("action",))
    with pytest.raises(ExportError) as info:
        to_onnx(fn)
    msg = str(info.value)
    assert "op 'mystery_op'" in msg and "Net/action_head" in msg and "test_conversion_errors.py" in msg


def _graph(nodes, inputs, outputs, opset):
    g = helper.make_graph(nodes, "g", inputs, outputs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_tensorrt_check_names_unsupported_ops():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])
    model = _graph([helper.make_node("Unique", ["x"], ["y"], name="uniq")], [x], [y], 20)
    problems = tensorrt.check(model)
    assert [(p["op"], p["node"]) for p in problems] == [("Unique", "uniq")]
    with pytest.raises(ExportError, match=r"Unique \(node 'uniq'\)"):
        tensorrt.require_supported(model, "test.onnx")
    ok = _graph([helper.make_node("Relu", ["x"], ["y"])], [x], [y], 20)
    assert tensorrt.check(ok) == []
    assert [p["op"] for p in tensorrt.check(_graph([helper.make_node("Relu", ["x"], ["y"])], [x], [y], 21))] == [
        "<opset>"]


def test_tensorrt8_rejects_ellipsis_einsum():
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, 4, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5])
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="...ij,...jk->...ik", name="attn")
    model = _graph([node], [a, b], [y], 17)
    assert tensorrt.profile_for_opset(17) == "tensorrt-8.5"
    assert [p["op"] for p in tensorrt.check(model)] == ["Einsum"]
    assert tensorrt.check(_graph([node], [a, b], [y], 20)) == []  # TensorRT 10 takes it


def test_ops_in_loop_bodies_are_checked():
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    it = helper.make_tensor_value_info("i", TensorProto.INT64, [])
    xin = helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [3])
    xout = helper.make_tensor_value_info("x_out", TensorProto.FLOAT, [3])
    cout = helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])
    body = helper.make_graph([helper.make_node("Identity", ["cond"], ["cond_out"]),
                              helper.make_node("Det", ["x_in"], ["x_out"], name="inner_det")],
                             "body", [it, cond, xin], [cout, xout])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])
    loop = helper.make_node("Loop", ["n", "c", "x"], ["y"], body=body, name="loop")
    model = _graph([loop], [x, helper.make_tensor_value_info("n", TensorProto.INT64, []),
                            helper.make_tensor_value_info("c", TensorProto.BOOL, [])], [y], 20)
    problems = tensorrt.check(model)
    assert [p["op"] for p in problems] == ["Det"] and "inner_det" in problems[0]["node"]


def test_table_is_sourced_data():
    t = tensorrt.table()
    assert "onnx-tensorrt" in t["_source"] and "operators.md" in t["_source"]
    prof = t["profiles"]["tensorrt-10"]
    assert prof["max_opset"] == 20 and {"Conv", "Gemm", "Loop", "Einsum"} <= set(prof["supported"])
    assert not set(prof["supported"]) & set(prof["unsupported"])


def test_opset17_export_passes_the_jetpack5_check():
    from jaxrobot.export.onnx_export import to_onnx

    w = np.ones((4, 3), np.float32)
    fn = ExportFunction("f", lambda x: jnp.tanh(x @ w), (TensorSpec("x", (None, 4), "float32"),), ("y",))
    model = to_onnx(fn, opset=17)
    assert {o.version for o in model.opset_import if o.domain == ""} == {17}
    assert tensorrt.require_supported(model, "f.onnx") == "tensorrt-8.5"
    onnx.checker.check_model(model)
