#!/usr/bin/env python3
"""Sets Polar's decode rows (polar.bench.DecodeBench JSON) against the PyTorch peer's (torch_decode.py JSON)
from the same device run: tokens/s ratios, fractions of the bytes bound, and the issue's targets.
Polar rows (densities < 1) are compared with the peer's dense row of the same shape (the peer has no
sparsity); where Polar could not run a row, the 'bound x' column still says how far ahead of the peer
Polar's bytes bound would be. Targets come from the plan ('target R' on a row, carried in Polar's JSON as
target_ratio); the target table is printed last: each target row's Polar ratio, the ratio of Polar's dense
row of the same shape, fractions of the bytes bound, and met or MISSED.

    python3 compare.py polar-decode.json torch-decode.json [--json compare.json]
Standard library only.
"""
import argparse
import json

DENSE_FRACTION_TARGET = 0.9  # of the bytes bound, dense, batch >= 16


def key(row):
    return (row["model"], row["batch"], row["context"], float(row.get("heads_density", 1)), float(row.get("mlp_density", 1)))


def compare(polar, torch):
    peer = {key(r)[:3]: r for r in torch["rows"]}
    out = []
    for p in polar["rows"]:
        k = key(p)
        t = peer.get(k[:3])
        row = dict(model=p["model"], batch=p["batch"], context=p["context"], heads_density=k[3], mlp_density=k[4],
                   polar_status=p["status"], polar_reason=p.get("reason"),
                   polar_types=f"{p.get('weights_type', '?')}/{p.get('kv_type', '?')}")
        for name in ("step_ms", "tokens_per_s", "fraction_of_bound", "bound_ms", "bound_ms_f16"):
            row["polar_" + name] = p.get(name)
        if t is not None:
            row.update(torch_status=t["status"], torch_reason=t.get("reason"), torch_step_ms=t.get("step_ms"),
                       torch_tokens_per_s=t.get("tokens_per_s"), torch_fraction_of_bound=t.get("fraction_of_bound"),
                       torch_attention_share=t.get("attention_share"))
            if p["status"] == "ok" and t["status"] == "ok":
                row["ratio"] = p["tokens_per_s"] / t["tokens_per_s"]
            if t["status"] == "ok" and p.get("bound_ms_f16"):
                row["bound_ratio_f16"] = t["step_ms"] / p["bound_ms_f16"]  # peer step over Polar's float16 bytes bound
        target = p.get("target_ratio")
        if target is not None:
            row["target_ratio"] = target
            row["target_met"] = row.get("ratio") is not None and row["ratio"] >= target
        if k[3] == 1 and k[4] == 1 and p["batch"] >= 16 and p["status"] == "ok":
            row["fraction_target_met"] = p["fraction_of_bound"] >= DENSE_FRACTION_TARGET
        out.append(row)
    # Each row's dense twin (Polar's dense row of the same shape), for the target table.
    dense = {(r["model"], r["batch"], r["context"]): r for r in out if r["heads_density"] == 1 and r["mlp_density"] == 1}
    for r in out:
        d = dense.get((r["model"], r["batch"], r["context"]))
        if d is not None:
            r["dense_ratio"] = d.get("ratio")
            r["dense_fraction_of_bound"] = d.get("polar_fraction_of_bound")
            if r is not d and r.get("polar_step_ms") and d.get("polar_step_ms"):
                r["speedup_over_dense"] = d["polar_step_ms"] / r["polar_step_ms"]
    return out


