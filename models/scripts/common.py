"""Shared pieces of the fixture scripts: paths, seeding, Fashion-MNIST, training, ONNX export,
reference writing and the manifest entries.

Run everything with Debian's PyTorch: `/usr/bin/python3 models/scripts/make_all.py`.
"""
from __future__ import annotations

import gzip
import io
import json
import math
import os
import random
import time
import warnings
from collections import Counter
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(SCRIPTS)
REPO = os.path.dirname(MODELS)
REF_DIR = os.path.join(MODELS, "reference")
DATA_DIR = os.path.join(MODELS, "data")
GENERATED = os.path.join(MODELS, "generated")  # git-ignored: checkpoints, scratch
FMNIST_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")

# Normalisation the Fashion-MNIST models expect: x = (pixel / 255 - MEAN) / STD, shape (B, 1, 28, 28).
FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530
FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# Tolerances the tests apply to the recorded outputs.
TOL = {"float32": 1e-4, "float16": 1e-2}


def log(*a):
    print("[models]", *a, flush=True)


def replace_manifest_entries(entries: List[dict]) -> None:
    """Rewrites the named entries of models/manifest.json in place, for a script run alone (make_all.py
    rebuilds the whole manifest, accuracy.json and the README table)."""
    path = os.path.join(MODELS, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    names = {e["name"] for e in entries}
    manifest["models"] = [m for m in manifest["models"] if m["name"] not in names] + list(entries)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def run_alone(doc: str, name: str, build: Callable[[bool], dict], done: str) -> None:
    """The command line of a script that trains one model and runs alone: --reuse reloads the checkpoint;
    the model's manifest entry is replaced in place, then `done` is logged."""
    import argparse
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reuse", action="store_true", help=f"reload models/generated/ckpt/{name}.pt")
    replace_manifest_entries([build(ap.parse_args().reuse)])
    log(f"{name}: {done}")


def setup(seed: int = 0) -> None:
    """Fixed seeds, 2 threads, deterministic kernels."""
    torch.set_num_threads(2)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def quiet_export_warnings() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)


# --------------------------------------------------------------------------------------- data

