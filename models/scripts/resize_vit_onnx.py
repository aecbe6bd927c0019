"""Re-target a torchvision ViT export (export_vit_b16.py, torch 1.13's exporter) to another image size.

    /usr/bin/python3 models/scripts/resize_vit_onnx.py IN.onnx OUT.onnx --from-size 224 --to-size 1024

Why: tracing holds every intermediate tensor, so exporting at 1024 px (4097 tokens, a 4097² attention matrix
per head and layer) takes 14 GB for ViT-B/16 and more than 17 GB for ViT-L/16. The traced graphs at two
sizes differ only in sizes (checked node by node against a direct ViT-B/16 1024 px export): the input's
H and W, the positional embedding's length, the patch Reshape's [1, C, patches] and the attention blocks'
[tokens, heads, head_dim], [tokens, C] and [tokens, 1, C] Reshape constants. So the model is exported
at 224 px (a few GB) and re-targeted here: those int64 constants get the new patch and token counts, and
the positional embedding is redrawn, N(0, 0.02) seeded, at its new length. Refuses a graph where the old
counts appear anywhere else (they would be ambiguous).
"""
from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import numpy_helper


def resize(model: onnx.ModelProto, from_size: int, to_size: int, patch: int = 16, seed: int = 0) -> None:
    old_patches, new_patches = (from_size // patch) ** 2, (to_size // patch) ** 2
    mapping = {old_patches: new_patches, old_patches + 1: new_patches + 1}
    graph = model.graph
    changed = 0
    for node in graph.node:
        for attr in node.attribute:
            if attr.type != onnx.AttributeProto.TENSOR or attr.t.data_type != onnx.TensorProto.INT64:
                continue
            values = numpy_helper.to_array(attr.t)
            if not any(int(v) in mapping for v in values.flat):
                continue
            if node.op_type != "Constant" or values.ndim != 1:
                raise SystemExit(f"{node.name}: patch/token count in an unexpected place ({node.op_type}, {values.tolist()})")
            new = np.array([mapping.get(int(v), int(v)) for v in values], dtype=np.int64)
            attr.t.CopyFrom(numpy_helper.from_array(new, attr.t.name))
            changed += 1
    for init in graph.initializer:
        if init.data_type == onnx.TensorProto.INT64 and any(int(v) in mapping for v in numpy_helper.to_array(init).flat):
            raise SystemExit(f"initializer {init.name}: patch/token count in an unexpected place")
    pos = next(i for i in graph.initializer if i.name.endswith("pos_embedding"))
    assert list(pos.dims)[1] == old_patches + 1, f"positional embedding has {pos.dims}, expected {old_patches + 1} rows"
    rng = np.random.default_rng(seed)
    values = (rng.standard_normal((1, new_patches + 1, pos.dims[2])) * 0.02).astype(np.float32)
    pos.CopyFrom(numpy_helper.from_array(values, pos.name))
    image = graph.input[0].type.tensor_type.shape.dim
    assert image[2].dim_value == from_size and image[3].dim_value == from_size, "input is not [N, 3, from, from]"
    image[2].dim_value = image[3].dim_value = to_size
    del graph.value_info[:]  # shapes inferred at the old size
    print(f"resized {from_size} → {to_size} px: {changed} constants, positional embedding {old_patches + 1} → {new_patches + 1} rows")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--from-size", type=int, required=True)
    ap.add_argument("--to-size", type=int, required=True)
    ap.add_argument("--patch", type=int, default=16)
    args = ap.parse_args()
    model = onnx.load(args.input)
    resize(model, args.from_size, args.to_size, args.patch)
    onnx.save(model, args.output)


if __name__ == "__main__":
    main()
