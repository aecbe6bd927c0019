"""A 6-block softmax ViT trained on Fashion-MNIST (timm attention, D=64, 4 heads, MLP 128, patch 4 -> 50 tokens),
the fixture calibration is measured on (issue 11), and the calibration inputs that go with it.

    OMP_NUM_THREADS=2 /usr/bin/python3 models/scripts/train_fmnist6.py            # train (~5 min on 2 cores), export
    OMP_NUM_THREADS=2 /usr/bin/python3 models/scripts/train_fmnist6.py --reuse    # reload the checkpoint, export
    (make_all.py runs it too, after the other trained models.)

Writes models/fmnist_softmax6.onnx, models/reference/fmnist_softmax6.json, its entry in models/manifest.json, and
models/data/fashion-mnist-train-2000.npz: 2,000 images of the *training* split (a seeded random choice; the model
saw them while training, but none of them is in the test split the sample file holds), normalised like the model's
input, NCHW float32 (array `pixel_values`), with int64 labels (array `labels`), plus the same labels as
models/data/fashion-mnist-train-2000-labels.npy. Calibration fits on part of it and selects on another part;
accuracy is reported on the 1,000 test images of data/fashion-mnist-test-1000.bin, never used for fitting.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from arch import TimmAttention, ViT  # noqa: E402

NAME = "fmnist_softmax6"
DIM, HEADS, DEPTH, MLP, PATCH = 64, 4, 6, 128, 4
TOKENS = (28 // PATCH) ** 2 + 1
EPOCHS = float(os.environ.get("VITLIN_EPOCHS", "1.5"))
CALIBRATION = 2000


def make() -> ViT:
    return ViT(image=28, patch=PATCH, in_ch=1, dim=DIM, depth=DEPTH, mlp=MLP, classes=10,
               attn_factory=lambda i: TimmAttention(DIM, HEADS))


def train_or_load(reuse: bool):
    C.setup(21)
    model = make()
    path = os.path.join(C.GENERATED, "ckpt", f"{NAME}.pt")
    if reuse and os.path.exists(path):
        blob = torch.load(path)
        model.load_state_dict(blob["state"])
        return model.eval(), blob["info"]
    xtr, ytr = C.load_fmnist("train")
    xte, yte = C.load_fmnist("test")
    info = C.train_classifier(model, C.normalize_fmnist(xtr), torch.from_numpy(ytr.astype("int64")), epochs=EPOCHS, seed=21)
    info["epochs"] = EPOCHS
    info["torch_test_accuracy_10k"] = round(C.accuracy(model, C.normalize_fmnist(xte), torch.from_numpy(yte.astype("int64"))), 2)
    C.log(f"{NAME}: {info}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"state": model.state_dict(), "info": info}, path)
    return model.eval(), info


def write_calibration_data() -> None:
    x, y = C.load_fmnist("train")
    pick = np.sort(np.random.default_rng(2026).choice(x.shape[0], CALIBRATION, replace=False))
    images = C.normalize_fmnist(x[pick]).numpy().astype(np.float32)
    labels = y[pick].astype(np.int64)
    base = os.path.join(C.DATA_DIR, f"fashion-mnist-train-{CALIBRATION}")
    np.savez_compressed(base + ".npz", pixel_values=images, labels=labels)
    np.save(base + "-labels.npy", labels)


def build(reuse: bool = False) -> dict:
    """Trains (or reloads), exports, writes the reference and the calibration data; returns the manifest entry."""
    model, info = train_or_load(reuse)
    x = C.normalize_fmnist(C.load_fmnist("test")[0][:2])  # the first 2 images of the committed sample
    y = model(x).detach()
    mp = C.export(model, (x,), os.path.join(C.MODELS, f"{NAME}.onnx"), input_names=["pixel_values"],
                  output_names=["logits"], opset=17,
                  dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}})
    C.write_reference(NAME, {"pixel_values": x}, {"logits": y}, seed=None,
                      note="input = the first 2 images of data/fashion-mnist-test-1000.bin, normalised")
    trained = {"dataset": "fashion-mnist", "sample": "data/fashion-mnist-test-1000.bin",
               "normalization": {"mean": C.FMNIST_MEAN, "std": C.FMNIST_STD}}
    trained.update({k: v for k, v in info.items() if k != "seconds"})
    entry = C.manifest_entry(NAME, mp, exporter="timm", heads=HEADS, head_dim=DIM // HEADS, dtype="float32",
                             layers=DEPTH, embed_dim=DIM, tokens=TOKENS, image_size=28, patch_size=PATCH, channels=1,
                             blocks=[C.block(i, "softmax", HEADS, DIM // HEADS, scale="mul-q") for i in range(DEPTH)],
                             expect="convert", trained=trained, other_marker_ops={"::Conv": 1},
                             description="6-block softmax ViT trained on Fashion-MNIST (timm attention): the fixture "
                                         "post-training calibration (closed-form refit, block selection) is measured on.")
    write_calibration_data()
    return entry


if __name__ == "__main__":
    C.run_alone(__doc__, NAME, build, "written (run make_all.py --reuse-checkpoints to refresh accuracy.json and the README table)")
