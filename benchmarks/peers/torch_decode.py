#!/usr/bin/env python3
"""The PyTorch peer of polar.bench.DecodeBench: one dense decode step of a 7B-class model.

Same shapes and plan rows as the Java benchmark (benchmarks/peers/decode-plan.txt), synthetic float16
weights, and the strongest simple PyTorch: cuBLAS GEMMs (F.linear, fused QKV and gate/up projections),
scaled_dot_product_attention over a contiguous float16 KV cache ([batch, kv_heads, context, head_dim]
per layer; GQA as each KV head's query group attending at once, so K/V are read once per group), the
whole step (embedding to logits) captured in one CUDA graph and replayed, timed with CUDA events
after warm-up, medians. The KV cache holds random data up to the context; the new token writes the
last position. Prints one line per row and writes JSON (--json).

    python3 torch_decode.py --plan decode-plan.txt --json torch-decode.json
    python3 torch_decode.py --model llama2-7b --batches 1,16 --contexts 1024,4096
    python3 torch_decode.py --device cpu --dtype float32 --model smoke-llama ...   (a smoke run without a GPU)
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# The shapes of polar.bench.BenchModel, by the same names.
SHAPES = {
    "llama2-7b": dict(arch="llama", vocab=32000, hidden=4096, layers=32, heads=32, kv_heads=32, head_dim=128, ffn=11008,
                      max_positions=4096, rope_theta=10000.0),
    "llama3-8b": dict(arch="llama", vocab=128256, hidden=4096, layers=32, heads=32, kv_heads=8, head_dim=128, ffn=14336,
                      max_positions=8192, rope_theta=500000.0),
    "opt-6.7b": dict(arch="opt", vocab=50272, hidden=4096, layers=32, heads=32, kv_heads=32, head_dim=128, ffn=16384,
                     max_positions=2048, position_offset=2),
    "smoke-llama": dict(arch="llama", vocab=512, hidden=128, layers=2, heads=4, kv_heads=2, head_dim=32, ffn=256,
                        max_positions=1024, rope_theta=10000.0),
    "smoke-opt": dict(arch="opt", vocab=512, hidden=128, layers=2, heads=4, kv_heads=4, head_dim=32, ffn=512,
                      max_positions=1024, position_offset=2),
}
EPS = 1e-5
SHORT_TYPES = {torch.float16: "f16", torch.bfloat16: "bf16", torch.float32: "f32"}  # as polar.bench.DecodeBench writes them
MEMORY_MARGIN = 2 << 30  # bytes left free beside a row's KV cache (activations, cuBLAS, graph pools)


def step_bytes(s, batch, context, weight_bytes=2, kv_bytes=2):
    """Bytes a dense decode step must read: polar.bench.StepBytes' formula (vectors counted as float32)."""
    h, q, kvd, ffn = s["hidden"], s["heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"], s["ffn"]
    relu = s["arch"] == "opt"
    mlp_in = ffn if relu else 2 * ffn
    qkv = q + 2 * kvd
    vectors = 2 * h + ((2 * h + qkv + h + ffn + h) if relu else 0)
    per_layer = (qkv * h + h * q + mlp_in * h + h * ffn) * weight_bytes + vectors * 4
    head = s["vocab"] * h * weight_bytes + (2 if relu else 1) * h * 4
    embedding = batch * h * weight_bytes + (batch * h * 4 if relu else 0)
    weights = s["layers"] * per_layer + head + embedding
    kv = s["layers"] * batch * context * 2 * kvd * kv_bytes
    return weights, kv


def read_plan(path):
    """(model, batch, context) of every row, dense: the peer runs Polar rows' dense twins."""
    shapes = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            while len(words) > 3:  # trailing options, in either order (polar.bench.DecodePlan)
                if words[-1] == "breakdown":
                    words = words[:-1]
                elif len(words) >= 5 and words[-2] == "target":
                    words = words[:-2]
                else:
                    break
            if len(words) not in (3, 5) or words[0] not in SHAPES:
                sys.exit(f"{path}:{number}: expected 'model batch context [heads mlp] [breakdown] [target R]' with a known model, got {line.strip()!r}")
            shape = (words[0], int(words[1]), int(words[2]))
            if shape not in shapes:
                shapes.append(shape)
    return shapes