def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fmnist(split: str):
    """uint8 images (n, 28, 28) and uint8 labels (n,) of 'train' or 'test' (t10k)."""
    prefix = "train" if split == "train" else "t10k"
    x = _read_idx(os.path.join(FMNIST_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    y = _read_idx(os.path.join(FMNIST_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return x, y


def normalize_fmnist(u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(u8.astype(np.float32) / 255.0)
    return ((x - FMNIST_MEAN) / FMNIST_STD).unsqueeze(1)


def write_fmnist_sample(n: int = 1000) -> str:
    """The first n test images + labels as one binary: a JSON header, then pixels, then labels.

    Layout: bytes 0..3 = header length L (uint32 little-endian); bytes 4..4+L = UTF-8 JSON header;
    then at header.pixelOffset n*28*28 uint8 pixels (row-major, image after image), then at
    header.labelOffset n uint8 labels. Offsets are from the start of the file.
    """
    x, y = load_fmnist("test")
    x, y = x[:n], y[:n]
    header = {
        "format": "vitlin-fmnist-sample-v1",
        "source": "Fashion-MNIST t10k, first %d images in file order" % n,
        "count": n, "height": 28, "width": 28, "channels": 1,
        "pixelDtype": "uint8", "labelDtype": "uint8",
        "pixelOffset": 0, "labelOffset": 0,
        "classes": FMNIST_CLASSES,
        "normalization": {"formula": "(pixel / 255 - mean) / std", "mean": FMNIST_MEAN, "std": FMNIST_STD,
                          "layout": "NCHW float32 (batch, 1, 28, 28)"},
    }
    # Offsets depend on the header length: iterate until stable (a few digits change at most).
    for _ in range(3):
        hb = json.dumps(header, separators=(",", ":")).encode()
        pix = 4 + len(hb)
        header["pixelOffset"], header["labelOffset"] = pix, pix + x.size
    hb = json.dumps(header, separators=(",", ":")).encode()
    assert 4 + len(hb) == header["pixelOffset"]
    os.makedirs(DATA_DIR, exist_ok=True)
    path = os.path.join(DATA_DIR, f"fashion-mnist-test-{n}.bin")
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(4, "little"))
        f.write(hb)
        f.write(x.astype(np.uint8).tobytes())
        f.write(y.astype(np.uint8).tobytes())
    return path


# --------------------------------------------------------------------------------------- training

def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: float, batch: int = 256,
                     lr: float = 2e-3, wd: float = 0.05, warmup: int = 60, seed: int = 0,
                     on_step: Optional[Callable[[int, int], None]] = None, log_every: int = 100) -> Dict[str, float]:
    """AdamW + linear warmup + cosine decay, cross-entropy; `on_step(step, total)` runs before each step
    (the Castling gate schedule uses it). Deterministic given the seed."""
    g = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    steps_per_epoch = n // batch
    total = int(round(epochs * steps_per_epoch))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(("cls_token", "pos_embed", "dist_token")) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    model.train()
    t0, step, run_loss = time.time(), 0, 0.0
    while step < total:
        perm = torch.randperm(n, generator=g)
        for i in range(steps_per_epoch):
            if step >= total:
                break
            if on_step is not None:
                on_step(step, total)
            idx = perm[i * batch:(i + 1) * batch]
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            run_loss = 0.98 * run_loss + 0.02 * loss.item() if step else loss.item()
            step += 1
            if step % log_every == 0 or step == total:
                log(f"  step {step}/{total} loss {run_loss:.3f} ({time.time() - t0:.0f}s)")
    model.eval()
    return {"steps": total, "seconds": round(time.time() - t0, 1), "final_loss": round(run_loss, 4)}


CKPT = os.path.join(GENERATED, "ckpt")


def load_checkpoint(name: str, model: nn.Module) -> Optional[dict]:
    """Loads models/generated/ckpt/<name>.pt into `model`; returns its training info, or None when there is none."""
    path = os.path.join(CKPT, f"{name}.pt")
    if not os.path.exists(path):
        return None
    blob = torch.load(path)
    model.load_state_dict(blob["state"])
    log(f"{name}: reloaded {path}")
    return blob["info"]


def save_checkpoint(name: str, model: nn.Module, info: dict) -> None:
    os.makedirs(CKPT, exist_ok=True)
    torch.save({"state": model.state_dict(), "info": info}, os.path.join(CKPT, f"{name}.pt"))


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += (model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / x.shape[0]


# --------------------------------------------------------------------------------------- export

def export(model: nn.Module, args, path: str, *, input_names: Sequence[str], output_names: Sequence[str],
           opset: int, dynamic_axes: Optional[dict] = None) -> onnx.ModelProto:
    """torch.onnx.export to `path` (constant folding on, eval mode), then onnx.checker."""
    model.eval()
    quiet_export_warnings()
    buf = io.BytesIO()
    # Not under no_grad: with grad enabled and parameters requiring grad, nn.MultiheadAttention takes its
    # decomposed path instead of aten::_native_multi_head_attention (which torch 1.13 cannot export).
    torch.onnx.export(model, args, buf, opset_version=opset, input_names=list(input_names),
                      output_names=list(output_names), dynamic_axes=dynamic_axes, do_constant_folding=True)
    mp = onnx.load_from_string(buf.getvalue())
    mp.producer_name = "pytorch"
    mp.doc_string = "vitlin fixture %s" % os.path.basename(path)
    save_model(mp, path)
    return mp


def save_model(mp: onnx.ModelProto, path: str, check: bool = True) -> None:
    if check:
        onnx.checker.check_model(mp)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(mp.SerializeToString())
    size = os.path.getsize(path)
    assert size < 5 * 1024 * 1024, f"{path} is {size} bytes, over the ~5 MB fixture budget"


_ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
                onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32"}


def _io(values) -> List[dict]:
    out = []
    for v in values:
        tt = v.type.tensor_type
        dims = [d.dim_param if d.HasField("dim_param") else int(d.dim_value) for d in tt.shape.dim]
        out.append({"name": v.name, "dtype": _ONNX_DTYPES[tt.elem_type], "shape": dims})
    return out


def graph_facts(mp: onnx.ModelProto) -> dict:
    """Inputs/outputs (initializers excluded), opsets and op counts keyed 'domain::op' ('' = ai.onnx)."""
    inits = {t.name for t in mp.graph.initializer}
    counts = Counter(((n.domain if n.domain not in ("", "ai.onnx") else "") + "::" + n.op_type)
                     for n in mp.graph.node)
    return {
        "inputs": _io(v for v in mp.graph.input if v.name not in inits),
        "outputs": _io(mp.graph.output),
        "opsets": {(o.domain or "ai.onnx"): int(o.version) for o in mp.opset_import},
        "op_counts": dict(sorted(counts.items())),
    }


# --------------------------------------------------------------------------------------- reference

def _tensor_json(name: str, t) -> dict:
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    if a.dtype == np.float32:
        data = [float(v) for v in a.reshape(-1)]  # float32 -> double: exact; json repr round-trips
    elif a.dtype == np.float16:
        data = [float(v) for v in a.reshape(-1)]  # every value is an exact float16
    elif a.dtype in (np.int64, np.int32):
        data = [int(v) for v in a.reshape(-1)]
    else:
        raise TypeError(a.dtype)
    return {"name": name, "dtype": str(a.dtype), "shape": list(a.shape), "data": data}


def write_reference(name: str, inputs: Dict[str, object], outputs: Dict[str, object], *, seed: Optional[int],
                    note: str, dtype: str = "float32") -> str:
    """models/reference/<name>.json: the exact input tensors, and the PyTorch outputs for them."""
    ref = {
        "model": name,
        "file": f"{name}.onnx",
        "seed": seed,
        "note": note,
        "tolerance": TOL[dtype],
        "producer": f"torch {torch.__version__}",
        "inputs": [_tensor_json(k, v) for k, v in inputs.items()],
        "outputs": [_tensor_json(k, v) for k, v in outputs.items()],
    }
    os.makedirs(REF_DIR, exist_ok=True)
    path = os.path.join(REF_DIR, f"{name}.json")
    with open(path, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    return path


def seeded_input(seed: int, *shape, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(dtype)


# --------------------------------------------------------------------------------------- manifest

def block(layer: int, kind: str, heads: int, head_dim: int, **extra) -> dict:
    """One attention block of a model, as the manifest records it.

    kind: softmax | hydra | linear-angular | linear-angular+softmax-aux | onnx-attention |
          ms-multiheadattention | ms-attention | softmax+relpos-bias | softmax+mask
    """
    d = {"layer": layer, "kind": kind, "heads": heads, "head_dim": head_dim}
    d.update(extra)
    return d


def manifest_entry(name: str, mp: onnx.ModelProto, *, exporter: str, description: str, dtype: str,
                   layers: int, heads: int, head_dim: int, embed_dim: int, tokens: int, blocks: List[dict],
                   expect: str, reason: Optional[str] = None, **extra) -> dict:
    assert expect in ("convert", "fuse", "leave")
    assert (reason is not None) == (expect == "leave") or reason is not None
    facts = graph_facts(mp)
    opsets = facts["opsets"]
    e = {
        "name": name,
        "file": f"{name}.onnx",
        "exporter": exporter,
        "description": description,
        "opset": opsets.get("ai.onnx"),
        "opsets": opsets,
        "dtype": dtype,
        "layers": layers,
        "heads": heads,
        "head_dim": head_dim,
        "embed_dim": embed_dim,
        "tokens": tokens,
        "inputs": facts["inputs"],
        "outputs": facts["outputs"],
        "attention_blocks": len(blocks),
        "blocks": blocks,
        "expect": expect,
    }
    if reason is not None:
        e["reason"] = reason
    e.update(extra)
    e["reference"] = f"reference/{name}.json"
    e["tolerance"] = TOL[dtype]
    e["op_counts"] = facts["op_counts"]
    check_markers(e)
    return e


def expected_markers(blocks: Iterable[dict]) -> Dict[str, int]:
    """How many of each marker node the blocks imply ('domain::op'). The TS test uses the same table."""
    m: Counter = Counter()
    for b in blocks:
        k = b["kind"]
        if k in ("softmax", "softmax+relpos-bias", "softmax+mask"):
            m["::Softmax"] += 1
        elif k == "onnx-attention":
            m["::Attention"] += 1
        elif k == "ms-multiheadattention":
            m["com.microsoft::MultiHeadAttention"] += 1
        elif k == "ms-attention":
            m["com.microsoft::Attention"] += 1
        elif k == "hydra":
            if b["norm"] == "ReduceL2":
                m["::ReduceL2"] += 2
            else:  # Mul-ReduceSum-Sqrt
                m["::Sqrt"] += 2
        elif k in ("linear-angular", "linear-angular+softmax-aux"):
            # q, k and (reference form) the output are normalised: F.normalize (ReduceL2) or x.norm() (Sqrt)
            norms = 2 if b.get("form") == "kernel-normalized" else 3
            m["::Sqrt" if b.get("norm") == "Mul-ReduceSum-Sqrt" else "::ReduceL2"] += norms
            m["::Conv"] += 1  # the depthwise conv on v
            if k.endswith("softmax-aux"):
                m["::Softmax"] += 1
        else:
            raise ValueError(k)
    return dict(m)


MARKER_OPS = ["::Softmax", "::Attention", "com.microsoft::MultiHeadAttention", "com.microsoft::Attention",
              "::ReduceL2", "::Sqrt", "::Conv"]


def check_markers(entry: dict) -> None:
    """Graph marker counts == what the blocks imply + `other_marker_ops` (markers outside attention that the
    script declares from the architecture: the patch-embedding Conv, the Sqrt of LayerNorms decomposed
    below opset 17)."""
    exp = expected_markers(entry["blocks"])
    other = entry.get("other_marker_ops", {})
    counts = entry["op_counts"]
    for op in MARKER_OPS:
        have = counts.get(op, 0)
        want = exp.get(op, 0) + other.get(op, 0)
        assert have == want, f"{entry['name']}: {op} x{have} in the graph, blocks + other_marker_ops imply {want}"
