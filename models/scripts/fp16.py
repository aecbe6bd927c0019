"""fp32 -> fp16 conversion of an exported ONNX graph with the onnx python API (torch 1.13 cannot run fp16
matmul / layer_norm on CPU, so it cannot trace the model in half precision).

Everything float becomes float16: initializers, Constant nodes, graph inputs/outputs, Cast targets. Ops listed in
FP32_OPS (none with onnxruntime 1.30's CPU kernels for this graph; the hook is kept for ops an older runtime
lacks) get Cast(float) before and Cast(float16) after, as an autocast exporter would emit them. Softmax stays in
float16."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP32_OPS: tuple = ()


def _to16(t: onnx.TensorProto) -> onnx.TensorProto:
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name)


def convert(mp32: onnx.ModelProto, fp32_ops=FP32_OPS):
    mp = onnx.ModelProto()
    mp.CopyFrom(mp32)
    g = mp.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(_to16(t))
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]
    new_nodes, n_cast = [], 0
    for node in g.node:
        for a in node.attribute:
            if node.op_type == "Constant" and a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(_to16(a.t))
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
        if node.op_type in fp32_ops:
            for j, inp in enumerate(node.input):
                c = f"{inp}_to_fp32_{n_cast}"
                new_nodes.append(helper.make_node("Cast", [inp], [c], to=TensorProto.FLOAT))
                node.input[j] = c
                n_cast += 1
            for j, out in enumerate(node.output):
                c = f"{out}_fp32_{n_cast}"
                new_nodes.append(node) if j == 0 else None
                node.output[j] = c
                new_nodes.append(helper.make_node("Cast", [c], [out], to=TensorProto.FLOAT16))
                n_cast += 1
        else:
            new_nodes.append(node)
    del g.node[:]
    g.node.extend(new_nodes)
    note = ("No ops wrapped in Casts (every op has a float16 CPU kernel in onnxruntime 1.30)." if not fp32_ops else
            f"Ops kept in float32 between Casts: {', '.join(fp32_ops)}.")
    return mp, note
