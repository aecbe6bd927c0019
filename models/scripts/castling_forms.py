"""Castling-ViT models in several export forms of our own, to test that exact fusion holds by meaning.

Each form is a tiny Fashion-MNIST ViT (28x28, patch 4: 49 patches + cls = 50 tokens) whose attention is
linear-angular per head (REFERENCE.md), in one of the two forms:

    reference          x = 1/2 v + (1/pi) q^(k^T v);  x = x / ||x||            (the authors' released code)
    kernel-normalized  y = (1/2 sum_j v_j + (1/pi) q^(k^T v)) / (1/2 N + (1/pi) q^ . sum_j k^_j)   (the paper)

plus a depthwise conv on v, in one of two layouts:

    grid    3x3 Conv2d over the 7x7 patch grid; the cls token is not on it: a zero row is concatenated back
    tokens  1-D Conv1d (kernel 3) along the token order, cls token included

plus the auxiliary softmax branch of Castling's training, multiplied by a gate that is 0 at export:

    mul0    `0.0 * branch`: a Mul by a literal 0 (a Constant)
    init    `self.gate * branch` with the buffer gate = 0 (a scalar initializer)

The forms vary dims, heads and the order of operations (which Add input comes first, where the 1/2 and 1/pi
weights sit, (q^ k^T) v vs q^ (k^T v), sum-then-weight vs weight-then-sum, MatMul vs Mul+ReduceSum for q^ . sum k^,
Div vs a Mul by the reciprocal, a common factor on numerator and denominator, the conv added before or after the
heads are merged, packed qkv vs separate q/k/v Linear, F.normalize vs x / x.norm(), q and k normalised before or
after the head split).

Trained briefly (the gate goes 1 -> 0 over the first 60 % of the steps, 0 after) so that the top-1 check on the
sample means something. `build_all(reuse)` exports them and returns their manifest entries:

    /usr/bin/python3 models/scripts/castling_forms.py     # these models only; rewrites their manifest entries
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import FrozenSet, List

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common as C  # noqa: E402
from arch import ViT  # noqa: E402

PATCH = 4
GRID = 28 // PATCH
TOKENS = GRID * GRID + 1
STEPS = int(os.environ.get("VITLIN_CASTLING_FORM_STEPS", "300"))
BATCH = 96
TEST_IMAGES = 2000
GATE_OFF = 0.6


@dataclass(frozen=True)
class Form:
    name: str
    form: str  # reference | kernel-normalized
    conv: str  # grid | tokens
    gate: str  # mul0 | init
    dim: int
    heads: int
    depth: int
    seed: int
    order: FrozenSet[str] = field(default_factory=frozenset)

    def describe(self) -> str:
        return ", ".join(sorted(self.order)) or "default order"


FORMS = [
    # The model: kernel-normalised, grid conv with the zero row concatenated back, gate Mul by 0.
    Form("fmnist_castling_kn_grid_mul0", "kernel-normalized", "grid", "mul0", 64, 4, 2, 21),
    Form("fmnist_castling_kn_tokens_init", "kernel-normalized", "tokens", "init", 48, 3, 2, 22,
         frozenset({"angular-first", "weight-then-sum", "den-mul-reducesum", "reciprocal", "conv-after-merge",
                    "separate-qkv"})),
    Form("fmnist_castling_kn_grid_init_scaled", "kernel-normalized", "grid", "init", 32, 4, 2, 23,
         frozenset({"common-factor", "computed-n", "norm-no-eps", "qk-first"})),
    Form("fmnist_castling_ref_tokens_mul0", "reference", "tokens", "mul0", 32, 2, 2, 24,
         frozenset({"angular-first", "qk-first", "norm-no-eps", "separate-qkv"})),
    Form("fmnist_castling_ref_grid_mul0", "reference", "grid", "mul0", 48, 4, 2, 25,
         frozenset({"divide-weights", "gate-first"})),
    Form("fmnist_castling_ref_grid_init_presplit", "reference", "grid", "init", 40, 5, 2, 26,
         frozenset({"separate-qkv", "norm-before-split", "conv-after-merge"})),
]


class CastlingFormAttention(nn.Module):
    """Linear-angular attention per head in the form `spec` says (see the module docstring)."""

    def __init__(self, spec: Form):
        super().__init__()
        self.spec = spec
        self.num_heads = spec.heads
        self.head_dim = spec.dim // spec.heads
        dim = spec.dim
        if "separate-qkv" in spec.order:
            self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        if spec.conv == "grid":
            self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        else:
            self.dwconv = nn.Conv1d(dim, dim, 3, padding=1, groups=dim)
        self.register_buffer("gate", torch.tensor(1.0))
        self.literal_zero_gate = False  # set for export when spec.gate == "mul0"

    def _heads(self, t, B, N):
        return t.reshape(B, N, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def _normalize(self, t):
        if "norm-no-eps" in self.spec.order:
            return t / t.norm(dim=-1, keepdim=True)  # torch 1.13: Mul, ReduceSum, Sqrt, Div (no guard)
        return F.normalize(t, dim=-1)  # ReduceL2, Clip(1e-12), Expand, Div

    def _reference(self, q, k, v, normalized=None):
        o = self.spec.order
        if normalized is None:  # normalise the split heads; else q^ and k^T were normalised before the split
            qn, kn_t = self._normalize(q), self._normalize(k).transpose(-2, -1)
        else:
            qn, kn_t = normalized
        angular = (qn @ kn_t) @ v if "qk-first" in o else qn @ (kn_t @ v)
        if "divide-weights" in o:
            a_v, b_a = v / 2, angular / math.pi
        else:
            a_v, b_a = 0.5 * v, (1.0 / math.pi) * angular
        x = b_a + a_v if "angular-first" in o else a_v + b_a
        return self._normalize(x)

    def _kernel_normalized(self, q, k, v):
        o = self.spec.order
        qn, kn = self._normalize(q), self._normalize(k)
        a, b = (1.0, 2.0 / math.pi) if "common-factor" in o else (0.5, 1.0 / math.pi)
        angular = (qn @ kn.transpose(-2, -1)) @ v if "qk-first" in o else qn @ (kn.transpose(-2, -1) @ v)
        v_sum = (a * v).sum(dim=-2, keepdim=True) if "weight-then-sum" in o else a * v.sum(dim=-2, keepdim=True)
        k_sum = kn.sum(dim=-2, keepdim=True)  # (B, H, 1, d)
        if "den-mul-reducesum" in o:
            q_dot_k = (qn * k_sum).sum(dim=-1, keepdim=True)
        else:
            q_dot_k = qn @ k_sum.transpose(-2, -1)  # (B, H, N, 1)
        n = v.shape[-2] if "computed-n" in o else TOKENS
        if "angular-first" in o:
            num, den = b * angular + v_sum, b * q_dot_k + a * n
        else:
            num, den = v_sum + b * angular, a * n + b * q_dot_k
        return num * torch.reciprocal(den) if "reciprocal" in o else num / den

    def forward(self, x):
        B, N, C_ = x.shape
        H, d, o = self.num_heads, self.head_dim, self.spec.order
        normalized = None
        if "separate-qkv" in o:
            v_merged = self.v(x)
            q_lin, k_lin = self.q(x), self.k(x)
            q, k, v = self._heads(q_lin, B, N), self._heads(k_lin, B, N), self._heads(v_merged, B, N)
            if "norm-before-split" in o:  # F.normalize on (B, N, H, d), then the head transposes (k^T in one)
                normalized = (self._normalize(q_lin.reshape(B, N, H, d)).permute(0, 2, 1, 3),
                              self._normalize(k_lin.reshape(B, N, H, d)).permute(0, 2, 3, 1))
        else:
            q, k, v = self.qkv(x).reshape(B, N, 3, H, d).permute(2, 0, 3, 1, 4).unbind(0)
            v_merged = None
        if self.spec.form == "kernel-normalized":
            out = self._kernel_normalized(q, k, v)
        else:
            out = self._reference(q, k, v, normalized)

        if self.spec.conv == "grid":
            vg = v[:, :, 1:, :].permute(0, 1, 3, 2).reshape(B, H * d, GRID, GRID)
            conv = self.dwconv(vg).reshape(B, H, d, GRID * GRID).permute(0, 1, 3, 2)
            conv = torch.cat([conv.new_zeros(B, H, 1, d), conv], dim=2)  # the cls token gets no conv term
            if "conv-after-merge" in o:
                conv = conv.transpose(1, 2).reshape(B, N, C_)
        else:
            vt = (v_merged if v_merged is not None else v.transpose(1, 2).reshape(B, N, C_)).transpose(1, 2)
            conv = self.dwconv(vt)  # (B, C, N)
            conv = conv.transpose(1, 2) if "conv-after-merge" in o else conv.reshape(B, H, d, N).permute(0, 1, 3, 2)

        attn = ((q * d ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        branch = attn @ v
        gated = 0.0 * branch if self.literal_zero_gate else (branch * self.gate if "gate-first" in o else self.gate * branch)
        if "conv-after-merge" in o:  # both terms added to the merged output: the conv first, then the branch
            out = out.transpose(1, 2).reshape(B, N, C_) + conv
            out = out + gated.transpose(1, 2).reshape(B, N, C_)
        elif "gate-first" in o:
            out = (gated + out) + conv
            out = out.transpose(1, 2).reshape(B, N, C_)
        else:
            out = (out + conv) + gated
            out = out.transpose(1, 2).reshape(B, N, C_)
        return self.proj(out)


def make(spec: Form) -> ViT:
    return ViT(image=28, patch=PATCH, in_ch=1, dim=spec.dim, depth=spec.depth, mlp=2 * spec.dim, classes=10,
               attn_factory=lambda i: CastlingFormAttention(spec))


def _attns(model: ViT) -> List[CastlingFormAttention]:
    return [blk.attn for blk in model.blocks]


def train_or_load(spec: Form, reuse: bool):
    C.setup(spec.seed)
    torch.set_num_threads(1)  # these models are tiny: one thread trains them faster than two on a shared machine
    model = make(spec)
    info = C.load_checkpoint(spec.name, model) if reuse else None
    if info is not None:
        return model.eval(), info
    xtr, ytr = C.load_fmnist("train")
    x, y = C.normalize_fmnist(xtr), torch.from_numpy(ytr.astype("int64"))
    batch = BATCH
    epochs = STEPS * batch / x.shape[0]

    def on_step(step, total):
        for attn in _attns(model):
            attn.gate.fill_(max(0.0, 1.0 - step / (GATE_OFF * total)))

    C.log(f"{spec.name}: training {STEPS} steps of {batch}")
    info = C.train_classifier(model, x, y, epochs=epochs, batch=batch, lr=3e-3, warmup=10, seed=spec.seed,
                              on_step=on_step, log_every=50)
    for attn in _attns(model):
        attn.gate.fill_(0.0)
    # Held out from training and from the committed 1,000-image sample (test images 1000..2999).
    xte, yte = C.load_fmnist("test")
    held = slice(1000, 1000 + TEST_IMAGES)
    info["torch_test_accuracy"] = round(C.accuracy(model, C.normalize_fmnist(xte[held]), torch.from_numpy(yte[held].astype("int64"))), 2)
    info["torch_test_images"] = f"Fashion-MNIST t10k images 1000..{999 + TEST_IMAGES}"
    info["epochs"] = round(epochs, 3)
    info["batch"] = batch
    C.log(f"{spec.name}: {info}")
    C.save_checkpoint(spec.name, model, info)
    return model.eval(), info


def export(spec: Form, model: ViT, info: dict) -> dict:
    for attn in _attns(model):
        attn.gate.fill_(0.0)
        attn.literal_zero_gate = spec.gate == "mul0"
    x = C.normalize_fmnist(C.load_fmnist("test")[0][:2])
    y = model(x).detach()
    mp = C.export(model, (x,), os.path.join(C.MODELS, f"{spec.name}.onnx"), input_names=["pixel_values"],
                  output_names=["logits"], opset=17,
                  dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}})
    C.write_reference(spec.name, {"pixel_values": x}, {"logits": y}, seed=None,
                      note="input = the first 2 images of data/fashion-mnist-test-1000.bin, normalised")
    trained = {"dataset": "fashion-mnist", "sample": "data/fashion-mnist-test-1000.bin",
               "normalization": {"mean": C.FMNIST_MEAN, "std": C.FMNIST_STD}}
    trained.update({k: v for k, v in info.items() if k != "seconds"})
    heads, d = spec.heads, spec.dim // spec.heads
    norm = "Mul-ReduceSum-Sqrt" if "norm-no-eps" in spec.order else "ReduceL2"
    kind = "linear-angular+softmax-aux"
    blocks = [C.block(i, kind, heads, d, gate=0.0, form=spec.form, conv=spec.conv, gate_form=spec.gate, norm=norm)
              for i in range(spec.depth)]
    conv = ("3x3 depthwise Conv2d over the 7x7 patch grid, the cls token excluded and a zero row concatenated back"
            if spec.conv == "grid" else "depthwise Conv1d (kernel 3) along the 50 tokens")
    gate = ("multiplied by a literal 0.0 (Mul by a Constant 0)" if spec.gate == "mul0"
            else "multiplied by the buffer gate = 0 (a scalar initializer)")
    return C.manifest_entry(
        spec.name, mp, exporter="castling-decomposed", dtype="float32", layers=spec.depth, heads=heads, head_dim=d,
        embed_dim=spec.dim, tokens=TOKENS, blocks=blocks, expect="fuse", image_size=28, patch_size=PATCH, channels=1,
        trained=trained, other_marker_ops={"::Conv": 1},
        description=f"Castling {spec.form} form, {heads} heads x {d}; conv: {conv}; softmax branch {gate}; "
                    f"order: {spec.describe()}. Written by models/scripts/castling_forms.py.")


def build_all(reuse: bool = False) -> List[dict]:
    out = []
    for spec in FORMS:
        model, info = train_or_load(spec, reuse)
        out.append(export(spec, model, info))
    return out


def main() -> None:
    """Rebuild these models and replace their entries in models/manifest.json (keeping every other entry)."""
    C.quiet_export_warnings()
    reuse = "--reuse-checkpoints" in sys.argv
    entries = build_all(reuse)
    C.replace_manifest_entries(entries)
    C.log(f"manifest: {len(entries)} Castling forms written")


if __name__ == "__main__":
    main()
