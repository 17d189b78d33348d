#!/usr/bin/env python3
"""Side-by-side speed comparison: aenumpy against the PyTorch peer, interleaved A B A B.

For each round and each variant this runs, each in its own process,
``benchmarks/train_speed.py`` (A, aenumpy), ``peer_torch.py`` (B, torch eager, the
peer's own defaults) and ``gemm_floor.py`` (the GEMM-only epoch of the same
variant, at that same moment), then prints per variant the median samples/s
(and min–max) of each side, the ratio of the medians, and aenumpy's epoch_s ÷
the floor's (both medians); and, as a second view, the median (min–max) of the
per-round ratios, each round's aenumpy against the peer and the floor measured
in the same minute. The machine is shared and noisy, so only the medians of
interleaved rounds mean anything (see the peer's RESULTS-peer.md).

    python benchmarks/compare.py --rounds 3                      # every variant
    python benchmarks/compare.py --variants basic deep --rounds 5 --out runs/speed.jsonl

``--out`` appends every JSON record (with a ``round`` key), so the peer's
``summarize.py`` can read the file too. The peer and the floor are looked for in
``--bench`` (default ``../shared/bench`` beside this checkout) and run with
``--peer-python`` (default ``.venv-peer/bin/python``, a venv with torch 2.13.0).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ["basic", "denoising", "sparse_kl", "ksparse", "contractive", "vae", "deep", "conv",
            "convt", "unet"]
#: GFLOP of one training step (batch 128) of the convolutional variants: forward, weight
#: gradient, and input gradient of every layer but the first. Their floor is this
#: arithmetic at the machine's 1024³ sgemm rate (``gemm-peak``), not a GEMM list.
CONV_GFLOP_PER_STEP = {"conv": 0.49, "convt": 0.12, "unet": 4.20}


def run_json(cmd, timeout):
    """Run one measurement process; return its JSON records (or one error record)."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"error": f"timeout after {timeout} s", "cmd": " ".join(cmd)}]
    recs = []
    for ln in p.stdout.splitlines():
        ln = ln.strip()
        if ln.startswith("{"):
            try:
                recs.append(json.loads(ln))
            except json.JSONDecodeError:
                pass
    if not recs:
        tail = (p.stderr or "").strip().splitlines()[-1:] or [""]
        recs = [{"error": f"exit {p.returncode}: {tail[0][:300]}", "cmd": " ".join(cmd)}]
    for r in recs:
        r["wall_s"] = round(time.perf_counter() - t0, 2)
    return recs


def med_range(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals), len(vals)


