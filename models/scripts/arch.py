"""Tiny ViT building blocks in the styles different exporters produce.

Each attention class reproduces the op sequence of one real code base, so the exported ONNX graph looks like
what that code base's export looks like (see the docstrings). The formulas of Hydra and linear-angular
attention follow /work/shared/REFERENCE.md.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------- softmax styles

class HFSelfAttention(nn.Module):
    """Hugging Face ViTSelfAttention + ViTSelfOutput: separate q/k/v Linear, transpose_for_scores
    (view/permute built from x.size()), matmul, divide by sqrt(d), softmax, matmul, permute/contiguous/view."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = dim // heads
        self.all_head_size = dim
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.dense = nn.Linear(dim, dim)  # ViTSelfOutput.dense

    def transpose_for_scores(self, x):
        new_x_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        x = x.view(new_x_shape)
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        attention_probs = nn.functional.softmax(attention_scores, dim=-1)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        new_context_layer_shape = context_layer.size()[:-2] + (self.all_head_size,)
        context_layer = context_layer.view(new_context_layer_shape)
        return self.dense(context_layer)


class TimmAttention(nn.Module):
    """timm.models.vision_transformer.Attention (non-fused path): one qkv Linear,
    reshape(B,N,3,H,d).permute(2,0,3,1,4), unbind, q = q * scale, q @ k^T, softmax, @ v, transpose, reshape."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.num_heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class SDPAAttention(TimmAttention):
    """timm layout, attention as PyTorch's decomposition of scaled_dot_product_attention (and ONNX
    Attention-23's function body): sqrt(scale) multiplied on q and on k^T separately, then MatMul,
    Softmax, MatMul."""

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        sqrt_scale = math.sqrt(1.0 / math.sqrt(self.head_dim))
        q_scaled = q * sqrt_scale
        k_t_scaled = k.transpose(-2, -1) * sqrt_scale
        attn = torch.softmax(q_scaled @ k_t_scaled, dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class CLIPAttention(nn.Module):
    """Hugging Face CLIPAttention: q scaled right after its projection, (B*heads, N, d) with bmm."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.embed_dim = dim
        self.num_heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def _shape(self, tensor, seq_len: int, bsz: int):
        return tensor.view(bsz, seq_len, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, hidden_states):
        bsz, tgt_len, embed_dim = hidden_states.size()
        query_states = self.q_proj(hidden_states) * self.scale
        key_states = self._shape(self.k_proj(hidden_states), -1, bsz)
        value_states = self._shape(self.v_proj(hidden_states), -1, bsz)
        proj_shape = (bsz * self.num_heads, -1, self.head_dim)
        query_states = self._shape(query_states, tgt_len, bsz).view(*proj_shape)
        key_states = key_states.view(*proj_shape)
        value_states = value_states.view(*proj_shape)
        attn_weights = torch.bmm(query_states, key_states.transpose(1, 2))
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_output = torch.bmm(attn_weights, value_states)
        attn_output = attn_output.view(bsz, self.num_heads, tgt_len, self.head_dim)
        attn_output = attn_output.transpose(1, 2)
        attn_output = attn_output.reshape(bsz, tgt_len, embed_dim)
        return self.out_proj(attn_output)


# --------------------------------------------------------------------------------------- linear attentions

class HydraAttention(nn.Module):
    """Hydra attention (Bolya et al. 2022): heads = features (head dim 1), cosine kernel.
    q^ = q/||q||, k^ = k/||k|| over the feature dim; Y = q^ * sum_t(k^_t * v_t); then the output projection.

    norm="ReduceL2": torch.norm(x, p=2, dim=-1, keepdim=True)   -> ReduceL2, Div
    norm="Mul-ReduceSum-Sqrt": x.norm(dim=-1, keepdim=True)       -> Mul, ReduceSum, Sqrt, Div (torch 1.13)
    """

    def __init__(self, dim: int, norm: str = "ReduceL2"):
        super().__init__()
        assert norm in ("ReduceL2", "Mul-ReduceSum-Sqrt")
        self.norm = norm
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def _l2(self, t):
        if self.norm == "ReduceL2":
            return torch.norm(t, p=2, dim=-1, keepdim=True)
        return t.norm(dim=-1, keepdim=True)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q / self._l2(q)
        k = k / self._l2(k)
        kv = (k * v).sum(dim=-2, keepdim=True)  # sum over tokens
        out = q * kv
        return self.proj(out)