class Timer:
    """CUDA events on a GPU; the host clock around synchronised runs on the CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def time_ms(self, fn, warmup, repeats):
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats):
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
        return times


def uniform(shape, scale, dtype, device):
    return torch.empty(shape, dtype=dtype, device=device).uniform_(-scale, scale)


class Model:
    """Random weights of a shape, laid out for the fastest simple step (fused QKV and gate/up)."""

    def __init__(self, s, dtype, device):
        self.s, self.dtype, self.device = s, dtype, device
        h, q, kvd, ffn = s["hidden"], s["heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"], s["ffn"]
        self.opt = s["arch"] == "opt"
        ones = lambda n: 1 + uniform((n,), 0.1, dtype, device)
        bias = lambda n: uniform((n,), 0.02, dtype, device) if self.opt else None
        self.layers = []
        for _ in range(s["layers"]):
            self.layers.append(dict(
                attn_norm=ones(h), attn_norm_bias=bias(h),
                wqkv=uniform((q + 2 * kvd, h), 1 / math.sqrt(h), dtype, device), bqkv=bias(q + 2 * kvd),
                wo=uniform((h, q), 1 / math.sqrt(q), dtype, device), bo=bias(h),
                mlp_norm=ones(h), mlp_norm_bias=bias(h),
                w1=uniform(((ffn if self.opt else 2 * ffn), h), 1 / math.sqrt(h), dtype, device), b1=bias(ffn),
                w2=uniform((h, ffn), 1 / math.sqrt(ffn), dtype, device), b2=bias(h)))
        self.embedding = uniform((s["vocab"], h), 1.0, dtype, device)
        self.lm_head = self.embedding if self.opt else uniform((s["vocab"], h), 1.0, dtype, device)
        self.final_norm, self.final_norm_bias = ones(h), bias(h)
        if self.opt:
            self.positions = uniform((s["max_positions"] + s["position_offset"], h), 1.0, dtype, device)
        else:
            half = s["head_dim"] // 2
            inv = 1.0 / (s["rope_theta"] ** (torch.arange(0, half, dtype=torch.float32, device=device) * 2 / s["head_dim"]))
            angles = torch.outer(torch.arange(s["max_positions"], dtype=torch.float32, device=device), inv)
            angles = torch.cat((angles, angles), dim=-1)  # half-split rotation: both halves turn by the same angles
            self.cos, self.sin = angles.cos().to(dtype), angles.sin().to(dtype)

    def norm(self, x, weight, bias):
        if self.opt:
            return F.layer_norm(x, (x.shape[-1],), weight, bias, EPS)
        if hasattr(F, "rms_norm"):
            return F.rms_norm(x, (x.shape[-1],), weight, EPS)
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * weight

    def rope(self, x, cos, sin):
        """Half-split RoPE over [B, heads, D] with cos, sin [B, 1, D]: few kernels, as it runs for Q and K at once."""
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def attention(q, k, v):
    """q [B, kvH, group, D] over k, v [B, kvH, ctx, D]: every cached position is visible."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])  # torch < 2.0, CPU smoke runs only
    return (scores.softmax(-1) @ v.float()).to(q.dtype)


