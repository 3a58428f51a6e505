#!/usr/bin/env python3
"""Trains the PyTorch FLARE model of flare_torch.py on one of our dataset files (surrogate/dataset.h)
with the options of `flare-surrogate train`, and reports the test split the way `flare-surrogate
eval` does: the recipe comparison of issue 16 (scripts/recipe_vs_reference.sh runs both sides).

The recipe follows FLARE.py (pdebench/__main__.py, mlutils): AdamW with its decay groups (Linear
weights only), torch.optim.lr_scheduler.OneCycleLR (cycle_momentum rewrites AdamW's beta1 every
step), global gradient-norm clipping, an EMA of the weights updated after every optimizer step
(shadow = (1 - d)·p + d·shadow, starting from the initial weights, no bias correction) that is what
gets validated and tested, and FLARE.py's initialisation (Linear N(0, 0.02), biases 0, LayerNorm
1/0, latent queries N(0, 0.1)). Inputs and targets are normalised with the dataset's train
statistics (/stats), exactly as our trainer does. One mesh per forward (no padding); a batch of B
meshes sums B forwards as our packed batch does: the mean of the per-mesh losses (rel_l2), or the
MSE over all their values (mse).

  python3 flare_train_torch.py --data lpbf.h5 --epochs 15 --recipe reference --device cuda \
      --precision bf16 --json ref.json
  python3 flare_train_torch.py --data lpbf.h5 --epochs 15 --loss mse --pct-start 0.3 ...

--recipe reference sets the same values as `flare-surrogate train --recipe reference`; explicit
options win. Needs torch, einops, h5py, numpy (all on the GPU host).
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flare_torch import FlareModel, decay_groups, default_config  # noqa: E402

# app/cmd_train.cpp recipe_ini("reference"): keep the two in step.
REFERENCE = dict(lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, schedule="onecycle",
                 pct_start=0.1, div_factor=1e4, final_div_factor=1e4, cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, clip_norm=1.0, ema=0.999, loss="rel_l2",
                 batch_size=1)
# `flare-surrogate train` defaults (surrogate/trainer.h TrainOptions).
DEFAULTS = dict(lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, schedule="onecycle",
                pct_start=0.3, div_factor=25.0, final_div_factor=1e4, cycle_momentum=False,
                base_momentum=0.85, max_momentum=0.95, clip_norm=0.0, ema=0.0, loss="mse",
                batch_size=1)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="dataset .h5 from `flare-surrogate dataset build`")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--recipe", choices=["reference"], help="FLARE.py's recipe; options given win")
    for k, v in DEFAULTS.items():
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            ap.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=None)
        else:
            ap.add_argument(flag, type=type(v), default=None)
    ap.add_argument("-C", "--channels", type=int, default=64)
    ap.add_argument("-L", "--blocks", type=int, default=8)
    ap.add_argument("-H", "--heads", type=int, default=8)
    ap.add_argument("-M", "--latents", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-every", type=int, default=1)
    ap.add_argument("--select", choices=["best", "last"], default="best",
                    help="test the weights with the best val rel-L2 (as `train` saves them) or the last")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: torch.autocast (FLARE.py's mixed precision), fp32 weights")
    ap.add_argument("--split", default="test", help="split to report (test, val, train)")
    ap.add_argument("--json", help="write the summary and the options here")
    a = ap.parse_args()
    opts = dict(DEFAULTS)
    if a.recipe == "reference":
        opts.update(REFERENCE)
    for k in DEFAULTS:
        if getattr(a, k) is not None:
            opts[k] = getattr(a, k)
    for k, v in opts.items():
        setattr(a, k, v)
    if a.loss not in ("mse", "rel_l2", "rel_l2_normalized"):
        ap.error("--loss must be mse, rel_l2 or rel_l2_normalized")
    if a.schedule not in ("onecycle", "constant"):
        ap.error("--schedule: this script runs onecycle or constant")
    if not (a.ema == 0 or 0 < a.ema < 1):
        ap.error("--ema must be 0 or in (0, 1)")
    return a, opts


class Data:
    """The packed arrays of a dataset file, normalised with its train statistics (in float32, as
    surrogate/normalizer.cpp does), one (x, y) pair of tensors per sample on the device."""

    def __init__(self, path, device):
        with h5py.File(path, "r") as f:
            feats = np.asarray(f["features"], dtype=np.float32)
            targs = np.asarray(f["targets"], dtype=np.float32)
            self.offsets = np.asarray(f["offsets"], dtype=np.int64)
            self.splits = {k: np.asarray(f["split"][k], dtype=np.int64) for k in f["split"]}
            st = f["stats"]
            fm, fs = np.float32(st["feature_mean"][()]), np.float32(st["feature_std"][()])
            self.t_mean = np.asarray(st["target_mean"], dtype=np.float32)
            self.t_std = np.asarray(st["target_std"], dtype=np.float32)
            names = f.attrs.get("target_names")
            fam = f.attrs.get("families")
        self.target_names = json.loads(names) if isinstance(names, (str, bytes)) else list(names or [])
        self.families = json.loads(fam) if isinstance(fam, (str, bytes)) and fam else []
        xn = (feats - fm) / fs
        yn = (targs - self.t_mean) / self.t_std
        self.F, self.T = feats.shape[1], targs.shape[1]
        self.device = device
        self.x, self.y, self.y_raw = [], [], []
        for s in range(len(self.offsets) - 1):
            a, b = self.offsets[s], self.offsets[s + 1]
            self.x.append(torch.from_numpy(xn[a:b]).to(device))
            self.y.append(torch.from_numpy(yn[a:b]).to(device))
            self.y_raw.append(targs[a:b].astype(np.float64))
        self.scale = torch.from_numpy(self.t_std).to(device)
        self.shift = torch.from_numpy(self.t_mean).to(device)


def flare_init(model, gen):
    """FLARE.py's initialisation (flare.md; surrogate/param_layout.cpp does the same)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, 0.02, generator=gen)
                m.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
        for name, p in model.named_parameters():
            if name.endswith("latent_q"):
                p.normal_(0.0, 0.1, generator=gen)