class CastlingAttention(nn.Module):
    """Linear-angular attention, the Castling-ViT reference-code form, per head (d = head dim):

        q^ = normalize(q), k^ = normalize(k)                      (F.normalize over d: ReduceL2, Clip(1e-12))
        x  = 1/2 * v + (1/pi) * q^ (k^T v)
        x  = normalize(x)
        x += dwconv(v)
        x += gate * softmax(q k^T / sqrt(d)) v                    (training form only; gate -> 0)

    dwconv: depthwise Conv2d(D, D, 3x3, padding 1, groups D) over the patch grid; channel c = head*d + j
    (the v features in head-major order); the cls token is not on the grid and gets no conv term (0),
    i.e. the conv output is zero-padded in front of the patch tokens. `n_prefix` = tokens before the grid.
    """

    def __init__(self, dim: int, heads: int, grid: int, n_prefix: int = 1, aux_softmax: bool = False):
        super().__init__()
        self.num_heads = heads
        self.head_dim = dim // heads
        self.grid = grid
        self.n_prefix = n_prefix
        self.aux_softmax = aux_softmax
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.register_buffer("gate", torch.tensor(1.0))

    def forward(self, x):
        B, N, C = x.shape
        H, d, G, P = self.num_heads, self.head_dim, self.grid, self.n_prefix
        qkv = self.qkv(x).reshape(B, N, 3, H, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, H, N, d)
        qn = F.normalize(q, dim=-1)
        kn = F.normalize(k, dim=-1)
        kv = kn.transpose(-2, -1) @ v  # (B, H, d, d)
        out = 0.5 * v + (1.0 / math.pi) * (qn @ kv)
        out = F.normalize(out, dim=-1)
        vg = v[:, :, P:, :].permute(0, 1, 3, 2).reshape(B, H * d, G, G)
        conv = self.dwconv(vg).reshape(B, H, d, G * G).permute(0, 1, 3, 2)
        out = out + F.pad(conv, (0, 0, P, 0))
        if self.aux_softmax:
            attn = ((q * d ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
            out = out + self.gate * (attn @ v)
        out = out.transpose(1, 2).reshape(B, N, C)
        return self.proj(out)


# --------------------------------------------------------------------------------------- transformer

class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, act: Callable = nn.GELU):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    """Pre-LN transformer block (ViT/timm/HF/CLIP all use this order)."""

    def __init__(self, dim: int, attn: nn.Module, mlp_hidden: int, eps: float = 1e-6, act: Callable = nn.GELU):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = attn
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden, act)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Patch conv + cls (+ distillation) token + learned positions + pre-LN blocks + final LN + head(s).

    attn_factory(layer) -> attention module. n_tokens_extra = 2 gives DeiT (cls + dist, heads averaged).
    pre_norm: CLIP's pre_layrnorm on the embeddings.
    """

    def __init__(self, *, image: int, patch: int, in_ch: int, dim: int, depth: int, mlp: int, classes: int,
                 attn_factory: Callable[[int], nn.Module], distilled: bool = False, pre_norm: bool = False,
                 eps: float = 1e-6, act: Callable = nn.GELU, patch_bias: bool = True):
        super().__init__()
        self.grid = image // patch
        self.distilled = distilled
        self.patch_embed = nn.Conv2d(in_ch, dim, patch, patch, bias=patch_bias)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.dist_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02) if distilled else None
        n_prefix = 2 if distilled else 1
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid ** 2 + n_prefix, dim) * 0.02)
        self.pre_norm = nn.LayerNorm(dim, eps=eps) if pre_norm else None
        self.blocks = nn.ModuleList([Block(dim, attn_factory(i), mlp, eps, act) for i in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, classes)
        self.head_dist = nn.Linear(dim, classes) if distilled else None

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        B = x.shape[0]
        tokens = [self.cls_token.expand(B, -1, -1)]
        if self.distilled:
            tokens.append(self.dist_token.expand(B, -1, -1))
        x = torch.cat(tokens + [x], dim=1) + self.pos_embed
        if self.pre_norm is not None:
            x = self.pre_norm(x)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        if self.distilled:
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        return self.head(x[:, 0])


def randomize(model: nn.Module, seed: int, std: float = 0.2) -> nn.Module:
    """Random weights with enough spread that attention is far from uniform (so a wrong rewrite shows):
    matrices N(0, std), LayerNorm scales 1 + N(0, 0.1), biases N(0, 0.02), tokens/positions/bias tables
    N(0, 0.5). Deterministic for a seed; covers torchvision's zero-initialised head too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("cls_token", "dist_token", "pos_embed", "class_token", "pos_embedding",
                        "relative_position_bias_table"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            elif p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * std)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1.0 + torch.randn(m.weight.shape, generator=g) * 0.1)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
    return model.eval()


