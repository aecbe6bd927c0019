"""A second trained softmax ViT for measuring calibration on another family and exporter (issue 11): Hugging Face
transformers' ViTForImageClassification (pre-norm, CLS token, its own attention code), D=96, 3 heads of 32, 5 blocks,
MLP 192, patch 7 (16 patches + CLS = 17 tokens), trained briefly on Fashion-MNIST and exported with torch 2's dynamo
exporter (`torch.onnx.export(..., dynamo=True)`, opset 18). fmnist_softmax6 (the first such model) is timm-style code
of models/scripts/arch.py exported by torch 1.13's TorchScript exporter: different dims, heads, patch size, code and exporter.

Run with the torch 2.x virtual environment, NOT Debian's /usr/bin/python3 (torch 1.13):

    OMP_NUM_THREADS=2 /work/venv-torch2/bin/python models/scripts/train_fmnist_hfvit.py           # train (187 steps, ~3 min on 2 free cores), export
    OMP_NUM_THREADS=2 /work/venv-torch2/bin/python models/scripts/train_fmnist_hfvit.py --reuse   # reload the checkpoint

Writes models/fmnist_hfvit5.onnx, models/reference/fmnist_hfvit5.json and its entry in models/manifest.json; add its
accuracy on the sample to models/accuracy.json and the table of models/README.md (the script prints it).
Calibration fits on models/data/fashion-mnist-train-2000.npz (training split) and is scored on the test split.

torchvision: the local wheel index's torchvision is CUDA-linked; its C ops do not load, and `import torchvision`
(which transformers' ViT import pulls in) dies registering fake kernels for them. Nothing here needs torchvision's
ops, so before importing transformers an empty module stands in for sys.modules['torchvision._meta_registrations']:
torchvision's pure-Python parts import, its op registrations are skipped (as models/scripts/today.py does).
"""
from __future__ import annotations

import os
import sys
import types
import warnings

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from transformers import ViTConfig, ViTForImageClassification  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

NAME = "fmnist_hfvit5"
DIM, HEADS, DEPTH, MLP, PATCH = 96, 3, 5, 192, 7
TOKENS = (28 // PATCH) ** 2 + 1
EPOCHS = float(os.environ.get("VITLIN_EPOCHS", "0.8"))


class Logits(nn.Module):
    """The classifier's logits as a plain tensor (the exported graph's one output)."""

    def __init__(self, vit: ViTForImageClassification):
        super().__init__()
        self.vit = vit

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.vit(pixel_values=pixel_values).logits


def make() -> Logits:
    config = ViTConfig(image_size=28, patch_size=PATCH, num_channels=1, hidden_size=DIM, num_hidden_layers=DEPTH,
                       num_attention_heads=HEADS, intermediate_size=MLP, num_labels=10, hidden_dropout_prob=0.0,
                       attention_probs_dropout_prob=0.0, attn_implementation="eager")
    return Logits(ViTForImageClassification(config))


def train_or_load(reuse: bool):
    C.setup(33)
    model = make()
    info = C.load_checkpoint(NAME, model) if reuse else None
    if info is not None:
        return model.eval(), info
    xtr, ytr = C.load_fmnist("train")
    xte, yte = C.load_fmnist("test")
    info = C.train_classifier(model, C.normalize_fmnist(xtr), torch.from_numpy(ytr.astype("int64")), epochs=EPOCHS,
                              seed=33)
    info["epochs"] = EPOCHS
    info["torch_test_accuracy_10k"] = round(C.accuracy(model, C.normalize_fmnist(xte), torch.from_numpy(yte.astype("int64"))), 2)
    C.log(f"{NAME}: {info}")
    C.save_checkpoint(NAME, model, info)
    return model.eval(), info


def export_dynamo(model: nn.Module, x: torch.Tensor, path: str) -> onnx.ModelProto:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = torch.export.Dim("batch", min=1, max=1024)
        program = torch.onnx.export(model, (x,), None, dynamo=True, external_data=False, opset_version=18,
                                    input_names=["pixel_values"], output_names=["logits"],
                                    dynamic_shapes={"pixel_values": {0: batch}})
        program.save(path, external_data=False)
    mp = onnx.load(path)
    onnx.checker.check_model(mp)
    return mp


def build(reuse: bool = False) -> dict:
    model, info = train_or_load(reuse)
    x = C.normalize_fmnist(C.load_fmnist("test")[0][:2])  # the first 2 images of the committed sample
    with torch.no_grad():
        y = model(x)
    path = os.path.join(C.MODELS, f"{NAME}.onnx")
    mp = export_dynamo(model, x, path)
    C.write_reference(NAME, {"pixel_values": x}, {"logits": y}, seed=None,
                      note="input = the first 2 images of data/fashion-mnist-test-1000.bin, normalised")
    trained = {"dataset": "fashion-mnist", "sample": "data/fashion-mnist-test-1000.bin",
               "normalization": {"mean": C.FMNIST_MEAN, "std": C.FMNIST_STD}}
    trained.update({k: v for k, v in info.items() if k != "seconds"})
    return C.manifest_entry(NAME, mp, exporter="transformers-dynamo", heads=HEADS, head_dim=DIM // HEADS, dtype="float32",
                            layers=DEPTH, embed_dim=DIM, tokens=TOKENS, image_size=28, patch_size=PATCH, channels=1,
                            blocks=[C.block(i, "softmax", HEADS, DIM // HEADS, scale="mul-scores") for i in range(DEPTH)],
                            expect="convert", trained=trained, other_marker_ops={"::Conv": 1},
                            description="5-block softmax ViT (Hugging Face transformers ViTForImageClassification, eager "
                                        "attention, CLS token, pre-norm) trained on Fashion-MNIST, exported by torch 2's "
                                        "dynamo exporter: the second family calibration accuracy is measured on.")


if __name__ == "__main__":
    C.run_alone(__doc__, NAME, build, "written; add its sample accuracy to models/accuracy.json and models/README.md's table")
