"""Build a timm-style ViT (arch.ViT with TimmAttention) directly with onnx.helper, with the attention computed by
one fused op: ONNX Attention (opset 23), com.microsoft.MultiHeadAttention or com.microsoft.Attention.

torch 1.13 cannot emit those ops, so the graph is written node by node from the module's weights; everything
outside attention is plain opset-17 ops (LayerNormalization, erf-GELU, MatMul+Add, Conv)."""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _G:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, arr, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.array(arr, dtype=dtype, order="C"), name))  # 0-d stays 0-d
        return name

    def op(self, op_type, inputs, name_hint, domain=None, **attrs):
        self.n += 1
        out = f"{name_hint}_{self.n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"{op_type}_{self.n}",
                                           domain=domain, **attrs))
        return out


def _np(t):
    return t.detach().cpu().numpy().astype(np.float32)


def build_vit(m, kind: str, name: str) -> onnx.ModelProto:
    """m: arch.ViT with TimmAttention blocks. kind: onnx-attention | ms-multiheadattention | ms-attention."""
    g = _G()
    D = m.cls_token.shape[-1]
    P = m.patch_embed.kernel_size[0]
    x = "pixel_values"
    pe = g.op("Conv", [x, g.const("patch_embed.weight", _np(m.patch_embed.weight)),
                       g.const("patch_embed.bias", _np(m.patch_embed.bias))], "patch",
              kernel_shape=[P, P], strides=[P, P])
    pe = g.op("Reshape", [pe, g.const("shape_bd_", [0, D, -1], np.int64)], "flat")
    pe = g.op("Transpose", [pe], "tokens", perm=[0, 2, 1])
    shp = g.op("Shape", [x], "shape")
    b = g.op("Slice", [shp, g.const("s0", [0], np.int64), g.const("s1", [1], np.int64)], "batch")
    cls_shape = g.op("Concat", [b, g.const("one_d", [1, D], np.int64)], "cls_shape", axis=0)
    cls = g.op("Expand", [g.const("cls_token", _np(m.cls_token)), cls_shape], "cls")
    h = g.op("Concat", [cls, pe], "cat", axis=1)
    h = g.op("Add", [h, g.const("pos_embed", _np(m.pos_embed))], "embed")

    def ln(inp, mod, pfx):
        return g.op("LayerNormalization", [inp, g.const(pfx + ".weight", _np(mod.weight)),
                                           g.const(pfx + ".bias", _np(mod.bias))], pfx, axis=-1, epsilon=mod.eps)

    def linear(inp, w, bias, pfx):  # torch Linear weight (out, in) -> MatMul by w^T
        y = g.op("MatMul", [inp, g.const(pfx + ".wT", w.T)], pfx + "_mm")
        return g.op("Add", [y, g.const(pfx + ".b", bias)], pfx) if bias is not None else y

    for i, blk in enumerate(m.blocks):
        p = f"blocks.{i}"
        a = blk.attn
        H = a.num_heads
        t = ln(h, blk.norm1, p + ".norm1")
        W, B = _np(a.qkv.weight), _np(a.qkv.bias)  # (3D, D), rows q | k | v
        Wq, Wk, Wv = W[:D], W[D:2 * D], W[2 * D:]
        Bq, Bk, Bv = B[:D], B[D:2 * D], B[2 * D:]
        if kind == "onnx-attention":
            q = linear(t, Wq, Bq, p + ".q")
            k = linear(t, Wk, Bk, p + ".k")
            v = linear(t, Wv, Bv, p + ".v")
            att = g.op("Attention", [q, k, v], p + ".attention", q_num_heads=H, kv_num_heads=H)
        elif kind == "ms-multiheadattention":
            q = linear(t, Wq, None, p + ".q")
            k = linear(t, Wk, None, p + ".k")
            v = linear(t, Wv, None, p + ".v")
            att = g.op("MultiHeadAttention", [q, k, v, g.const(p + ".qkv_bias", B)], p + ".mha",
                       domain="com.microsoft", num_heads=H)
        elif kind == "ms-attention":
            att = g.op("Attention", [t, g.const(p + ".qkv_weight", W.T), g.const(p + ".qkv_bias", B)],
                       p + ".attention", domain="com.microsoft", num_heads=H)
        else:
            raise ValueError(kind)
        o = linear(att, _np(a.proj.weight), _np(a.proj.bias), p + ".proj")
        h = g.op("Add", [h, o], p + ".res1")
        t = ln(h, blk.norm2, p + ".norm2")
        f = linear(t, _np(blk.mlp.fc1.weight), _np(blk.mlp.fc1.bias), p + ".fc1")
        e = g.op("Erf", [g.op("Div", [f, g.const(p + ".sqrt2", math.sqrt(2.0))], p + ".gelu_div")], p + ".erf")
        e = g.op("Add", [e, g.const(p + ".one", 1.0)], p + ".gelu_add")
        f = g.op("Mul", [g.op("Mul", [f, e], p + ".gelu_mul"), g.const(p + ".half", 0.5)], p + ".gelu")
        f = linear(f, _np(blk.mlp.fc2.weight), _np(blk.mlp.fc2.bias), p + ".fc2")
        h = g.op("Add", [h, f], p + ".res2")
    h = ln(h, m.norm, "norm")
    h = g.op("Gather", [h, g.const("cls_index", 0, np.int64)], "cls_out", axis=1)
    y = linear(h, _np(m.head.weight), _np(m.head.bias), "head")
    g.nodes[-1].output[0] = "logits"

    C_in = m.patch_embed.in_channels
    img = m.grid * P
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", C_in, img, img])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", m.head.out_features])],
        g.inits)
    if kind == "onnx-attention":
        opsets = [helper.make_opsetid("", 23)]
        ir = 11  # IR version of ONNX 1.18+, where opset 23 lives
    else:
        opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
        ir = 8
    mp = helper.make_model(graph, opset_imports=opsets, producer_name="vitlin-onnx-builder")
    mp.ir_version = ir
    mp.doc_string = f"vitlin fixture {name}: timm_vit's weights with {kind} blocks"
    return mp
