#!/usr/bin/env python3
"""The project's own PyTorch implementation of FLARE (../../../shared/design/flare.md, the same
model as FLARE.py's FLAREModel) and the generator of the golden fixture that
tests/surrogate/test_torch_fixture.cpp compares our C++ CPU model against (llm.c test_gpt2).

Parameter names are FLARE.py state_dict names = our checkpoint datasets params/<name>; Linear
weights are [out, in]; latent_q is stored [C, M] and viewed as (H, M, D) as in FLARE.py.

Usage (any machine with torch, einops, h5py; CPU is enough, everything runs in float64):
  python3 flare_torch.py --out fixture.h5                 # seeded test parameters
  python3 flare_torch.py --params ckpt.h5 --out fix.h5    # parameters (and config) of one of
                                                          # our checkpoints, loaded by name
The fixture holds, per case (group 'default' = the reference model, 'variants' = qk_norm +
separate decode keys + sqrt scale): attribute config (our ModelConfig JSON), params/<name>,
inputs x [sum N, F], targets y [sum N, T], offsets [B+1] (two meshes of different N), pred
[sum N, T], loss (MSE), rel_l2 [B], grads/<name> of the MSE loss, and 5 AdamW steps with global
gradient-norm clipping: adamw_losses [6] (loss before each step and after the last),
adamw_grad_norms [5] (before clipping), adamw_params/<name> (after the 5 steps) with the
hyper-parameters as attributes.
"""
import argparse
import json
import math

import h5py
import numpy as np
import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F


def default_config(**overrides):
    """Our ModelConfig JSON keys and defaults (surrogate/config.h)."""
    c = dict(in_dim=8, out_dim=1, channel_dim=64, num_blocks=8, num_heads=8, num_latents=64,
             attn_scale="one", k_proj_mlp_ratio=1.0, v_proj_mlp_ratio=1.0, ffn_mlp_ratio=1.0,
             num_layers_k_proj=3, num_layers_v_proj=3, num_layers_ffn=3, num_layers_in_out_proj=2,
             out_proj_norm=True, qk_norm=False, separate_decode_keys=False,
             activation="gelu_tanh", layernorm_eps=1e-5)
    c.update(overrides)
    return c


def act(x):
    return F.gelu(x, approximate="tanh")


class ResidualMLP(nn.Module):
    """flare.md ResidualMLP: residuals only where widths allow; n = -1 is one Linear."""

    def __init__(self, i, h, o, n, input_residual, output_residual):
        super().__init__()
        self.n = n
        if n == -1:
            self.fc = nn.Linear(i, o)
            self.residual = input_residual and output_residual and i == o
            return
        self.fc1 = nn.Linear(i, h)
        self.fcs = nn.ModuleList([nn.Linear(h, h) for _ in range(n)])
        self.fc2 = nn.Linear(h, o)
        self.input_residual = input_residual and i == h
        self.output_residual = output_residual and h == o

    def forward(self, x):
        if self.n == -1:
            return x + self.fc(x) if self.residual else self.fc(x)
        x = x + act(self.fc1(x)) if self.input_residual else act(self.fc1(x))
        for fc in self.fcs:
            x = x + act(fc(x))
        return x + self.fc2(x) if self.output_residual else self.fc2(x)


