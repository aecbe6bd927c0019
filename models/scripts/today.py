"""Fixtures from today's exporters: torch 2.x's `torch.onnx.export` (dynamo=True, the default since torch 2.9,
and the TorchScript exporter, dynamo=False) on transformers 5 and timm 1.0 vision models, random init, tiny
configs. Writes models/today/<name>.onnx, models/today/reference/<family>.json and models/today/manifest.json.

Run with a torch 2.x virtual environment, NOT Debian's /usr/bin/python3 (torch 1.13):

    python3 -m venv /work/venv-torch2
    /work/venv-torch2/bin/pip install torch transformers timm onnxscript onnxruntime onnx
    OMP_NUM_THREADS=2 /work/venv-torch2/bin/python models/scripts/today.py [--only NAME,...]

torchvision: the local wheel index's torchvision is CUDA-linked; its C ops do not load, and `import torchvision`
(which `import timm` does, for FrozenBatchNorm2d and transforms) dies registering fake kernels for them
(`operator torchvision::nms does not exist`). Nothing here needs torchvision's ops, so before importing timm the
script puts an empty module in sys.modules['torchvision._meta_registrations']: torchvision's pure-Python parts
import, its op registrations are skipped (see _block_torchvision_ops below).

Each family is built once, seeded, with every matrix N(0, 0.2) (so that attention is far from uniform and a wrong
rewrite shows), and exported in several ways (exporter × opset × attention implementation × dynamic batch).
The family's reference (reference/<family>.json) holds a fixed input and three PyTorch outputs for the same
weights: the model as is (softmax), and the model with every convertible attention block replaced in PyTorch by
Hydra attention and by linear-angular attention (kernel-normalised form) — what `vitlin convert` must produce.
The replacement is done by patching torch.nn.functional.scaled_dot_product_attention (HF sdpa, timm fused_attn)
and nn.MultiheadAttention (SigLIP's pooling head), so it sees the q, k, v each model's own code computes
(EVA-02's rotated q and k included).

today_models.py holds the families, the list of exports and the patched attention; this file exports, checks
each export in onnxruntime against PyTorch, writes the references, the manifest and models/README.md's table.

The script also runs onnxruntime's transformers optimizer (model_type 'vit' or 'clip') on each export and records
how many attention blocks it fuses (Attention / MultiHeadAttention nodes) in the manifest.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import types
import warnings
from typing import Dict, List


def _block_torchvision_ops() -> None:
    """Lets `import torchvision` (pulled in by timm) succeed although its CUDA-linked C ops cannot load."""
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))


_block_torchvision_ops()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from today_models import (FAMILIES, REAL_SDPA, Export, Family, all_exports, seeded_init,  # noqa: E402
                          hydra_heads, linear_angular_heads, patched_attention)

OUT_DIR = os.path.join(os.path.dirname(HERE), "today")
REF_DIR = os.path.join(OUT_DIR, "reference")
TOLERANCE = 1e-4
SEED_INPUT = 1207


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ export

def export(model: nn.Module, x: torch.Tensor, path: str, ex: Export, output: str) -> None:
    kw = dict(input_names=["pixel_values"], output_names=[output])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ex.exporter == "dynamo":
            dyn = {"pixel_values": {0: torch.export.Dim("batch", min=1, max=64)}} if ex.dynamic else None
            prog = torch.onnx.export(model, (x,), None, dynamo=True, external_data=False,
                                     dynamic_shapes=dyn, **({} if ex.opset is None else {"opset_version": ex.opset}),
                                     **kw)
            prog.save(path, external_data=False)
        else:
            torch.onnx.export(model, (x,), path, dynamo=False, opset_version=ex.opset, do_constant_folding=True,
                              dynamic_axes={"pixel_values": {0: "batch"}, output: {0: "batch"}} if ex.dynamic else None,
                              **kw)


def ort_run(path: str, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return s.run(None, {"pixel_values": x})[0]


def ort_optimizer_fused(path: str, model_type: str, heads: int, hidden: int) -> object:
    """How many attention blocks onnxruntime's transformers optimizer fuses in this export."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = optimize_model(path, model_type=model_type, num_heads=heads, hidden_size=hidden, opt_level=0)
        # Its fusions are com.microsoft ops; an opset-23 export's own ONNX Attention nodes do not count.
        return sum(1 for n in opt.model.graph.node
                   if n.domain == "com.microsoft" and n.op_type in ("Attention", "MultiHeadAttention"))
    except Exception as err:  # the optimizer rejecting an export is a result too
        return f"error: {type(err).__name__}: {str(err).splitlines()[0][:120]}"


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got.astype(np.float64) - want) / (1 + np.abs(want))))


