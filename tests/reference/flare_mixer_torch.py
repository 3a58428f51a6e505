#!/usr/bin/env python3
"""PyTorch baseline for `flare-surrogate bench mixer`: the FLARE mixer as two
scaled_dot_product_attention calls (as in FLARE.py), bf16, eager and torch.compile.

    z = SDPA(q, k, v, scale=s)      # encode: M latents attend to N points
    y = SDPA(k, q, z, scale=s)      # decode: N points attend to M latents

Writes one JSON line per (N, H, D, M): {"N","H","D","M","eager fwd ms","eager fwd+bwd ms",
"compile fwd ms","compile fwd+bwd ms"} (median of CUDA-event timings). torch.compile is run only
for the sizes in --compile-points (each shape compiles anew, tens of seconds each).

    python3 tests/reference/flare_mixer_torch.py --out torch.jsonl
"""
import argparse
import json

import torch
import torch.nn.functional as F


def mixer(q, k, v, scale):
    z = F.scaled_dot_product_attention(q, k, v, scale=scale)
    return F.scaled_dot_product_attention(k, q, z, scale=scale)


def time_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def bench(fn_mixer, N, H, D, M, warmup, reps):
    dev, dt = "cuda", torch.bfloat16
    q = (0.5 * torch.randn(1, H, M, D, device=dev)).to(dt).requires_grad_()
    k = torch.randn(1, H, N, D, device=dev, dtype=dt).requires_grad_()
    v = torch.randn(1, H, N, D, device=dev, dtype=dt).requires_grad_()
    dy = torch.randn(1, H, N, D, device=dev, dtype=dt)

    def fwd():
        with torch.no_grad():
            fn_mixer(q, k, v, 1.0)

    def fwdbwd():
        y = fn_mixer(q, k, v, 1.0)
        y.backward(dy)

    return time_ms(fwd, warmup, reps), time_ms(fwdbwd, warmup, reps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", default="50000,250000,1000000,4000000")
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--head-dims", default="8,32")
    ap.add_argument("--latents", default="64,256")
    ap.add_argument("--compile-points", default="1000000")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ints = lambda s: [int(float(x)) for x in s.split(",") if x]
    compiled = torch.compile(mixer)
    with open(a.out, "a") as out:
        for D in ints(a.head_dims):
            for M in ints(a.latents):
                for N in ints(a.points):
                    row = {"N": N, "H": a.heads, "D": D, "M": M}
                    f, fb = bench(mixer, N, a.heads, D, M, a.warmup, a.reps)
                    row["eager fwd ms"], row["eager fwd+bwd ms"] = f, fb
                    if N in ints(a.compile_points):
                        f, fb = bench(compiled, N, a.heads, D, M, a.warmup, a.reps)
                        row["compile fwd ms"], row["compile fwd+bwd ms"] = f, fb
                    print(json.dumps(row), flush=True)
                    out.write(json.dumps(row) + "\n")
                    torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
