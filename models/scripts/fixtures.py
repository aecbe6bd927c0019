"""Random-weight fixtures: one tiny ViT per exporter style, the fp16 variant, the hand-built
Attention-23 / com.microsoft forms, and the two negatives. `build_all()` returns their manifest entries."""
from __future__ import annotations

import os
from typing import List

import onnx
import torch
import torchvision

import common as C
from arch import (CLIPAttention, HFSelfAttention, QuickGELU, SDPAAttention, SwinLike, TimmAttention, TinyBert, ViT,
                  randomize)
import onnx_builder
import fp16


def _path(name: str) -> str:
    return os.path.join(C.MODELS, f"{name}.onnx")


def _image_fixture(name, model, *, seed, shape, opset, dynamic=False, batch=1, input_name="pixel_values",
                   output_name="logits", ref_note=""):
    """Export an image model, record a seeded input and its PyTorch output."""
    x = C.seeded_input(seed, batch, *shape)
    y = model(x).detach()  # grad mode on: the same code path the export traces
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic else None
    mp = C.export(model, (x,), _path(name), input_names=[input_name], output_names=[output_name],
                  opset=opset, dynamic_axes=axes)
    C.write_reference(name, {input_name: x}, {output_name: y}, seed=seed,
                      note=ref_note or f"input = torch.randn{(batch, *shape)} from torch.Generator seed {seed}")
    return mp


def torchvision_vit() -> dict:
    name = "tv_vit_mha"
    C.setup(1)
    m = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                             mlp_dim=64, num_classes=10)
    randomize(m, 1)
    mp = _image_fixture(name, m, seed=101, shape=(3, 32, 32), opset=14)
    return C.manifest_entry(
        name, mp, exporter="torchvision", dtype="float32", layers=2, heads=2, head_dim=16, embed_dim=32, tokens=17,
        description="torchvision.models.VisionTransformer(image_size=32, patch_size=8, 2 layers, 2 heads, hidden 32, "
                    "mlp 64): nn.MultiheadAttention as torch 1.13 decomposes it (packed in_proj, q / sqrt(d), "
                    "(B*H, N, d) bmm, Softmax, bmm); LayerNorm decomposed (opset 14).",
        blocks=[C.block(i, "softmax", 2, 16, scale="div-q") for i in range(2)],
        expect="convert", image_size=32, patch_size=8, channels=3,
        other_marker_ops={"::Conv": 1, "::Sqrt": 5})


def _hf_model():
    C.setup(2)
    m = ViT(image=32, patch=8, in_ch=3, dim=48, depth=2, mlp=96, classes=10, eps=1e-12,
            attn_factory=lambda i: HFSelfAttention(48, 3))
    return randomize(m, 2)


def hf_vit(opset: int, dynamic: bool) -> dict:
    name = "hf_vit_op12" if opset == 12 else "hf_vit_op17_dyn"
    m = _hf_model()
    mp = _image_fixture(name, m, seed=102, shape=(3, 32, 32), opset=opset, dynamic=dynamic,
                        batch=2 if dynamic else 1)
    return C.manifest_entry(
        name, mp, exporter="huggingface-vit", dtype="float32", layers=2, heads=3, head_dim=16, embed_dim=48,
        tokens=17,
        description=f"Hugging Face ViTSelfAttention style by hand: separate q/k/v Linear, view/permute from x.size(), "
                    f"MatMul, Div sqrt(d), Softmax, MatMul, permute/contiguous/view; opset {opset}"
                    + (", dynamic batch axis" if dynamic else ", batch 1")
                    + (", LayerNorm decomposed" if opset < 17 else "") + ". Same weights in both opsets.",
        blocks=[C.block(i, "softmax", 3, 16, scale="div-scores") for i in range(2)],
        expect="convert", image_size=32, patch_size=8, channels=3,
        other_marker_ops={"::Conv": 1, "::Sqrt": 5 if opset < 17 else 0})


def timm_model():
    C.setup(3)
    m = ViT(image=32, patch=8, in_ch=3, dim=64, depth=2, mlp=128, classes=10,
            attn_factory=lambda i: TimmAttention(64, 4))
    return randomize(m, 3)


TIMM_SEED = 103


def timm_vit() -> dict:
    name = "timm_vit"
    m = timm_model()
    mp = _image_fixture(name, m, seed=TIMM_SEED, shape=(3, 32, 32), opset=17)
    return C.manifest_entry(
        name, mp, exporter="timm", dtype="float32", layers=2, heads=4, head_dim=16, embed_dim=64, tokens=17,
        description="timm Attention style: one qkv Linear, reshape(B,N,3,H,d).permute(2,0,3,1,4), unbind, "
                    "q = q * scale, q @ k^T, Softmax, @ v, transpose(1,2).reshape(B,N,C); opset 17, batch 1.",
        blocks=[C.block(i, "softmax", 4, 16, scale="mul-q") for i in range(2)],
        expect="convert", image_size=32, patch_size=8, channels=3, other_marker_ops={"::Conv": 1})


