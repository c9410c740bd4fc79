"""A tiny real ONNX model: the registry loads every model with onnxruntime before promoting it."""

from __future__ import annotations


def identity_onnx(tag: str = "") -> bytes:
    """An ONNX model that returns its one float input; ``tag`` (its doc string) makes the bytes
    differ.
    """
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [value("x", TensorProto.FLOAT, [1])],
        [value("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], doc_string=tag, ir_version=9
    )
    return model.SerializeToString()