def print_targets(rows):
    """The issue's targets, last: per target row the ratios and fractions of bound, met or MISSED."""
    targets = [r for r in rows if r.get("target_ratio") is not None]
    print(f"\nTargets (ratio = Polar tokens/s / peer tokens/s, both against the peer's dense row of the shape; "
          f"'dense ratio': Polar's dense row of the same shape; 'of bnd': Polar's fraction of its bytes bound; "
          f"'vs dense': Polar's dense step time over its sparse one)")
    print(f"{'model':10} {'batch':>5} {'ctx':>5} {'heads':>5} {'mlp':>5} {'target':>6} {'ratio':>6} {'dense ratio':>11} "
          f"{'of bnd':>6} {'dense of bnd':>12} {'vs dense':>8} {'bound x':>7}  result")
    for r in targets:
        if r.get("ratio") is None:
            why = f"polar {r['polar_status']}: {short(r['polar_reason'], 60)}" if r["polar_status"] != "ok" else \
                f"peer {r.get('torch_status', 'missing')}: {short(r.get('torch_reason'), 60)}"
            result = f"NOT RUN ({why})"
        else:
            result = "met" if r["target_met"] else "MISSED"
        print(f"{r['model']:10} {r['batch']:5d} {r['context']:5d} {r['heads_density']:5.3g} {r['mlp_density']:5.3g} {r['target_ratio']:6.2f} "
              f"{fmt(r.get('ratio'), '6.2f')} {fmt(r.get('dense_ratio'), '11.2f')} {fmt(r.get('polar_fraction_of_bound'), '6.2f')} "
              f"{fmt(r.get('dense_fraction_of_bound'), '12.2f')} {fmt(r.get('speedup_over_dense'), '8.2f')} {fmt(r.get('bound_ratio_f16'), '7.2f')}  {result}")
    dense = [r for r in rows if "fraction_target_met" in r]
    if dense:
        met = sum(r["fraction_target_met"] for r in dense)
        low = min(dense, key=lambda r: r["polar_fraction_of_bound"])
        print(f"dense >= {DENSE_FRACTION_TARGET} of the bytes bound at batch >= 16: {'met' if met == len(dense) else 'MISSED'} "
              f"({met} of {len(dense)} rows; lowest {low['polar_fraction_of_bound']:.2f} at {low['model']} b{low['batch']} c{low['context']})")
    missed = [r for r in targets if not r.get("target_met")]
    print(f"targets: {len(targets) - len(missed)} of {len(targets)} met" + (
        "; missed or not run: " + ", ".join(f"{r['model']} b{r['batch']} c{r['context']} heads {r['heads_density']:g} mlp {r['mlp_density']:g}"
                                            for r in missed) if missed else ""))


def fmt(v, spec):
    """v formatted, or '-' in the same width when absent."""
    return format(v, spec) if v is not None else "-".rjust(int(spec.split(".")[0]))


def short(reason, width=90):
    reason = (reason or "").removeprefix("UnsupportedOperationException: ")
    return reason if len(reason) <= width else reason[:width - 3] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("polar")
    ap.add_argument("torch")
    ap.add_argument("--json", help="write the merged rows here")
    args = ap.parse_args()
    with open(args.polar) as f:
        polar = json.load(f)
    with open(args.torch) as f:
        torch = json.load(f)
    rows = compare(polar, torch)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device_polar=polar.get("device"), device_torch=torch.get("device"),
                           copy_gb_per_s_polar=polar.get("copy_gb_per_s"), copy_gb_per_s_torch=torch.get("copy_gb_per_s"),
                           rows=rows), f, indent=2)
            f.write("\n")

    print(f"\nPolar vs PyTorch {torch.get('torch_version', '')} on {torch.get('device')}, one run; copy {polar.get('copy_gb_per_s', 0):.0f} GB/s "
          f"(Polar) / {torch.get('copy_gb_per_s', 0):.0f} GB/s (peer). Polar's types per row: weights/KV. "
          "'bound x': peer step / Polar's float16 bytes bound, the best ratio Polar could reach.")
    header = f"{'model':10} {'batch':>5} {'ctx':>5} {'heads':>5} {'mlp':>5} {'polar':>9} {'polar ms':>9} {'polar tok/s':>11} {'of bnd':>6} " \
             f"{'torch ms':>9} {'torch tok/s':>11} {'of bnd':>6} {'attn':>5} {'ratio':>6} {'bound x':>7}  note"
    print(header)
    for r in rows:
        notes = []
        if r.get("target_ratio") is not None:
            notes.append(f"target >= {r['target_ratio']}: {'met' if r['target_met'] else 'MISSED'}")
        if r.get("fraction_target_met") is False:
            notes.append(f"below {DENSE_FRACTION_TARGET} of bound")
        if r["polar_status"] != "ok":
            notes.append(f"polar {r['polar_status']}: {short(r['polar_reason'])}")
        if r.get("torch_status") not in (None, "ok"):
            notes.append(f"torch {r['torch_status']}: {short(r['torch_reason'])}")
        print(f"{r['model']:10} {r['batch']:5d} {r['context']:5d} {r['heads_density']:5.3g} {r['mlp_density']:5.3g} {r['polar_types']:>9} "
              f"{fmt(r.get('polar_step_ms'), '9.3f')} {fmt(r.get('polar_tokens_per_s'), '11.1f')} {fmt(r.get('polar_fraction_of_bound'), '6.2f')} "
              f"{fmt(r.get('torch_step_ms'), '9.3f')} {fmt(r.get('torch_tokens_per_s'), '11.1f')} {fmt(r.get('torch_fraction_of_bound'), '6.2f')} "
              f"{fmt(r.get('torch_attention_share'), '5.2f')} {fmt(r.get('ratio'), '6.2f')} {fmt(r.get('bound_ratio_f16'), '7.2f')}  {'; '.join(notes)}")
    print_targets(rows)


if __name__ == "__main__":
    main()