def sdpa_vit() -> dict:
    name = "sdpa_vit"
    C.setup(4)
    m = randomize(ViT(image=32, patch=8, in_ch=3, dim=32, depth=2, mlp=64, classes=10,
                      attn_factory=lambda i: SDPAAttention(32, 2)), 4)
    mp = _image_fixture(name, m, seed=104, shape=(3, 32, 32), opset=14)
    return C.manifest_entry(
        name, mp, exporter="sdpa-decomposition", dtype="float32", layers=2, heads=2, head_dim=16, embed_dim=32,
        tokens=17,
        description="scaled_dot_product_attention as PyTorch decomposes it (and as ONNX Attention-23's function "
                    "body does): Mul(q, sqrt(s)), Mul(Transpose(k), sqrt(s)), MatMul, Softmax, MatMul; s = 1/sqrt(d). "
                    "timm qkv layout; opset 14, LayerNorm decomposed.",
        blocks=[C.block(i, "softmax", 2, 16, scale="sqrt-on-q-and-kT") for i in range(2)],
        expect="convert", image_size=32, patch_size=8, channels=3,
        other_marker_ops={"::Conv": 1, "::Sqrt": 5})


def clip_vit() -> dict:
    name = "clip_vit"
    C.setup(5)
    m = randomize(ViT(image=32, patch=8, in_ch=3, dim=32, depth=2, mlp=64, classes=16, eps=1e-5, pre_norm=True,
                      act=QuickGELU, patch_bias=False, attn_factory=lambda i: CLIPAttention(32, 4)), 5)
    mp = _image_fixture(name, m, seed=105, shape=(3, 32, 32), opset=13, output_name="image_embeds")
    return C.manifest_entry(
        name, mp, exporter="clip-vision", dtype="float32", layers=2, heads=4, head_dim=8, embed_dim=32, tokens=17,
        description="Hugging Face CLIPVisionModel style: patch conv without bias, class embedding, pre_layrnorm, "
                    "q_proj(x) * scale, (B*heads, N, d) views, bmm, Softmax, bmm, quick_gelu MLP, post LN on the "
                    "class token and a projection to 16-d image_embeds; opset 13, LayerNorm decomposed.",
        blocks=[C.block(i, "softmax", 4, 8, scale="mul-q-after-proj") for i in range(2)],
        expect="convert", image_size=32, patch_size=8, channels=3,
        other_marker_ops={"::Conv": 1, "::Sqrt": 6})


def deit_vit() -> dict:
    name = "deit_vit"
    C.setup(6)
    m = randomize(ViT(image=32, patch=8, in_ch=3, dim=32, depth=2, mlp=64, classes=10, distilled=True,
                      attn_factory=lambda i: TimmAttention(32, 2)), 6)
    mp = _image_fixture(name, m, seed=106, shape=(3, 32, 32), opset=17)
    return C.manifest_entry(
        name, mp, exporter="deit", dtype="float32", layers=2, heads=2, head_dim=16, embed_dim=32, tokens=18,
        description="DeiT distilled: class + distillation token (18 tokens), timm attention, "
                    "(head(x[:,0]) + head_dist(x[:,1])) / 2; opset 17.",
        blocks=[C.block(i, "softmax", 2, 16, scale="mul-q") for i in range(2)],
        expect="convert", image_size=32, patch_size=8, channels=3, other_marker_ops={"::Conv": 1})


def timm_vit_fp16() -> dict:
    name = "timm_vit_fp16"
    C.setup(7)
    m = randomize(ViT(image=32, patch=8, in_ch=3, dim=32, depth=2, mlp=64, classes=10,
                      attn_factory=lambda i: TimmAttention(32, 2)), 7, std=0.15)
    # torch 1.13 has no fp16 matmul/layer_norm on CPU: export fp32, convert the graph to fp16 (fp16.py),
    # and take the reference from the fp32 model run on the fp16-rounded weights and input.
    m16 = m.half().float()
    x = C.seeded_input(107, 1, 3, 32, 32).half()
    with torch.no_grad():
        y = m16(x.float()).half()
    tmp = os.path.join(C.GENERATED, f"{name}.fp32.onnx")
    mp32 = C.export(m16, (x.float(),), tmp, input_names=["pixel_values"], output_names=["logits"], opset=17)
    mp, casts = fp16.convert(mp32)
    C.save_model(mp, _path(name))
    C.write_reference(name, {"pixel_values": x}, {"logits": y}, seed=107, dtype="float16",
                      note="input = torch.randn(1,3,32,32) seed 107 rounded to float16; output = the fp32 model on "
                           "float16-rounded weights, rounded to float16")
    return C.manifest_entry(
        name, mp, exporter="timm-fp16", dtype="float16", layers=2, heads=2, head_dim=16, embed_dim=32, tokens=17,
        description="timm style exported in fp32 by torch 1.13 (no fp16 matmul on CPU), then converted with the "
                    "onnx python API: float initializers/Constants, graph inputs/outputs and Cast targets to float16; "
                    "Softmax stays float16. " + casts,
        blocks=[C.block(i, "softmax", 2, 16, scale="mul-q") for i in range(2)],
        expect="convert", image_size=32, patch_size=8, channels=3, other_marker_ops={"::Conv": 1})