class DecodeStep:
    """One decode step of `batch` sequences at position context-1, over a random KV cache."""

    def __init__(self, m, batch, context):
        s = m.s
        self.m, self.batch, self.context = m, batch, context
        self.kv_heads, self.group, self.head_dim = s["kv_heads"], s["heads"] // s["kv_heads"], s["head_dim"]
        shape = (batch, s["kv_heads"], context, s["head_dim"])
        self.k = [uniform(shape, 1.0, m.dtype, m.device) for _ in range(s["layers"])]
        self.v = [uniform(shape, 1.0, m.dtype, m.device) for _ in range(s["layers"])]
        self.tokens = torch.randint(0, s["vocab"], (batch,), device=m.device)
        self.positions = torch.full((batch,), context - 1, dtype=torch.long, device=m.device)

    def __call__(self):
        m, s, b = self.m, self.m.s, self.batch
        q_dim, kv_dim = s["heads"] * self.head_dim, self.kv_heads * self.head_dim
        x = m.embedding[self.tokens]
        if m.opt:
            x = x + m.positions[self.positions + s["position_offset"]]
        else:
            cos = m.cos[self.positions].unsqueeze(1)  # [B, 1, D]
            sin = m.sin[self.positions].unsqueeze(1)
        for l, w in enumerate(m.layers):
            h = m.norm(x, w["attn_norm"], w["attn_norm_bias"])
            qkv = F.linear(h, w["wqkv"], w["bqkv"])
            qk = qkv[:, :q_dim + kv_dim].view(b, s["heads"] + self.kv_heads, self.head_dim)
            if not m.opt:
                qk = m.rope(qk, cos, sin)  # Q and K rotated together
            q, k = qk[:, :s["heads"]], qk[:, s["heads"]:]
            v = qkv[:, q_dim + kv_dim:].view(b, self.kv_heads, self.head_dim)
            self.k[l][:, :, self.context - 1].copy_(k)
            self.v[l][:, :, self.context - 1].copy_(v)
            o = attention(q.reshape(b, self.kv_heads, self.group, self.head_dim), self.k[l], self.v[l])
            x = x + F.linear(o.reshape(b, q_dim), w["wo"], w["bo"])
            h = m.norm(x, w["mlp_norm"], w["mlp_norm_bias"])
            if m.opt:
                a = F.relu(F.linear(h, w["w1"], w["b1"]))
            else:
                gate, up = F.linear(h, w["w1"]).chunk(2, dim=-1)
                a = F.silu(gate) * up
            x = x + F.linear(a, w["w2"], w["b2"])
        return F.linear(m.norm(x, m.final_norm, m.final_norm_bias), m.lm_head)

    def attention_only(self):
        """The step's attention calls alone (same cache, random queries): the attention share of the step."""
        q = uniform((self.batch, self.kv_heads, self.group, self.head_dim), 1.0, self.m.dtype, self.m.device)
        return lambda: [attention(q, self.k[l], self.v[l]) for l in range(len(self.k))]


def captured(fn, device):
    """fn as one replayable CUDA graph (after warm-up on a side stream, as capture requires); fn itself on the CPU."""
    if device.type != "cuda":
        return fn, None
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph.replay, out


