"""ViTs trained on Fashion-MNIST (28x28, patch 4 -> 49 patches + cls = 50 tokens, D=64, 4 heads, 3 layers,
MLP 128): softmax, Hydra everywhere, Hydra in the last 2 layers, and Castling (linear-angular + an auxiliary
softmax branch gated to exactly 0 by the end of training; exported in training and inference form).

`build_all(reuse=False)` trains (or reloads models/generated/ckpt/<name>.pt with reuse=True), exports, writes the
references and returns the manifest entries."""
from __future__ import annotations

import os
from typing import Dict, List

import torch

import common as C
from arch import CastlingAttention, HydraAttention, TimmAttention, ViT

DIM, HEADS, DEPTH, MLP, PATCH = 64, 4, 3, 128, 4
GRID = 28 // PATCH
TOKENS = GRID * GRID + 1
EPOCHS = float(os.environ.get("VITLIN_EPOCHS", "1.5"))

# Gate of the auxiliary softmax branch (Castling): 1 -> 0 linearly over the first GATE_OFF of the steps,
# exactly 0 for the rest, so the linear-angular path is trained alone at the end.
GATE_OFF = 0.6


def make(kind: str, aux_softmax: bool = True) -> ViT:
    def factory(i: int):
        if kind == "softmax" or (kind == "hydra_last2" and i < DEPTH - 2):
            return TimmAttention(DIM, HEADS)
        if kind == "hydra":
            return HydraAttention(DIM, norm="ReduceL2")
        if kind == "hydra_last2":
            return HydraAttention(DIM, norm="Mul-ReduceSum-Sqrt")
        if kind == "castling":
            return CastlingAttention(DIM, HEADS, GRID, n_prefix=1, aux_softmax=aux_softmax)
        raise ValueError(kind)
    return ViT(image=28, patch=PATCH, in_ch=1, dim=DIM, depth=DEPTH, mlp=MLP, classes=10, attn_factory=factory)


def set_gate(model: ViT, value: float) -> None:
    for blk in model.blocks:
        if isinstance(blk.attn, CastlingAttention):
            blk.attn.gate.fill_(value)


_DATA: Dict[str, object] = {}


def data():
    if not _DATA:
        xtr, ytr = C.load_fmnist("train")
        xte, yte = C.load_fmnist("test")
        _DATA.update(xtr=C.normalize_fmnist(xtr), ytr=torch.from_numpy(ytr.astype("int64")),
                     xte=C.normalize_fmnist(xte), yte=torch.from_numpy(yte.astype("int64")))
    return _DATA


def train_or_load(name: str, kind: str, seed: int, reuse: bool):
    C.setup(seed)
    model = make(kind)
    info = C.load_checkpoint(name, model) if reuse else None
    if info is not None:
        return model.eval(), info
    d = data()
    C.log(f"{name}: training {EPOCHS} epochs")
    on_step = None
    if kind == "castling":
        def on_step(step, total):
            set_gate(model, max(0.0, 1.0 - step / (GATE_OFF * total)))
    info = C.train_classifier(model, d["xtr"], d["ytr"], epochs=EPOCHS, seed=seed, on_step=on_step)
    if kind == "castling":
        set_gate(model, 0.0)
    info["epochs"] = EPOCHS
    info["torch_test_accuracy_10k"] = round(C.accuracy(model, d["xte"], d["yte"]), 2)
    C.log(f"{name}: {info}")
    C.save_checkpoint(name, model, info)
    return model.eval(), info


def _export(name: str, model: ViT, info: dict, **entry) -> dict:
    x = C.normalize_fmnist(C.load_fmnist("test")[0][:2])  # the first 2 images of the committed sample
    y = model(x).detach()
    mp = C.export(model, (x,), os.path.join(C.MODELS, f"{name}.onnx"), input_names=["pixel_values"],
                  output_names=["logits"], opset=17,
                  dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}})
    C.write_reference(name, {"pixel_values": x}, {"logits": y}, seed=None,
                      note="input = the first 2 images of data/fashion-mnist-test-1000.bin, normalised")
    trained = {"dataset": "fashion-mnist", "sample": "data/fashion-mnist-test-1000.bin",
               "normalization": {"mean": C.FMNIST_MEAN, "std": C.FMNIST_STD}}
    trained.update({k: v for k, v in info.items() if k != "seconds"})  # wall time varies: logged, not recorded
    return C.manifest_entry(name, mp, dtype="float32", layers=DEPTH, embed_dim=DIM, tokens=TOKENS,
                            image_size=28, patch_size=PATCH, channels=1, trained=trained,
                            other_marker_ops={"::Conv": 1}, **entry)