def built_attention_ops() -> List[dict]:
    """Attention-23, com.microsoft.MultiHeadAttention and com.microsoft.Attention wiring timm_vit's weights.
    The reference is timm_vit's PyTorch output for the same seeded input (batch 2)."""
    m = timm_model()
    x = C.seeded_input(TIMM_SEED + 1000, 2, 3, 32, 32)
    with torch.no_grad():
        y = m(x)
    out = []
    specs = [
        ("onnx_attention23_vit", "onnx-attention", "onnx-attention-23",
         "ONNX opset-23 Attention (3-D q/k/v, q_num_heads = kv_num_heads = 4, default scale 1/sqrt(d)) after "
         "separate q/k/v MatMul+Add; not checkable by onnx 1.12's checker."),
        ("ms_mha_vit", "ms-multiheadattention", "ort-multiheadattention",
         "onnxruntime com.microsoft.MultiHeadAttention(query, key, value, bias[3D], num_heads=4) after bias-free "
         "q/k/v MatMuls (the form ORT's transformer optimizer emits); default opset 17."),
        ("ms_attention_vit", "ms-attention", "ort-attention",
         "onnxruntime com.microsoft.Attention(input, weights[D,3D], bias[3D], num_heads=4): the qkv projection "
         "is inside the op; default opset 17."),
    ]
    for name, kind, exporter, desc in specs:
        mp = onnx_builder.build_vit(m, kind, name)
        C.save_model(mp, _path(name), check=(kind != "onnx-attention"))
        C.write_reference(name, {"pixel_values": x}, {"logits": y}, seed=TIMM_SEED + 1000,
                          note="timm_vit (same weights) in PyTorch on torch.randn(2,3,32,32) seed %d" % (TIMM_SEED + 1000))
        out.append(C.manifest_entry(
            name, mp, exporter=exporter, dtype="float32", layers=2, heads=4, head_dim=16, embed_dim=64, tokens=17,
            description=desc + " Built with onnx.helper from timm_vit's weights; dynamic batch.",
            blocks=[C.block(i, kind, 4, 16, scale="in-op") for i in range(2)],
            expect="convert", image_size=32, patch_size=8, channels=3, other_marker_ops={"::Conv": 1},
            same_weights_as="timm_vit"))
    return out


def swin_window() -> dict:
    name = "swin_window_relpos"
    C.setup(8)
    m = randomize(SwinLike(), 8)
    mp = _image_fixture(name, m, seed=108, shape=(3, 32, 32), opset=17)
    return C.manifest_entry(
        name, mp, exporter="swin-window", dtype="float32", layers=2, heads=2, head_dim=16, embed_dim=32, tokens=16,
        description="Swin-like window attention: 32x32, patch 4 -> 8x8 grid, 4x4 windows (16 tokens, 4 windows per "
                    "image, no shift), timm layout with a learned relative-position bias gathered from a table and "
                    "added to the scores before Softmax; mean pool + head; opset 17.",
        blocks=[C.block(i, "softmax+relpos-bias", 2, 16, scale="mul-q", window=4) for i in range(2)],
        expect="leave", reason="additive relative-position bias before softmax: no linear-attention equivalent",
        image_size=32, patch_size=4, channels=3, other_marker_ops={"::Conv": 1})


def bert_mask() -> dict:
    name = "bert_mask"
    C.setup(9)
    m = randomize(TinyBert(), 9)
    g = torch.Generator().manual_seed(109)
    ids = torch.randint(0, 100, (2, 16), generator=g)
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[0, 11:] = 0  # padding in the first sequence
    mask[1, 14:] = 0
    with torch.no_grad():
        y = m(ids, mask)
    mp = C.export(m, (ids, mask), _path(name), input_names=["input_ids", "attention_mask"],
                  output_names=["last_hidden_state"], opset=14,
                  dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                                "last_hidden_state": {0: "batch", 1: "sequence"}})
    C.write_reference(name, {"input_ids": ids, "attention_mask": mask}, {"last_hidden_state": y}, seed=109,
                      note="input_ids = torch.randint(0,100,(2,16)) seed 109; mask zero from token 11 (row 0), 14 (row 1)")
    return C.manifest_entry(
        name, mp, exporter="bert", dtype="float32", layers=2, heads=2, head_dim=16, embed_dim=32, tokens="sequence",
        description="Tiny post-LN BERT text encoder (vocab 100, max 32 positions): attention_mask input turned into "
                    "(1 - mask) * -10000 and added to the scaled scores before Softmax; dynamic batch and sequence; "
                    "opset 14, LayerNorm decomposed.",
        blocks=[C.block(i, "softmax+mask", 2, 16, scale="div-scores") for i in range(2)],
        expect="leave", reason="attention mask added to the scores before softmax (and not a vision model)",
        other_marker_ops={"::Sqrt": 5})


def build_all() -> List[dict]:
    entries = [torchvision_vit(), hf_vit(12, False), hf_vit(17, True), timm_vit(), sdpa_vit(), clip_vit(),
               deit_vit(), timm_vit_fp16()]
    entries += built_attention_ops()
    entries += [swin_window(), bert_mask()]
    return entries