class Mixer(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, H, M = c["channel_dim"], c["num_heads"], c["num_latents"]
        self.H, self.M, self.D = H, M, C // H
        self.scale = 1.0 if c["attn_scale"] == "one" else 1.0 / math.sqrt(self.D)
        self.sep = c["separate_decode_keys"]
        self.qk_norm = c["qk_norm"]
        # Registration order = state_dict order = our ParamLayout order.
        self.latent_q = nn.Parameter(torch.empty(C, M))
        if self.qk_norm:
            self.q_norm = nn.LayerNorm(self.D, eps=c["layernorm_eps"])
            self.k_norm = nn.LayerNorm(self.D, eps=c["layernorm_eps"])
        kh = int(C * c["k_proj_mlp_ratio"])
        self.k_proj = ResidualMLP(C, kh, C, c["num_layers_k_proj"], True, True)
        if self.sep:
            self.k_dec_proj = ResidualMLP(C, kh, C, c["num_layers_k_proj"], True, True)
        self.v_proj = ResidualMLP(C, int(C * c["v_proj_mlp_ratio"]), C, c["num_layers_v_proj"],
                                  True, True)
        self.out_proj = nn.Linear(C, C)

    def forward(self, x, explicit=False):  # x [B, N, C]
        q = self.latent_q.view(self.H, self.M, self.D)
        k = rearrange(self.k_proj(x), "b n (h d) -> b h n d", h=self.H)
        kd = rearrange(self.k_dec_proj(x), "b n (h d) -> b h n d", h=self.H) if self.sep else k
        v = rearrange(self.v_proj(x), "b n (h d) -> b h n d", h=self.H)
        if self.qk_norm:
            q = self.q_norm(q)
            k = self.k_norm(k)
            kd = self.k_norm(kd) if self.sep else k
        if explicit:
            s_enc = self.scale * q @ k.transpose(-2, -1)  # [B H M N]
            z = F.softmax(s_enc, dim=-1) @ v
            s_dec = self.scale * kd @ q.transpose(-2, -1)  # [B H N M]
            y = F.softmax(s_dec, dim=-1) @ z
        else:
            q = q.unsqueeze(0).expand(x.size(0), -1, -1, -1)
            z = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
            y = F.scaled_dot_product_attention(kd, q, z, scale=self.scale)
        return self.out_proj(rearrange(y, "b h n d -> b n (h d)"))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["channel_dim"]
        self.norm1 = nn.LayerNorm(C, eps=c["layernorm_eps"])
        self.norm2 = nn.LayerNorm(C, eps=c["layernorm_eps"])
        self.att = Mixer(c)
        self.mlp = ResidualMLP(C, int(C * c["ffn_mlp_ratio"]), C, c["num_layers_ffn"], True, True)

    def forward(self, x, explicit=False):
        x = x + self.att(self.norm1(x), explicit)
        return x + self.mlp(self.norm2(x))


class FlareModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, n = c["channel_dim"], c["num_layers_in_out_proj"]
        self.in_proj = ResidualMLP(c["in_dim"], C, C, n, False, True)
        self.out_proj = nn.Sequential(
            nn.LayerNorm(C, eps=c["layernorm_eps"]) if c["out_proj_norm"] else nn.Identity(),
            ResidualMLP(C, C, c["out_dim"], n, True, False))
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["num_blocks"])])

    def forward(self, x, explicit=False):  # x [B, N, F]
        x = self.in_proj(x)
        for b in self.blocks:
            x = b(x, explicit)
        return self.out_proj(x)


def test_init(model, gen):
    """Parameters for the fixture: every tensor non-trivial (non-zero biases, LayerNorm away from
    1/0, latent_q N(0,1) so the softmaxes are far from uniform), rounded to fp32 values so that
    the fp32 C++ model starts from exactly the same numbers."""
    for name, p in model.named_parameters():
        with torch.no_grad():
            r = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if name.endswith("latent_q"):
                v = r
            elif "norm" in name or name.startswith("out_proj.0"):
                v = (1.0 if name.endswith("weight") else 0.0) + 0.1 * r
            elif name.endswith("bias"):
                v = 0.1 * r
            else:
                v = r / math.sqrt(p.shape[1])
            p.copy_(v.float().double())


def load_params(model, path):
    with h5py.File(path, "r") as f:
        for name, p in model.named_parameters():
            a = np.asarray(f["params"][name], dtype=np.float64)
            assert a.shape == tuple(p.shape), f"{path}: params/{name} has shape {a.shape}, expected {tuple(p.shape)}"
            with torch.no_grad():
                p.copy_(torch.from_numpy(a))


def decay_groups(model):
    """FLARE.py make_optimizer_adamw: weight decay on Linear weights only."""
    decay, no_decay = [], []
    for m in model.modules():
        for pn, p in m.named_parameters(recurse=False):
            (decay if isinstance(m, nn.Linear) and pn == "weight" else no_decay).append(p)
    return decay, no_decay


def run_model(model, x, offsets):
    preds = [model(x[offsets[b]:offsets[b + 1]].unsqueeze(0))[0] for b in range(len(offsets) - 1)]
    return torch.cat(preds, 0)


def rel_l2(pred, y, offsets):
    return [float((pred[a:b] - y[a:b]).norm() / y[a:b].norm()) for a, b in zip(offsets[:-1], offsets[1:])]