def tensor_json(name: str, t: torch.Tensor) -> dict:
    a = t.detach().to(torch.float32).contiguous().numpy()
    return {"name": name, "dtype": "float32", "shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def softmax_anchors(mp: onnx.ModelProto) -> int:
    return sum(1 for n in mp.graph.node if n.op_type in ("Softmax", "Attention", "MultiHeadAttention"))


def io_spec(values) -> List[dict]:
    out = []
    for v in values:
        dims = [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]
        out.append({"name": v.name, "shape": dims})
    return out


def make_reference(fam: Family, seed: int) -> dict:
    torch.manual_seed(seed)
    model = seeded_init(fam.build(fam.variants[0]), seed)
    x = torch.randn(1, 3, fam.image, fam.image, generator=torch.Generator().manual_seed(SEED_INPUT + seed))
    with torch.no_grad():
        y = model(x)
        ref = {"family": fam.name, "seed": seed, "tolerance": TOLERANCE, "producer": f"torch {torch.__version__}",
               "note": "input: torch.randn from a Generator seeded with 1207 + seed; outputs: the model as is "
                       "(softmax), and with every convertible attention block computed by Hydra / linear-angular "
                       "(kernel_normalized, a = 1/2, b = 1/pi) in PyTorch on the same weights (eps 1e-6)",
               "inputs": [tensor_json("pixel_values", x)], "outputs": [tensor_json(fam.output, y)]}
        if fam.convertible:
            with patched_attention(lambda q, k, v: REAL_SDPA(q, k, v)):
                same = model(x)  # the patch path itself, with softmax: must reproduce the model
            assert torch.allclose(same, y, atol=1e-5), f"{fam.name}: the patched path does not reproduce the model"
            with patched_attention(hydra_heads):
                ref["hydra"] = {"outputs": [tensor_json(fam.output, model(x))]}
            with patched_attention(linear_angular_heads):
                ref["linear_angular"] = {"mode": "kernel_normalized", "outputs": [tensor_json(fam.output, model(x))]}
    return {"ref": ref, "x": x, "y": y}


README = os.path.join(os.path.dirname(HERE), "README.md")
TABLE_BEGIN = "<!-- today-table:begin (generated by today.py from today/manifest.json) -->"
TABLE_END = "<!-- today-table:end -->"


def readme_table(models: List[dict]) -> str:
    """The exporter × family table of models/README.md: vitlin's found / converted (the manifest's expectation,
    which test/models/today.test.ts checks) beside onnxruntime's transformers optimizer's fused count."""
    head = ("| model | library | attention | exporter | opset | batch | vitlin found / converted | "
            "ORT optimizer fused (model_type) | size |\n|---|---|---|---|---|---|---|---|---|")
    rows = []
    for e in models:
        exporter = "dynamo" if "dynamo=True" in e["exporter"] else "TorchScript"
        rows.append(f"| `{e['name']}` | {e['library']} | {e['attention_implementation']} | {exporter} | {e['opset']} | "
                    f"{'dynamic' if e['dynamic_batch'] else '1'} | {e['expect']['found']} / {e['expect']['convertible']} | "
                    f"{e['ort_optimizer']['fused']} ({e['ort_optimizer']['model_type']}) | {round(e['bytes'] / 1024)} KB |")
    return "\n".join([head, *rows])


def write_readme_table(models: List[dict]) -> None:
    with open(README) as f:
        text = f.read()
    if TABLE_BEGIN not in text or TABLE_END not in text:
        log("models/README.md has no today-table markers; table not written")
        return
    before, rest = text.split(TABLE_BEGIN, 1)
    _, after = rest.split(TABLE_END, 1)
    with open(README, "w") as f:
        f.write(f"{before}{TABLE_BEGIN}\n{readme_table(models)}\n{TABLE_END}{after}")


def recount_ort() -> None:
    path = os.path.join(OUT_DIR, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    for e in manifest["models"]:
        e["ort_optimizer"]["fused"] = ort_optimizer_fused(os.path.join(OUT_DIR, e["file"]), e["ort_optimizer"]["model_type"],
                                                          e["heads"], e["heads"] * e["head_dim"])
        log(e["name"], e["ort_optimizer"])
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    write_readme_table(manifest["models"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated export names (default: all)")
    ap.add_argument("--recount-ort", action="store_true", help="only recount the ORT optimizer's fusions (manifest, README)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    if args.recount_ort:
        return recount_ort()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    os.makedirs(REF_DIR, exist_ok=True)
    import timm
    import transformers

    manifest_path = os.path.join(OUT_DIR, "manifest.json")
    old = {}
    if only and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = {m["name"]: m for m in json.load(f)["models"]}
    entries: Dict[str, dict] = dict(old)
    refs: Dict[str, dict] = {}
    for i, ex in enumerate(all_exports()):
        if only and ex.name not in only:
            continue
        fam = FAMILIES[ex.family]
        seed = 100 + list(FAMILIES).index(fam.name)
        if fam.name not in refs:
            refs[fam.name] = make_reference(fam, seed)
            with open(os.path.join(REF_DIR, f"{fam.name}.json"), "w") as f:
                json.dump(refs[fam.name]["ref"], f, separators=(",", ":"))
                f.write("\n")
        r = refs[fam.name]
        torch.manual_seed(seed)
        model = seeded_init(fam.build(ex.variant), seed)
        path = os.path.join(OUT_DIR, f"{ex.name}.onnx")
        log(f"[{ex.name}] {ex.exporter} opset {ex.opset or 'default'}{' dynamic batch' if ex.dynamic else ''}")
        export(model, r["x"], path, ex, fam.output)
        mp = onnx.load(path)
        err = rel_err(ort_run(path, r["x"].numpy()), r["y"].numpy().astype(np.float64))
        assert err <= TOLERANCE, f"{ex.name}: onnxruntime differs from PyTorch by {err}"
        if ex.dynamic:
            x2 = torch.cat([r["x"], torch.flip(r["x"], dims=[3])])
            with torch.no_grad():
                y2 = model(x2).numpy().astype(np.float64)
            assert rel_err(ort_run(path, x2.numpy()), y2) <= TOLERANCE, f"{ex.name}: batch 2 differs"
        blocks = fam.layers + fam.extra_blocks
        opset = next(o.version for o in mp.opset_import if o.domain in ("", "ai.onnx"))
        entries[ex.name] = {
            "name": ex.name,
            "file": f"{ex.name}.onnx",
            "family": fam.name,
            "library": f"{fam.library} {transformers.__version__ if fam.library == 'transformers' else timm.__version__}",
            "attention_implementation": ex.variant,
            "exporter": f"torch.onnx.export(dynamo={ex.exporter == 'dynamo'})",
            "torch": torch.__version__,
            "opset": opset,
            "dynamic_batch": ex.dynamic,
            "description": fam.description,
            "layers": fam.layers, "heads": fam.heads, "head_dim": fam.head_dim, "tokens": fam.tokens,
            "inputs": io_spec(mp.graph.input), "outputs": io_spec(mp.graph.output),
            "anchors": softmax_anchors(mp),
            "expect": {"found": blocks, "convertible": blocks if fam.convertible else 0,
                       **({"reason": fam.leave_reason} if fam.leave_reason else {})},
            "reference": f"reference/{fam.name}.json",
            "tolerance": TOLERANCE,
            "ort_optimizer": {"model_type": fam.ort_model_type, "fused": ort_optimizer_fused(path, fam.ort_model_type, fam.heads, fam.heads * fam.head_dim)},
            "bytes": os.path.getsize(path),
            "onnxruntime_vs_torch": err,
        }
        log(f"    {os.path.getsize(path)} bytes, {softmax_anchors(mp)} anchors, ort err {err:.2e}, "
            f"ORT optimizer fused {entries[ex.name]['ort_optimizer']['fused']}")
    order = [e.name for e in all_exports()]
    manifest = {
        "version": 1,
        "generator": "OMP_NUM_THREADS=2 <torch 2.x venv>/bin/python models/scripts/today.py",
        "notes": "Fixtures from torch 2.x exporters on transformers / timm models. expect.found: attention blocks "
                 "vitlin must find (one per layer, plus SigLIP's pooling head); expect.convertible: how many it "
                 "converts; expect.reason: what the reason of a block left alone names. reference: per family, "
                 "the softmax output and the Hydra / linear-angular outputs of the same weights in PyTorch. "
                 "ort_optimizer.fused: com.microsoft Attention / MultiHeadAttention nodes onnxruntime.transformers.optimizer "
                 "produces (opt_level 0, the model's num_heads and hidden_size given).",
        "models": [entries[n] for n in order if n in entries],
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    write_readme_table(manifest["models"])


if __name__ == "__main__":
    main()