# --------------------------------------------------------------------------------------- negatives

class WindowAttention(nn.Module):
    """Swin's WindowAttention: timm layout on (B*windows, M*M, C) with a learned relative-position bias
    gathered from a table and ADDED to the scores before softmax."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        self.num_heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.window = window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("relative_position_index", rel[..., 0] * (2 * window - 1) + rel[..., 1])
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(N, N, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
        return self.proj(x)


class SwinLike(nn.Module):
    """Patch 4 on 32x32 -> 8x8 grid, window 4 (4 windows of 16 tokens), pre-LN blocks with window attention
    (no shifted windows, no patch merging), mean pool, head."""

    def __init__(self, dim=32, heads=2, depth=2, window=4, image=32, patch=4, classes=10):
        super().__init__()
        self.grid, self.window = image // patch, window
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.blocks = nn.ModuleList([Block(dim, WindowAttention(dim, heads, window), 2 * dim, eps=1e-5)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).permute(0, 2, 3, 1)  # B, G, G, C
        B, G, _, C = x.shape
        M = self.window
        for blk in self.blocks:
            w = x.view(B, G // M, M, G // M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, M * M, C)
            w = blk(w)
            x = w.view(B, G // M, G // M, M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(B, G, G, C)
        x = self.norm(x.reshape(B, G * G, C)).mean(dim=1)
        return self.head(x)


class BertSelfAttention(nn.Module):
    """HF BertSelfAttention with the extended attention mask added to the scores before softmax."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = dim // heads
        self.all_head_size = dim
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)

    def transpose_for_scores(self, x):
        x = x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, extended_attention_mask):
        q = self.transpose_for_scores(self.query(hidden_states))
        k = self.transpose_for_scores(self.key(hidden_states))
        v = self.transpose_for_scores(self.value(hidden_states))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        scores = scores + extended_attention_mask
        probs = nn.functional.softmax(scores, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.all_head_size,))


class BertLayer(nn.Module):
    def __init__(self, dim, heads, inter):
        super().__init__()
        self.attention = BertSelfAttention(dim, heads)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=1e-12)
        self.intermediate = nn.Linear(dim, inter)
        self.output = nn.Linear(inter, dim)
        self.out_norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x, mask):
        x = self.attn_norm(x + self.attn_out(self.attention(x, mask)))
        return self.out_norm(x + self.output(F.gelu(self.intermediate(x))))


class TinyBert(nn.Module):
    """Post-LN BERT encoder: word + position + token-type embeddings, LN, layers; outputs last_hidden_state."""

    def __init__(self, vocab=100, dim=32, heads=2, depth=2, inter=64, max_pos=32):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)
        self.position_embeddings = nn.Embedding(max_pos, dim)
        self.token_type_embeddings = nn.Embedding(2, dim)
        self.register_buffer("position_ids", torch.arange(max_pos).unsqueeze(0))
        self.emb_norm = nn.LayerNorm(dim, eps=1e-12)
        self.layers = nn.ModuleList([BertLayer(dim, heads, inter) for _ in range(depth)])

    def forward(self, input_ids, attention_mask):
        T = input_ids.size(1)
        x = self.word_embeddings(input_ids) + self.position_embeddings(self.position_ids[:, :T]) \
            + self.token_type_embeddings.weight[0]
        x = self.emb_norm(x)
        ext = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, ext)
        return x