def fmt(s, nd=0):
    if s is None:
        return "n/a"
    med, lo, hi, n = s
    f = f"{{:,.{nd}f}}"
    return f"{f.format(med)} ({f.format(lo)}–{f.format(hi)})"


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=VARIANTS, choices=VARIANTS)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n", type=int, default=60000)
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps (default one epoch; the unet variant 60, as its peer)")
    p.add_argument("--bench", default=str(ROOT.parent / "shared" / "bench"),
                   help="directory with peer_torch.py and gemm_floor.py")
    p.add_argument("--python", default=sys.executable, help="python for aenumpy and the floor")
    p.add_argument("--peer-python", default=str(ROOT / ".venv-peer" / "bin" / "python"))
    p.add_argument("--no-floor", action="store_true", help="skip gemm_floor.py")
    p.add_argument("--floor-repeats", type=int, default=3)
    p.add_argument("--timeout", type=int, default=600, help="per process (s)")
    p.add_argument("--out", default=None, help="append every JSON record to this file")
    p.add_argument("--by-spell", action="store_true",
                   help="also split the rounds by the machine's state, read from the floor of "
                        "the same round: quiet (within 15%% of the variant's fastest floor) or slow")
    p.add_argument("--summarize", metavar="JSONL", nargs="+", default=None,
                   help="print the table from files an earlier run wrote (runs nothing)")
    a = p.parse_args()
    if a.summarize:
        recs = {v: {"aenumpy": [], "torch-eager": [], "gemm-floor": []} for v in a.variants}
        for src, path in enumerate(a.summarize):
            for ln in open(path):
                if ln.strip().startswith("{"):
                    r = json.loads(ln)
                    r["_src"] = src  # rounds of different files are different rounds
                    if r.get("variant") in recs and r.get("impl") in recs[r["variant"]]:
                        recs[r["variant"]][r["impl"]].append(r)
        table(a.variants, recs)
        if a.by_spell:
            spells(a.variants, recs)
        return 0
    if a.rounds < 1:
        p.error("--rounds must be >= 1")
    bench = Path(a.bench)
    peer, floor = bench / "peer_torch.py", bench / "gemm_floor.py"
    for f in (peer,) + (() if a.no_floor else (floor,)):
        if not f.is_file():
            p.error(f"{f} not found (--bench)")
    if not Path(a.peer_python).exists():
        p.error(f"{a.peer_python} not found: python3 -m venv .venv-peer && "
                f".venv-peer/bin/pip install torch==2.13.0 numpy")
    common = ["--threads", str(a.threads), "--n", str(a.n), "--json"]
    if a.steps is not None:
        common += ["--steps", str(a.steps)]
    out = open(a.out, "a") if a.out else None
    run = time.strftime("%Y-%m-%d %H:%M", time.gmtime())  # rounds pair within one run
    recs = {v: {"aenumpy": [], "torch-eager": [], "gemm-floor": []} for v in a.variants}
    print(f"# compare: {a.rounds} rounds x {len(a.variants)} variants, threads={a.threads}, "
          f"n={a.n}, started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
          file=sys.stderr, flush=True)
    for rnd in range(a.rounds):
        for v in a.variants:
            jobs = [("aenumpy", [a.python, str(ROOT / "benchmarks" / "train_speed.py"),
                                 "--variant", v] + common),
                    ("torch-eager", [a.peer_python, str(peer), "--variant", v] + common)]
            if not a.no_floor and v in CONV_GFLOP_PER_STEP:
                jobs.append(("gemm-floor", [a.python, str(floor), "--variant", "basic",
                                            "--threads", str(a.threads), "--n", "128",
                                            "--repeats", "1"]))
            elif not a.no_floor:
                jobs.append(("gemm-floor", [a.python, str(floor), "--variant", v, "--threads",
                                            str(a.threads), "--n", str(a.n), "--repeats",
                                            str(a.floor_repeats), "--no-peak"]))
            for kind, cmd in jobs:
                recs_out = run_json(cmd, a.timeout)
                if kind == "gemm-floor":
                    recs_out = arithmetic_limit(recs_out, v, a.n)
                for r in recs_out:
                    r["round"] = rnd
                    r["run"] = run
                    r.setdefault("impl", kind)
                    r.setdefault("variant", v)
                    if r.get("impl") == kind:
                        recs[v][kind].append(r)
                    if out is not None:
                        out.write(json.dumps(r) + "\n")
                        out.flush()
                    val = r.get("samples_per_s") or r.get("epoch_s")
                    print(f"[round {rnd + 1}] {v:12s} {kind:12s} "
                          f"{'ERROR ' + r['error'] if r.get('error') else val}",
                          file=sys.stderr, flush=True)
    if out is not None:
        out.close()
    table(a.variants, recs)
    if a.by_spell:
        spells(a.variants, recs)
    return 0


def arithmetic_limit(recs, variant, n):
    """For a convolutional variant, the floor's records become one: the epoch time of its
    arithmetic (``CONV_GFLOP_PER_STEP`` × steps) at the ``gemm-peak`` rate of that round."""
    if variant not in CONV_GFLOP_PER_STEP:
        return recs
    peak = [r for r in recs if r.get("impl") == "gemm-peak" and r.get("gflops")]
    if not peak:
        return [r for r in recs if r.get("error")]
    gflop = CONV_GFLOP_PER_STEP[variant] * n / 128
    return [{"impl": "gemm-floor", "variant": variant, "epoch_s": round(gflop / peak[0]["gflops"], 4),
             "gflops": peak[0]["gflops"], "kind": "arithmetic limit at the 1024³ sgemm rate"}]