def copy_bandwidth(timer, device, warmup, repeats):
    """Device-to-device copy, GB/s counting bytes read and written (1 GiB each way; 64 MiB on the CPU)."""
    nbytes = (1 << 30) if device.type == "cuda" else (64 << 20)
    src = uniform((nbytes // 2,), 1.0, torch.float16, device)
    dst = torch.empty_like(src)
    ms = statistics.median(timer.time_ms(lambda: dst.copy_(src), warmup, repeats))
    del src, dst
    return 2 * nbytes / (ms * 1e6)


def run_row(m, model_name, batch, context, timer, copy_gbps, args):
    s = m.s
    row = dict(model=model_name, batch=batch, context=context, sparsity="dense", heads_density=1.0, mlp_density=1.0,
               weights_type=SHORT_TYPES[m.dtype], kv_type=SHORT_TYPES[m.dtype])
    element = torch.tensor([], dtype=m.dtype).element_size()
    weights, kv = step_bytes(s, batch, context, element, element)
    row.update(bytes_weights=weights, bytes_kv=kv, bytes=weights + kv, bound_ms=(weights + kv) / (copy_gbps * 1e6))
    if context > s["max_positions"]:
        return dict(row, status="skipped", reason=f"context {context} exceeds the model's {s['max_positions']} positions")
    if m.device.type == "cuda":
        free = torch.cuda.mem_get_info()[0]
        if kv + MEMORY_MARGIN > free:
            return dict(row, status="skipped", reason=f"needs {kv / 1e9:.1f} GB of KV cache, {free / 1e9:.1f} GB free")
    step = DecodeStep(m, batch, context)
    try:
        t0 = time.perf_counter()
        replay, logits = captured(step, m.device)
        timer.sync()
        row["capture_s"] = time.perf_counter() - t0
        ms = timer.time_ms(replay, args.warmup, args.repeats)
        median = statistics.median(ms)
        if logits is None:
            logits = step()
        attention_replay, _ = captured(step.attention_only(), m.device)
        attention_ms = statistics.median(timer.time_ms(attention_replay, args.warmup, args.repeats))
        row.update(status="ok", step_ms=median, step_ms_min=min(ms), step_ms_max=max(ms), tokens_per_s=batch * 1000 / median,
                   fraction_of_bound=row["bound_ms"] / median, achieved_gb_per_s=row["bytes"] / (median * 1e6),
                   attention_ms=attention_ms, attention_share=attention_ms / median,
                   logits_finite=bool(torch.isfinite(logits.float()).all().item()))
        return row
    finally:
        del step
        if m.device.type == "cuda":
            torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plan", help="plan file (model batch context [heads mlp] [breakdown] [target R] per line)")
    p.add_argument("--model", choices=sorted(SHAPES))
    p.add_argument("--batches", default="1")
    p.add_argument("--contexts", default="1024")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--seed", type=int, default=20251124)
    p.add_argument("--json", default="torch-decode.json")
    args = p.parse_args()
    if args.plan:
        rows = read_plan(args.plan)
    elif args.model:
        rows = [(args.model, int(b), int(c)) for b in args.batches.split(",") for c in args.contexts.split(",")]
    else:
        p.error("give --plan or --model")

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    timer = Timer(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    copy_gbps = copy_bandwidth(timer, device, args.warmup, args.repeats)
    result = dict(engine="torch", torch_version=torch.__version__, device=name, dtype=args.dtype, warmup=args.warmup,
                  repeats=args.repeats, copy_gb_per_s=copy_gbps, rows=[])
    print(f"torch_decode on {name} (torch {torch.__version__}): device-to-device copy {copy_gbps:.0f} GB/s (read + write)", flush=True)

    def save():
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")

    for model_name in dict.fromkeys(r[0] for r in rows):
        t0 = time.perf_counter()
        m = Model(SHAPES[model_name], dtype, device)
        timer.sync()
        print(f"\n== {model_name}: weights in {time.perf_counter() - t0:.1f} s", flush=True)
        for (_, batch, context) in [r for r in rows if r[0] == model_name]:
            try:
                row = run_row(m, model_name, batch, context, timer, copy_gbps, args)
            except Exception as e:  # one row's failure (say, out of memory) must not lose the others
                row = dict(model=model_name, batch=batch, context=context, sparsity="dense", heads_density=1.0, mlp_density=1.0,
                           status="failed", reason=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:400])
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            result["rows"].append(row)
            save()
            if row["status"] == "ok":
                print(f"  {model_name:10} b={batch:<4} ctx={context:<5} {row['step_ms']:9.3f} ms {row['tokens_per_s']:10.1f} tok/s  "
                      f"{row['fraction_of_bound']:.2f} of bound ({row['bound_ms']:.3f} ms)  attention {row['attention_share']:.2f} of step", flush=True)
            else:
                print(f"  {model_name:10} b={batch:<4} ctx={context:<5} {row['status']}: {row['reason']}", flush=True)
        del m
        if device.type == "cuda":
            torch.cuda.empty_cache()
    save()
    print(f"JSON: {args.json}")
    return 1 if any(r["status"] == "failed" for r in result["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
