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

The script also runs onnxruntime's transformers optimizer (model_type 'vit' or 'clip') on each export and records
how many attention blocks it fuses (Attention / MultiHeadAttention nodes) in the manifest.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional


def _block_torchvision_ops() -> None:
    """Lets `import torchvision` (pulled in by timm) succeed although its CUDA-linked C ops cannot load."""
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))


_block_torchvision_ops()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(os.path.dirname(HERE), "today")
REF_DIR = os.path.join(OUT_DIR, "reference")
EPS = 1e-6  # the fused ops' default eps (custom-ops/schemas.ts DEFAULT_EPS)
TOLERANCE = 1e-4
SEED_INPUT = 1207


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- the linear attentions

def _clamped_unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(EPS)


def hydra_heads(q, k, v):
    """Hydra on [B, H, N, d] operands: norms over all H·d features; y = q̂ ⊙ Σ_t k̂_t ⊙ v_t."""
    B, H, Nq, d = q.shape
    merge = lambda t: t.double().transpose(1, 2).reshape(B, t.shape[2], H * d)  # noqa: E731
    qm, km, vm = merge(q), merge(k), merge(v)
    y = _clamped_unit(qm) * (_clamped_unit(km) * vm).sum(dim=1, keepdim=True)
    return y.reshape(B, Nq, H, d).transpose(1, 2).to(q.dtype)


def linear_angular_heads(q, k, v):
    """Linear-angular, kernel-normalised, per head: (½Σv + (1/π) q̂(k̂ᵀv)) / (½N + (1/π) q̂·Σk̂)."""
    qn, kn, vd = _clamped_unit(q.double()), _clamped_unit(k.double()), v.double()
    a, b = 0.5, 1 / math.pi
    num = a * vd.sum(dim=2, keepdim=True) + b * (qn @ (kn.transpose(-2, -1) @ vd))
    den = a * k.shape[2] + b * (qn @ kn.sum(dim=2, keepdim=True).transpose(-2, -1))
    return (num / den).to(q.dtype)


_REAL_SDPA = F.scaled_dot_product_attention


class patched_attention:
    """Within the block, F.scaled_dot_product_attention computes `fn` (masks and scale ignored: the callers
    here pass none or a provably no-op one) and nn.MultiheadAttention computes it on its projections."""

    def __init__(self, fn):
        self.fn = fn

    def __enter__(self):
        fn = self.fn

        def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
            assert not is_causal
            if attn_mask is not None:
                assert attn_mask.dtype == torch.bool and bool(attn_mask.all()), "only all-True masks are no-ops"
            return fn(q, k, v)

        self.saved = (F.scaled_dot_product_attention, nn.MultiheadAttention.forward)
        F.scaled_dot_product_attention = sdpa
        nn.MultiheadAttention.forward = lambda mha, query, key, value, **kw: (_mha(mha, query, key, value, fn), None)

    def __exit__(self, *exc):
        F.scaled_dot_product_attention, nn.MultiheadAttention.forward = self.saved