def _round(r):
    """Which round a record belongs to: (file, run, round), so that rounds of different
    files or runs never pair."""
    return r.get("_src", 0), r.get("run"), r.get("round")


def paired(recs_a, recs_b, key_a, key_b):
    """Per-round ratios ``a[key_a] / b[key_b]`` of the records measured in the same round
    (the machine's slow spells hit both sides of a round alike, so these vary less
    than the ratio of the medians)."""
    b = {_round(r): r.get(key_b) for r in recs_b}
    out = []
    for r in recs_a:
        other = b.get(_round(r))
        if r.get(key_a) and other:
            out.append(r[key_a] / other)
    return med_range(out)


def spells(variants, recs, margin=1.15):
    """The per-round ratios split by the machine's state in that round. This VM has slow
    spells (everything at 0.5–0.75× speed for seconds to minutes); the floor measured in
    the same round says which state the round was in: quiet when within ``margin`` of
    the variant's fastest floor, slow otherwise."""
    print("\n| variant | quiet rounds | ratio per round | ÷ floor per round | slow rounds | "
          "ratio per round | ÷ floor per round |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        floor = {_round(r): r["epoch_s"] for r in recs[v]["gemm-floor"] if r.get("epoch_s")}
        if not floor:
            continue
        fastest = min(floor.values())
        cells = []
        for quiet in (True, False):
            keep = {k for k, f in floor.items() if (f <= margin * fastest) == quiet}
            sub = {kind: [r for r in rs if _round(r) in keep] for kind, rs in recs[v].items()}
            pr = paired(sub["aenumpy"], sub["torch-eager"], "samples_per_s", "samples_per_s")
            pf = paired(sub["aenumpy"], sub["gemm-floor"], "epoch_s", "epoch_s")
            cells += [str(len(keep)), f"{fmt(pr, 2)}×" if pr else "n/a",
                      f"{fmt(pf, 2)}×" if pf else "n/a"]
        print(f"| {v} | " + " | ".join(cells) + " |")


def table(variants, recs):
    """The markdown table: medians (min–max) per variant, the ratio of the medians and
    the median of the per-round ratios, and the same for ÷ floor."""
    print("\n| variant | aenumpy samples/s | peer samples/s | ratio | ratio per round | "
          "aenumpy epoch_s | floor epoch_s | ÷ floor | ÷ floor per round | "
          "peak RSS MB (ours / peer) | cold start s (ours) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for v in variants:
        ours = med_range([r.get("samples_per_s") for r in recs[v]["aenumpy"]])
        them = med_range([r.get("samples_per_s") for r in recs[v]["torch-eager"]])
        ep = med_range([r.get("epoch_s") for r in recs[v]["aenumpy"]])
        fl = med_range([r.get("epoch_s") for r in recs[v]["gemm-floor"]])
        rss_o = med_range([r.get("peak_rss_mb") for r in recs[v]["aenumpy"]])
        rss_t = med_range([r.get("peak_rss_mb") for r in recs[v]["torch-eager"]])
        cold = med_range([r.get("cold_start_s") for r in recs[v]["aenumpy"]])
        ratio = f"{ours[0] / them[0]:.2f}×" if ours and them else "n/a"
        vs_floor = f"{ep[0] / fl[0]:.2f}×" if ep and fl else "n/a"
        pr = paired(recs[v]["aenumpy"], recs[v]["torch-eager"], "samples_per_s", "samples_per_s")
        pf = paired(recs[v]["aenumpy"], recs[v]["gemm-floor"], "epoch_s", "epoch_s")
        rss = (f"{rss_o[0]:.0f} / {rss_t[0]:.0f}" if rss_o and rss_t else "n/a")
        print(f"| {v} | {fmt(ours)} | {fmt(them)} | {ratio} | {fmt(pr, 2)}× | {fmt(ep, 2)} | "
              f"{fmt(fl, 2)} | {vs_floor} | {fmt(pf, 2)}× | {rss} | {fmt(cold, 2)} |")


if __name__ == "__main__":
    sys.exit(main())
