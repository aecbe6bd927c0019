"""The models of today.py: the families (transformers 5 / timm 1.0 vision models, tiny configs, seeded
N(0, 0.2) weights), the exports of each (exporter × opset × attention implementation × batch), and Hydra /
linear-angular attention patched into PyTorch for the references (see today.py's docstring)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-6  # the fused ops' default eps (custom-ops/schemas.ts DEFAULT_EPS)


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


REAL_SDPA = F.scaled_dot_product_attention


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


def seeded_init(model: nn.Module, seed: int) -> nn.Module:
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


def all_exports() -> List[Export]:
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
