"""Export a torchvision ViT-B/16 (or ViT-L/16) with random weights at a given image size, for benchmarks.
NOT part of make_all.py and not committed (ViT-B/16 is ~350 MB, ViT-L/16 ~1.2 GB).

    /usr/bin/python3 models/scripts/export_vit_b16.py OUT.onnx [--image-size 224|384|512|1024] [--large]
                                                       [--no-attention] [--batch N | --dynamic-batch] [--opset 17]

The model is constructed with that image_size (torchvision's VisionTransformer(image_size=...)), so the
positional embedding has (size/16)^2 + 1 rows: 197 tokens at 224, 577 at 384, 1025 at 512, 4097 at 1024.

--no-attention exports the same model with the token mixing removed, the "floor" for speed comparisons:
each attention block computes its packed in-projection exactly as before (x @ W_in^T + b, all of q, k and v, so
the projection cost is unchanged), keeps only v, and applies out_proj to it: attention output = out_proj(v),
i.e. every token attends only to itself. No Softmax, no N^2 term; q and k are computed and dropped (an optimizer
may remove their share of the MatMul only by splitting it, which onnxruntime does not do).
Weights are N(0, 0.02) for matrices (seeded), so runs are repeatable.

Above 384 px the model is traced at 224 px and re-targeted (resize_vit_onnx.py: the traced graphs differ only in
sizes), because tracing holds every intermediate: a direct 1024 px export takes 14 GB for ViT-B/16 and more than
17 GB for ViT-L/16. --trace-size overrides it (= --image-size traces directly).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import onnx
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import resize_vit_onnx  # noqa: E402


class NoAttention(nn.Module):
    """Drop-in for nn.MultiheadAttention(batch_first=True) in torchvision's EncoderBlock: out_proj(v)."""

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        self.in_proj_weight, self.in_proj_bias = mha.in_proj_weight, mha.in_proj_bias
        self.out_proj = mha.out_proj
        self.embed_dim = mha.embed_dim

    def forward(self, query, key, value, need_weights=False):
        qkv = nn.functional.linear(query, self.in_proj_weight, self.in_proj_bias)
        v = qkv[..., 2 * self.embed_dim:]
        return self.out_proj(v), None


def build(large: bool, image_size: int, no_attention: bool, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    ctor = torchvision.models.vit_l_16 if large else torchvision.models.vit_b_16
    model = ctor(weights=None, image_size=image_size)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    if no_attention:
        for layer in model.encoder.layers:
            layer.self_attention = NoAttention(layer.self_attention)
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output .onnx path")
    ap.add_argument("--image-size", type=int, default=224, help="224, 384, 512, 1024 (any multiple of 16)")
    ap.add_argument("--large", action="store_true", help="ViT-L/16 instead of ViT-B/16")
    ap.add_argument("--no-attention", action="store_true", help="attention output = out_proj(v): the speed floor")
    ap.add_argument("--batch", type=int, default=1, help="fixed batch size of the export (default 1)")
    ap.add_argument("--dynamic-batch", action="store_true", help="symbolic 'batch' axis instead")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--trace-size", type=int, default=None,
                    help="trace at this size and re-target the graph to --image-size (default: 224 above 384 px)")
    args = ap.parse_args()
    assert args.image_size % 16 == 0, "image size must be a multiple of the patch size 16"
    trace_size = args.trace_size or (224 if args.image_size > 384 else args.image_size)

    torch.set_num_threads(2)
    C.quiet_export_warnings()
    t0 = time.time()
    model = build(args.large, trace_size, args.no_attention)
    x = torch.randn(args.batch, 3, trace_size, trace_size)
    axes = {"pixel_values": {0: "batch"}, "logits": {0: "batch"}} if args.dynamic_batch else None
    # Weights > 2 GB (ViT-L at any size is ~1.2 GB, fine) would need external data; not handled here.
    torch.onnx.export(model, (x,), args.out, opset_version=args.opset, input_names=["pixel_values"],
                      output_names=["logits"], dynamic_axes=axes, do_constant_folding=True)
    if trace_size != args.image_size:
        del model
        exported = onnx.load(args.out)
        resize_vit_onnx.resize(exported, trace_size, args.image_size)
        onnx.save(exported, args.out)
    tokens = (args.image_size // 16) ** 2 + 1
    print(f"{args.out}: {'ViT-L/16' if args.large else 'ViT-B/16'} at {args.image_size} px ({tokens} tokens), "
          f"{'no attention' if args.no_attention else 'softmax attention'}, "
          f"{os.path.getsize(args.out) / 2**20:.0f} MiB, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