def _mha(mha: nn.MultiheadAttention, query, key, value, fn):
    assert mha.batch_first and mha.in_proj_weight is not None
    E, H = mha.embed_dim, mha.num_heads
    w, b = mha.in_proj_weight, mha.in_proj_bias
    split = lambda t: t.reshape(t.shape[0], t.shape[1], H, E // H).transpose(1, 2)  # noqa: E731
    q = split(F.linear(query, w[:E], b[:E]))
    k = split(F.linear(key, w[E:2 * E], b[E:2 * E]))
    v = split(F.linear(value, w[2 * E:], b[2 * E:]))
    y = fn(q, k, v).transpose(1, 2).reshape(query.shape[0], query.shape[1], E)
    return mha.out_proj(y)


# --------------------------------------------------------------------------------------------- families

@dataclass
class Family:
    name: str
    library: str  # transformers | timm
    build: Callable[[str], nn.Module]  # variant -> module returning one tensor
    variants: List[str]  # attention implementations; the first is the one patched for the reference
    image: int
    layers: int
    heads: int
    head_dim: int
    tokens: int
    output: str
    ort_model_type: str = "vit"
    convertible: bool = True  # whether vitlin converts its blocks (negatives: False)
    extra_blocks: int = 0  # blocks beyond one per layer (SigLIP's pooling head)
    leave_reason: str = ""  # what the reason of a non-convertible block names
    description: str = ""


def _seeded_init(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


class HFOut(nn.Module):
    def __init__(self, model: nn.Module, field_name: str):
        super().__init__()
        self.model, self.field_name = model, field_name

    def forward(self, pixel_values):
        return getattr(self.model(pixel_values=pixel_values), self.field_name)


def _hf(cls_name: str, config_name: str, field_name: str, **config):
    def build(variant: str) -> nn.Module:
        import transformers
        cfg = getattr(transformers, config_name)(**config)
        cfg._attn_implementation = variant
        return HFOut(getattr(transformers, cls_name)(cfg), field_name)
    return build


class TimmOut(nn.Module):
    """forward(x) only: the TorchScript exporter would turn timm's keyword defaults (is_causal=False) into tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values)


def _timm(factory: Callable[[], nn.Module]):
    def build(variant: str) -> nn.Module:
        model = factory()
        for m in model.modules():
            if hasattr(m, "fused_attn"):
                m.fused_attn = variant == "fused"
        return TimmOut(model)
    return build


def _timm_vit(**kw):
    def make():
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(**kw)
    return make


def _timm_deit(**kw):
    def make():
        from timm.models.deit import VisionTransformerDistilled
        return VisionTransformerDistilled(**kw)  # eval mode: the mean of the two heads
    return make


def _timm_eva(**kw):
    def make():
        from timm.models.eva import Eva
        return Eva(**kw)
    return make


HF_VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32,
              patch_size=8, num_labels=10)

FAMILIES: Dict[str, Family] = {f.name: f for f in [
    Family("hf_vit", "transformers", _hf("ViTForImageClassification", "ViTConfig", "logits", **HF_VIT),
           ["sdpa", "eager"], 32, 2, 2, 16, 17, "logits",
           description="ViTForImageClassification, hidden 32, 2 heads × 16, 2 layers, 32 px / patch 8"),
    Family("hf_deit", "transformers", _hf("DeiTForImageClassificationWithTeacher", "DeiTConfig", "logits",
                                          hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                                          intermediate_size=96, image_size=32, patch_size=8, num_labels=10),
           ["sdpa", "eager"], 32, 2, 4, 12, 18, "logits",
           description="DeiTForImageClassificationWithTeacher (class + distillation token), hidden 48, 4 heads × 12"),
    Family("hf_dinov2_s", "transformers", _hf("Dinov2ForImageClassification", "Dinov2Config", "logits",
                                              hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                              mlp_ratio=2, image_size=28, patch_size=7, num_labels=10),
           ["sdpa", "eager"], 28, 2, 2, 16, 17, "logits",
           description="Dinov2ForImageClassification, hidden 32, 2 heads × 16, 28 px / patch 7, layer scale"),
    Family("hf_dinov2_m", "transformers", _hf("Dinov2ForImageClassification", "Dinov2Config", "logits",
                                              hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
                                              mlp_ratio=2, image_size=36, patch_size=6, num_labels=7),
           ["sdpa"], 36, 3, 3, 16, 37, "logits",
           description="Dinov2ForImageClassification, hidden 48, 3 heads × 16, 3 layers, 36 px / patch 6 (37 tokens)"),
    Family("hf_clip", "transformers", _hf("CLIPVisionModelWithProjection", "CLIPVisionConfig", "image_embeds",
                                          hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=4, image_size=32, patch_size=8, projection_dim=16),
           ["sdpa", "eager"], 32, 2, 4, 8, 17, "image_embeds", ort_model_type="clip",
           description="CLIPVisionModelWithProjection, hidden 32, 4 heads × 8, 16-d image_embeds"),
    Family("hf_siglip", "transformers", _hf("SiglipVisionModel", "SiglipVisionConfig", "pooler_output",
                                            hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=2, image_size=32, patch_size=8),
           ["sdpa", "eager"], 32, 2, 2, 16, 16, "pooler_output", extra_blocks=1,
           description="SiglipVisionModel, hidden 32, 2 heads × 16, no class token (16 tokens); pooler_output from "
                       "the attention-pooling head: a learned probe (1 query) attending over the tokens through "
                       "nn.MultiheadAttention"),
    Family("hf_beit", "transformers", _hf("BeitForImageClassification", "BeitConfig", "logits",
                                          hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                          intermediate_size=64, image_size=32, patch_size=8, num_labels=10,
                                          use_relative_position_bias=True),
           ["eager"], 32, 2, 2, 16, 17, "logits", convertible=False, leave_reason="relative-position bias",
           description="BeitForImageClassification with a relative-position bias per layer (negative)"),
    Family("hf_swin", "transformers", _hf("SwinForImageClassification", "SwinConfig", "logits",
                                          image_size=32, patch_size=4, embed_dim=16, depths=[2], num_heads=[2],
                                          window_size=4, num_labels=10),
           ["eager"], 32, 2, 2, 8, 16, "logits", convertible=False, leave_reason="relative-position bias",
           description="SwinForImageClassification, one stage of 2 blocks (8×8 patches, 4×4 windows; block 1 "
                       "shifted, with the shifted-window mask) — relative-position bias (negative)"),
    Family("timm_vit", "timm", _timm(_timm_vit(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                                               mlp_ratio=2, num_classes=10)),
           ["fused", "unfused"], 32, 2, 2, 16, 17, "logits",
           description="timm VisionTransformer, embed 32, 2 heads × 16, packed qkv"),
    Family("timm_deit", "timm", _timm(_timm_deit(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3,
                                                 mlp_ratio=2, num_classes=10)),
           ["fused", "unfused"], 32, 2, 3, 16, 18, "logits",
           description="timm VisionTransformerDistilled (class + distillation token), embed 48, 3 heads × 16"),
    Family("timm_vit_reg", "timm", _timm(_timm_vit(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4,
                                                   mlp_ratio=2, num_classes=10, reg_tokens=4, no_embed_class=True,
                                                   global_pool="avg")),
           ["fused", "unfused"], 32, 2, 4, 8, 21, "logits",
           description="timm VisionTransformer with 4 register tokens (class + 4 + 16 = 21 tokens), 4 heads × 8, avg pool"),
    Family("timm_eva02", "timm", _timm(_timm_eva(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                                                 mlp_ratio=4 * 2 / 3, swiglu_mlp=True, scale_mlp=True,
                                                 use_rot_pos_emb=True, ref_feat_shape=(4, 4), num_classes=10)),
           ["fused", "unfused"], 32, 2, 2, 16, 17, "logits",
           description="timm EVA-02 style Eva: rotary position embeddings on q and k (patch tokens; class token "
                       "passed through), SwiGLU MLP"),
]}


@dataclass
class Export:
    name: str
    family: str
    variant: str
    exporter: str  # dynamo | torchscript
    opset: Optional[int]  # None: the exporter's default
    dynamic: bool = False


def _exports() -> List[Export]:
    e: List[Export] = []
    for fam in FAMILIES.values():
        for variant in fam.variants:
            tag = "" if len(fam.variants) == 1 else f"_{variant}"
            e.append(Export(f"{fam.name}{tag}_dynamo", fam.name, variant, "dynamo", None))
            e.append(Export(f"{fam.name}{tag}_ts17", fam.name, variant, "torchscript", 17))
    # Variants on the first (patched) implementation: opset 23 (ONNX Attention), 17, and a dynamic batch.
    for fam in ["hf_vit", "hf_dinov2_s", "hf_clip", "hf_siglip", "timm_vit", "timm_vit_reg", "timm_eva02"]:
        v = FAMILIES[fam].variants[0]
        e.append(Export(f"{fam}_{v}_dynamo23", fam, v, "dynamo", 23))
    # The dynamo exporter at opset 17 (its output converted down by onnxscript's version converter).
    for fam in ["hf_vit", "hf_siglip", "timm_vit"]:
        v = FAMILIES[fam].variants[0]
        e.append(Export(f"{fam}_{v}_dynamo17", fam, v, "dynamo", 17))
    for fam in ["hf_vit", "hf_deit", "timm_vit", "timm_eva02"]:
        v = FAMILIES[fam].variants[0]
        e.append(Export(f"{fam}_{v}_dynamo_dyn", fam, v, "dynamo", None, dynamic=True))
    e.append(Export("hf_vit_sdpa_ts17_dyn", "hf_vit", "sdpa", "torchscript", 17, dynamic=True))
    return e


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
    model = _seeded_init(fam.build(fam.variants[0]), seed)
    x = torch.randn(1, 3, fam.image, fam.image, generator=torch.Generator().manual_seed(SEED_INPUT + seed))
    with torch.no_grad():
        y = model(x)
        ref = {"family": fam.name, "seed": seed, "tolerance": TOLERANCE, "producer": f"torch {torch.__version__}",
               "note": "input: torch.randn from a Generator seeded with 1207 + seed; outputs: the model as is "
                       "(softmax), and with every convertible attention block computed by Hydra / linear-angular "
                       "(kernel_normalized, a = 1/2, b = 1/pi) in PyTorch on the same weights (eps 1e-6)",
               "inputs": [tensor_json("pixel_values", x)], "outputs": [tensor_json(fam.output, y)]}
        if fam.convertible:
            with patched_attention(lambda q, k, v: _REAL_SDPA(q, k, v)):
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
    for i, ex in enumerate(_exports()):
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
        model = _seeded_init(fam.build(ex.variant), seed)
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
    order = [e.name for e in _exports()]
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