def build_all(reuse: bool = False) -> List[dict]:
    out = []
    sm = [C.block(i, "softmax", HEADS, DIM // HEADS, scale="mul-q") for i in range(DEPTH)]

    m, info = train_or_load("fmnist_softmax", "softmax", 11, reuse)
    out.append(_export("fmnist_softmax", m, info, exporter="timm", heads=HEADS, head_dim=DIM // HEADS, blocks=sm,
                       expect="convert",
                       description="Softmax ViT trained on Fashion-MNIST (timm attention). Converting it to Hydra "
                                   "or linear-angular attention without training changes its accuracy: measure."))

    m, info = train_or_load("fmnist_hydra", "hydra", 12, reuse)
    out.append(_export("fmnist_hydra", m, info, exporter="hydra-decomposed", heads=DIM, head_dim=1,
                       blocks=[C.block(i, "hydra", DIM, 1, norm="ReduceL2") for i in range(DEPTH)], expect="fuse",
                       description="Hydra attention in every layer, trained; exported decomposed: qkv Linear, chunk(3) (three Slices), "
                                   "q / ReduceL2(q), k / ReduceL2(k), ReduceSum over tokens of k*v, q * that, proj."))

    m, info = train_or_load("fmnist_hydra_last2", "hydra_last2", 13, reuse)
    out.append(_export("fmnist_hydra_last2", m, info, exporter="hydra-decomposed", heads=HEADS,
                       head_dim=DIM // HEADS,
                       blocks=[sm[0]] + [C.block(i, "hydra", DIM, 1, norm="Mul-ReduceSum-Sqrt")
                                         for i in range(1, DEPTH)], expect="fuse",
                       note="layer 0 is a trained softmax block: fuse the Hydra blocks (1, 2) exactly; converting "
                            "layer 0 as well is a separate, lossy choice",
                       description="Softmax in layer 0, Hydra in the last 2 layers, trained; the Hydra norms as "
                                   "torch 1.13 exports x.norm(dim=-1): Mul, ReduceSum, Sqrt, then Div."))

    m, info = train_or_load("fmnist_castling", "castling", 14, reuse)
    la_desc = ("linear-angular attention per head (4 heads, d=16): q^, k^ = F.normalize over d; "
               "x = 0.5*v + (1/pi) * q^ (k^T v); x = F.normalize(x); x += dwconv3x3(v) over the 7x7 patch grid "
               "(depthwise over the 64 channels, channel = head*16 + j; the cls token gets no conv term)")
    out.append(_export("fmnist_castling_train", m, info, exporter="castling-decomposed", heads=HEADS,
                       head_dim=DIM // HEADS,
                       blocks=[C.block(i, "linear-angular+softmax-aux", HEADS, DIM // HEADS, gate=0.0)
                               for i in range(DEPTH)], expect="fuse",
                       description="Castling training form: " + la_desc + ", plus gate * softmax(q k^T / sqrt(d)) v "
                                   f"with the gate scheduled 1 -> 0 over the first {int(GATE_OFF * 100)}% of the "
                                   "steps and exactly 0 afterwards; exported with the branch in the graph, "
                                   "multiplied by the constant gate 0 (a scalar initializer blocks.0.attn.gate; torch "
                                   "deduplicates identical initializers, so blocks 1-2 read it through Identity "
                                   "nodes). The rewriter should drop the branch and fuse."))
    inf = make("castling", aux_softmax=False)
    inf.load_state_dict(m.state_dict())
    out.append(_export("fmnist_castling", inf.eval(), info, exporter="castling-decomposed", heads=HEADS,
                       head_dim=DIM // HEADS,
                       blocks=[C.block(i, "linear-angular", HEADS, DIM // HEADS) for i in range(DEPTH)],
                       expect="fuse", same_weights_as="fmnist_castling_train",
                       description="Castling inference form (same weights as fmnist_castling_train, softmax branch "
                                   "removed): " + la_desc + "."))
    return out