def mesh_loss(kind, pred, y, scale, shift):
    """Loss of one mesh: rel_l2 on the denormalised field (the metric), on the normalised one, or
    the sum of squared errors (mse: divided by the batch's value count by the caller)."""
    pred = pred.float()
    if kind == "rel_l2":
        return ((pred - y) * scale).norm() / (y * scale + shift).norm()
    if kind == "rel_l2_normalized":
        return (pred - y).norm() / y.norm()
    return ((pred - y) ** 2).sum()


def forward(model, x, precision):
    with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        return model(x.unsqueeze(0))[0]


@torch.no_grad()
def evaluate(model, data, ids, precision):
    """Per sample: rel-L2 of the denormalised prediction (all columns) and of each column, in
    float64, as surrogate/evaluate.cpp sample_metrics."""
    model.eval()
    rows = []
    for s in ids:
        # Denormalised in float32 (Normalizer::denormalize_targets), compared in float64.
        pred = forward(model, data.x[s], precision).float() * data.scale + data.shift
        pred = pred.cpu().numpy().astype(np.float64)
        y = data.y_raw[s]
        err = pred - y
        comp = np.sqrt((err ** 2).sum(0) / (y ** 2).sum(0))
        rows.append(dict(sample=int(s), rel_l2=float(np.sqrt((err ** 2).sum() / (y ** 2).sum())),
                         components=[float(c) for c in comp]))
    model.train()
    return rows


def summary(rows):
    v = np.array([r["rel_l2"] for r in rows])
    c = np.array([r["components"] for r in rows])
    return dict(samples=len(rows), mean_rel_l2=float(v.mean()), median_rel_l2=float(np.median(v)),
                max_rel_l2=float(v.max()), mean_components=[float(x) for x in c.mean(0)],
                median_components=[float(x) for x in np.median(c, 0)])


def column_names(data):
    n = data.target_names or [f"t{c}" for c in range(data.T)]
    if data.T == 3 and all(name.rsplit("_", 1)[-1] in "012" for name in n):
        base = n[0].rsplit("_", 1)[0]
        return [f"{base}_{a}" for a in "xyz"]
    return n


