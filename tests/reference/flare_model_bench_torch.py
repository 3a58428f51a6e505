#!/usr/bin/env python3
"""PyTorch baseline for `flare-surrogate bench model --device cuda`: the same FLARE model
(flare_torch.py, the implementation our CPU model is checked against) timed on the GPU, one mesh of
N points, inference (no_grad) and a training step (forward, MSE, backward, AdamW), with the peak
GPU memory of each. Modes: fp32 and bf16 autocast, eager; append "-compile" (fp32-compile,
bf16-compile) for the same under torch.compile (the first warm-up call compiles: tens of seconds
per shape, not timed).

  python3 tests/reference/flare_model_bench_torch.py --out torch_model.jsonl --points 50000,1000000
"""
import argparse
import json

import torch

from flare_mixer_torch import time_ms
from flare_torch import FlareModel, default_config


def bench(N, mode, warmup, reps, train):
    torch.manual_seed(0)
    precision, _, compiled = mode.partition("-")
    assert precision in ("fp32", "bf16") and compiled in ("", "compile"), f"unknown mode {mode}"
    module = FlareModel(default_config()).cuda()
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
    model = torch.compile(module) if compiled else module
    x = torch.randn(1, N, 8, device="cuda")
    y = torch.randn(1, N, 1, device="cuda")
    ctx = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if precision == "bf16" else torch.enable_grad

    def infer():
        with torch.no_grad(), ctx():
            model(x)

    def step():
        opt.zero_grad(set_to_none=True)
        with ctx():
            loss = torch.nn.functional.mse_loss(model(x).float(), y)
        loss.backward()
        opt.step()

    row = {"N": N, "mode": mode}
    if compiled:
        warmup = max(warmup, 1)  # the first call compiles
    for name, fn in [("inference", infer)] + ([("train step", step)] if train else []):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:
            row[name + " ms"] = time_ms(fn, warmup, reps)
            row[name + " peak GiB"] = torch.cuda.max_memory_allocated() / 2**30
        except torch.cuda.OutOfMemoryError:
            row[name + " ms"] = None
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", default="50000,250000,1000000")
    ap.add_argument("--modes", default="fp32,bf16")
    ap.add_argument("--train-max", type=int, default=1000000, help="largest N with a training step")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    with open(a.out, "a") as out:
        for mode in a.modes.split(","):
            for N in [int(float(s)) for s in a.points.split(",")]:
                row = bench(N, mode, a.warmup, a.reps, N <= a.train_max)
                print(json.dumps(row), flush=True)
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