def make_case(f, group, c, params_path, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = FlareModel(c).double()
    if params_path:
        load_params(model, params_path)
    else:
        test_init(model, gen)
    sizes = [37, 23]  # two meshes of different N, packed
    offsets = [0, sizes[0], sizes[0] + sizes[1]]
    x = torch.randn(offsets[-1], c["in_dim"], generator=gen, dtype=torch.float64).float().double()
    y = torch.randn(offsets[-1], c["out_dim"], generator=gen, dtype=torch.float64).float().double()

    g = f.create_group(group)
    g.attrs["config"] = json.dumps(c)
    for name, p in model.named_parameters():
        g.create_dataset(f"params/{name}", data=p.detach().numpy())
    g.create_dataset("x", data=x.numpy())
    g.create_dataset("y", data=y.numpy())
    g.create_dataset("offsets", data=np.array(offsets, dtype=np.int64))

    # Self-checks of this script: SDPA == explicit softmaxes; batch == one by one is by construction.
    pred = run_model(model, x, offsets)
    with torch.no_grad():
        pe = torch.cat([model(x[a:b].unsqueeze(0), explicit=True)[0]
                        for a, b in zip(offsets[:-1], offsets[1:])])
    print(f"[{group}] params {sum(p.numel() for p in model.parameters())}, "
          f"SDPA vs explicit max |diff| {float((pred - pe).abs().max()):.3e}")
    loss = F.mse_loss(pred, y)
    model.zero_grad()
    loss.backward()
    g.create_dataset("pred", data=pred.detach().numpy())
    g.attrs["loss"] = float(loss)
    g.create_dataset("rel_l2", data=np.array(rel_l2(pred.detach(), y, offsets)))
    for name, p in model.named_parameters():
        g.create_dataset(f"grads/{name}", data=p.grad.numpy())

    # Finite-difference spot check of autograd (float64), a few entries per run.
    worst = 0.0
    named = list(model.named_parameters())
    for i in range(6):
        name, p = named[(i * 7919) % len(named)]
        j = (i * 104729) % p.numel()
        h = 1e-6
        with torch.no_grad():
            flat = p.view(-1)
            old = float(flat[j])
            flat[j] = old + h
            lp = float(F.mse_loss(run_model(model, x, offsets), y))
            flat[j] = old - h
            lm = float(F.mse_loss(run_model(model, x, offsets), y))
            flat[j] = old
        fd = (lp - lm) / (2 * h)
        an = float(p.grad.view(-1)[j])
        worst = max(worst, abs(fd - an) / max(abs(an), 1e-8))
    print(f"[{group}] loss {float(loss):.10f}, FD spot check max rel err {worst:.2e}")

    # 5 AdamW steps, FLARE.py decay groups, global grad-norm clipping (active: max_norm set below
    # the initial norm so the clipping path is exercised).
    gn0 = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters()))
    hp = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05,
              clip=float(np.float32(0.5 * gn0)))
    decay, no_decay = decay_groups(model)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])
    losses, norms = [], []
    for _ in range(5):
        opt.zero_grad()
        loss = F.mse_loss(run_model(model, x, offsets), y)
        losses.append(float(loss))
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), hp["clip"])))
        opt.step()
    with torch.no_grad():
        losses.append(float(F.mse_loss(run_model(model, x, offsets), y)))
    a = g.create_group("adamw")
    for k, v in hp.items():
        a.attrs[k] = v
    a.create_dataset("losses", data=np.array(losses))
    a.create_dataset("grad_norms", data=np.array(norms))
    for name, p in model.named_parameters():
        a.create_dataset(f"params/{name}", data=p.detach().numpy())
    print(f"[{group}] AdamW losses {['%.8f' % l for l in losses]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="fixture HDF5 to write")
    ap.add_argument("--params", help="our checkpoint (params/<name>, attribute config) to load")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(4)
    n_default = sum(p.numel() for p in FlareModel(default_config()).parameters())
    print(f"default config (F=8, T=1): {n_default} parameters (FLARE.py: 593025)")
    with h5py.File(args.out, "w") as f:
        f.attrs["format"] = "flare-torch-fixture"
        f.attrs["torch_version"] = str(torch.__version__)
        if args.params:
            with h5py.File(args.params, "r") as ck:
                c = default_config(**json.loads(ck.attrs["config"]))
            make_case(f, "default", c, args.params, args.seed)
        else:
            small = dict(in_dim=3, out_dim=2, channel_dim=16, num_blocks=2, num_heads=2, num_latents=4)
            make_case(f, "default", default_config(**small), None, args.seed)
            make_case(f, "variants", default_config(**small, qk_norm=True, separate_decode_keys=True,
                                                    attn_scale="sqrt", ffn_mlp_ratio=2.0),
                      None, args.seed + 1)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