def main():
    a, opts = parse_args()
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    data = Data(a.data, dev)
    train_ids, val_ids = data.splits["train"], data.splits.get("val", np.array([], dtype=np.int64))
    report_ids = data.splits[a.split]
    c = default_config(in_dim=data.F, out_dim=data.T, channel_dim=a.channels, num_blocks=a.blocks,
                       num_heads=a.heads, num_latents=a.latents)
    model = FlareModel(c)
    flare_init(model, torch.Generator().manual_seed(a.seed))
    model.to(dev)
    decay, no_decay = decay_groups(model)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(a.beta1, a.beta2), eps=1e-8)
    per_epoch = (len(train_ids) + a.batch_size - 1) // a.batch_size
    total = per_epoch * a.epochs
    sched = None
    if a.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=a.lr, total_steps=total, pct_start=a.pct_start, div_factor=a.div_factor,
            final_div_factor=a.final_div_factor, cycle_momentum=a.cycle_momentum,
            base_momentum=a.base_momentum, max_momentum=a.max_momentum, anneal_strategy="cos")
    ema = {n: p.detach().clone() for n, p in model.named_parameters()} if a.ema > 0 else None

    def eval_model():
        """The weights validation and the test use: the EMA's, when on."""
        if ema is None:
            return model
        m = copy.deepcopy(model)
        with torch.no_grad():
            for n, p in m.named_parameters():
                p.copy_(ema[n])
        return m

    print(f"torch {torch.__version__} on {dev}, {a.precision}; {len(train_ids)} train / {len(val_ids)} val / "
          f"{len(report_ids)} {a.split}; {total} steps; options {json.dumps(opts)}", flush=True)
    print("epoch | step | loss | val rel-L2 | lr | beta1 | s", flush=True)
    rng = np.random.default_rng(a.seed)
    best_val, best_state, step, t0 = math.inf, None, 0, time.time()
    for epoch in range(a.epochs):
        order = rng.permutation(train_ids)
        win = []
        for k in range(per_epoch):
            ids = order[k * a.batch_size:(k + 1) * a.batch_size]
            lr_now = opt.param_groups[0]["lr"]
            beta1_now = opt.param_groups[0]["betas"][0]
            opt.zero_grad(set_to_none=True)
            losses = [mesh_loss(a.loss, forward(model, data.x[s], a.precision), data.y[s],
                                data.scale, data.shift) for s in ids]
            if a.loss == "mse":
                loss = sum(losses) / sum(data.y[s].numel() for s in ids)
            else:
                loss = sum(losses) / len(ids)
            loss.backward()
            if a.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip_norm)
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for n, p in model.named_parameters():
                        ema[n] = (1.0 - a.ema) * p.detach() + a.ema * ema[n]
            if sched is not None:
                sched.step()
            step += 1
            win.append(float(loss))
        val = None
        if len(val_ids) and ((epoch + 1) % a.val_every == 0 or epoch + 1 == a.epochs):
            m = eval_model()
            val = summary(evaluate(m, data, val_ids, a.precision))["mean_rel_l2"]
            if val < best_val:
                best_val = val
                best_state = {n: p.detach().clone() for n, p in m.named_parameters()}
        print(f"{epoch + 1} | {step} | {np.mean(win):.3e} | {'-' if val is None else f'{val:.4f}'} | "
              f"{lr_now:.2e} | {beta1_now:.3f} | {time.time() - t0:.0f}", flush=True)

    final = eval_model()
    if a.select == "best" and best_state is not None:
        with torch.no_grad():
            for n, p in final.named_parameters():
                p.copy_(best_state[n])
    rows = evaluate(final, data, report_ids, a.precision)
    s = summary(rows)
    cols = column_names(data)
    # The summary lines of `flare-surrogate eval` (app/eval_report.cpp), for a side-by-side read.
    print(f"\nPyTorch FLARE ({'EMA of the weights, ' if ema is not None else ''}{a.select} by val "
          f"rel-L2 {best_val:.4f}), {time.time() - t0:.0f} s")
    print(f"{a.split} split, {s['samples']} samples: rel-L2 mean {s['mean_rel_l2']:.4e}, median "
          f"{s['median_rel_l2']:.4e}, max {s['max_rel_l2']:.4e}")
    print("per component rel-L2 mean (median): " + " ".join(
        f"{n} {m:.4e} ({d:.4e})" for n, m, d in zip(cols, s["mean_components"], s["median_components"])))
    if data.families:
        print("\nby family (rel-L2 mean / median):")
        print(f"{'family':16} {'samples':>7} {'vector':>23} " + " ".join(f"{n:>23}" for n in cols))
        for fam in sorted({data.families[r["sample"]] for r in rows}):
            fs = summary([r for r in rows if data.families[r["sample"]] == fam])
            pairs = [(fs["mean_rel_l2"], fs["median_rel_l2"])] + list(
                zip(fs["mean_components"], fs["median_components"]))
            print(f"{fam:16} {fs['samples']:>7} " + " ".join(f"{m:.4e}/{d:11.4e}" for m, d in pairs))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(summary=s, components=cols, best_val=best_val, options=opts,
                           epochs=a.epochs, steps=step, seconds=time.time() - t0,
                           precision=a.precision, torch=torch.__version__), f, indent=1)


if __name__ == "__main__":
    main()
