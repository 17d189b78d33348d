#!/usr/bin/env python3
"""Training beside other work: the loaded/quiet throughput ratio, interleaved.

For each round and each variant this runs the training benchmark three times, each in
its own process: **quiet**; beside a pure-Python **busy** loop (``while True: pass``,
one CPU-bound process); and beside a second **train**ing process (the same benchmark of
the same variant, running for the whole measurement). Each loaded run is set against
the quiet run of its own round, so a round's ratios are measured within a minute of
each other. With ``--peer`` it does the same for the PyTorch peer (``peer_torch.py``,
eager, the same ``--threads``; its second training process is a second peer), for
scale. On 2 cores beside one CPU-bound competitor, the fair share is half the machine.

    python benchmarks/fair_share.py --variants basic conv --rounds 3
    python benchmarks/fair_share.py --rounds 3 --peer --out runs/fair.jsonl
    python benchmarks/fair_share.py --summarize runs/fair.jsonl

Every run is short (``--n``: 10,000 samples, about 79 timed steps) so that a loaded run
takes seconds, even when training collapses beside its competitor. ``--env K=V`` passes a
setting to aenumpy's processes (to measure a threading layer or a wait policy);
``--nice N`` runs every process this script starts (measured and competitors alike) at
niceness N, which on a machine shared with other users' work keeps their share small
(a negative N needs root), each in a session of its own. Each record carries
``foreign_cpu_s``: the CPU seconds the machine spent during the run on neither the
measured process nor its competitor, how much other work disturbed it.

``--loads half`` adds a loop busy 5 ms in every 10 (bursty work, a video playing).
``--against DIR`` runs every aenumpy measurement a second time right after, from the
checkout DIR (``PYTHONPATH``), and the summary adds this tree ÷ that one per round: the
quiet speed before and after a change. ``--label`` names a run's records in the summary.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOADS = ("quiet", "busy", "train", "half")
BUSY_LOOP = "while True: pass"
#: busy 5 ms, asleep 5 ms: half a core, in bursts (a browser playing a video, say)
HALF_LOOP = ("import time\nwhile True:\n    t = time.perf_counter() + 0.005\n"
             "    while time.perf_counter() < t: pass\n    time.sleep(0.005)")


def benchmark_variants():
    """The variants ``train_speed.py`` times (its ``VARIANTS`` list, read without
    importing it: importing it sets thread counts from this process's arguments)."""
    tree = ast.parse((ROOT / "benchmarks" / "train_speed.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "VARIANTS"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("benchmarks/train_speed.py has no VARIANTS list")


def machine_busy_s():
    """CPU seconds the whole machine has spent busy since boot (``/proc/stat``)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid):
    """User + system CPU seconds of a running process and its threads (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0.0
    fields = s[s.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    r = os.times()
    return r.children_user + r.children_system


class Competitor:
    """A process that keeps one or more cores busy while a measurement runs: the busy
    loop, or a second training process (started, then waited for until its timed
    region begins: its benchmark logs the warm-up line just before)."""

    def __init__(self, cmd, env, nice, wait_for=None, timeout=300.0):
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=self.log,
                                     text=True, preexec_fn=_niceness(nice))
        deadline = time.monotonic() + (timeout if wait_for else 0.2)
        while time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
            self.log.seek(0)
            if wait_for and wait_for in self.log.read():
                break
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise RuntimeError(f"competitor {cmd} ended: {self.log.read()[-300:]}")
        self.cpu0 = process_cpu_s(self.proc.pid)

    def stop(self):
        """Its CPU seconds since it was ready; then it is ended (only this process)."""
        cpu = process_cpu_s(self.proc.pid) - self.cpu0
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        return cpu


def _niceness(nice):
    """What a started process runs first with ``--nice``: a session of its own (under
    Linux's autogroup scheduling a session is the unit the CPU is shared between, so a
    niceness counts only inside it) at niceness ``nice``, its autogroup's too."""
    if nice is None:
        return None

    def set_nice():
        os.setsid()
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))
        except OSError:
            pass  # no autogroups here: the process niceness below is what counts
        os.setpriority(os.PRIO_PROCESS, 0, nice)

    return set_nice


def run_one(cmd, env, nice, competitor, timeout):
    """One measurement process; its JSON record with the machine's other load added."""
    busy0, own0 = machine_busy_s(), children_cpu_s()
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=_niceness(nice))
        out, err = p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        out, err = "", f"timeout after {timeout} s"
    wall = time.perf_counter() - t0
    own = children_cpu_s() - own0  # before the competitor is reaped and counted too
    comp_cpu = competitor.stop() if competitor else 0.0
    busy = machine_busy_s() - busy0
    recs = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    rec = recs[-1] if recs else {"error": (err.strip().splitlines() or ["no output"])[-1][:300]}
    rec.update(wall_s=round(wall, 2), cpu_s=round(own, 2), competitor_cpu_s=round(comp_cpu, 2),
               foreign_cpu_s=round(max(0.0, busy - own - comp_cpu), 2))
    return rec


def measure(impl, variant, load, a, env):
    """Run ``variant`` of ``impl`` under ``load`` once; the record."""
    if impl == "aenumpy":
        cmd = [a.python, str(ROOT / "benchmarks" / "train_speed.py")]
    else:
        cmd = [a.peer_python, str(Path(a.bench) / "peer_torch.py")]
    n = a.n if impl == "aenumpy" or a.peer_n is None else a.peer_n
    cmd += ["--variant", variant, "--n", str(n), "--threads", str(a.threads), "--json"]
    if a.steps:
        cmd += ["--steps", str(a.steps)]
    competitor = None
    if load == "busy":
        competitor = Competitor([sys.executable, "-c", BUSY_LOOP], env, a.nice)
    elif load == "half":
        competitor = Competitor([sys.executable, "-c", HALF_LOOP], env, a.nice)
    elif load == "train":
        rival = cmd[:cmd.index("--json")] + ["--steps", str(10 ** 8)]
        competitor = Competitor(rival, env, a.nice, wait_for="warmup")
    rec = run_one(cmd, env, a.nice, competitor, a.timeout)
    rec.update(load=load, env=dict(a.env), nice=a.nice)
    rec.setdefault("impl", impl if impl == "aenumpy" else "torch-eager")
    rec.setdefault("variant", variant)
    return rec


def summarize(recs):
    """Per implementation and variant: median samples/s of each load (min–max), and the
    median (min–max) of the per-round ratios loaded/quiet."""
    lines = ["| impl | variant | quiet samples/s | busy samples/s | train samples/s "
             "| busy ÷ quiet | train ÷ quiet | threads q / b / t | rounds |",
             "|---|---|---|---|---|---|---|---|---|"]
    if any(r.get("load") == "half" for r in recs):
        lines[0] = lines[0].replace(" threads q", " half ÷ quiet | threads q")
        lines[1] += "---|"
    order = {v: i for i, v in enumerate(benchmark_variants())}

    def what(r):
        return (r.get("set", ""), json.dumps(r.get("env", {}), sort_keys=True), r.get("threads"),
                r.get("impl") + (" (against)" if r.get("tree") == "against" else ""),
                r.get("variant"))

    keys = sorted({what(r) for r in recs},
                  key=lambda k: (k[0], k[1], -(k[2] or 0), k[3] != "aenumpy", k[3],
                                 order.get(k[4], len(order))))
    for label, env, nthreads, impl, variant in keys:
        group = [r for r in recs if what(r) == (label, env, nthreads, impl, variant)]
        sps = {load: [r["samples_per_s"] for r in group
                      if r.get("load") == load and r.get("samples_per_s")] for load in LOADS}
        quiet = {_round(r): r["samples_per_s"] for r in group
                 if r.get("load") == "quiet" and r.get("samples_per_s")}
        ratios = {load: [r["samples_per_s"] / quiet[_round(r)] for r in group
                         if r.get("load") == load and r.get("samples_per_s")
                         and _round(r) in quiet] for load in LOADS[1:]}
        half = f" {_fmt(ratios['half'], 2)} |" if "half" in lines[0] else ""
        running = " / ".join(
            f"{statistics.median(v):.1f}" if v else "–"
            for v in ([r["threads_running"] for r in group
                       if r.get("load") == load and r.get("threads_running")] for load in LOADS[:3]))
        name = ((f"{label}: " if label else "") + impl + ("" if env == "{}" else f" {env}")
                + (f" --threads {nthreads}" if nthreads not in (None, 2) else ""))
        lines.append(f"| {name} | {variant} | {_fmt(sps['quiet'])} | {_fmt(sps['busy'])} | "
                     f"{_fmt(sps['train'])} | {_fmt(ratios['busy'], 2)} | "
                     f"{_fmt(ratios['train'], 2)} |{half} {running} | {len(quiet)} |")
    if any(r.get("tree") == "against" for r in recs):
        lines += ["", against_table(recs)]
    return "\n".join(lines)


def against_table(recs):
    """This tree against the ``--against`` checkout: per variant and load, the median
    (min–max) of the per-round ratios of samples/s, each round's runs made one after
    the other."""
    lines = ["| set | variant | load | this ÷ against, per round | rounds |",
             "|---|---|---|---|---|"]
    sps = {(r.get("tree"), r.get("set", ""), r.get("variant"), r.get("load"), _round(r)):
           r["samples_per_s"] for r in recs if r.get("tree") and r.get("samples_per_s")}
    order = {v: i for i, v in enumerate(benchmark_variants())}
    pairs = {}
    for (tree, label, variant, load, rnd), v in sps.items():
        other = sps.get(("against", label, variant, load, rnd))
        if tree == "this" and other:
            pairs.setdefault((label, variant, load), []).append(v / other)
    for (label, variant, load), ratios in sorted(
            pairs.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99), kv[0][2])):
        lines.append(f"| {label} | {variant} | {load} | {_fmt(ratios, 2)} | {len(ratios)} |")
    return "\n".join(lines)


def _round(rec):
    """Which round a record belongs to: the run of this script that made it, and its round."""
    return rec.get("run"), rec.get("round")


def _fmt(vals, nd=0):
    if not vals:
        return "n/a"
    f = f"{{:,.{nd}f}}"
    return f"{f.format(statistics.median(vals))} ({f.format(min(vals))}–{f.format(max(vals))})"


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=None,
                   help="variants to run (default: every one train_speed.py knows)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--loads", nargs="+", default=list(LOADS[:3]), choices=LOADS,
                   help="quiet, busy, train (the default) and half (a loop busy half the time)")
    p.add_argument("--n", type=int, default=10000, help="samples per run (default 10000)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps (default: each benchmark's own, one pass over --n)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--peer", action="store_true", help="also measure the PyTorch peer")
    p.add_argument("--impls", nargs="+", choices=["aenumpy", "torch"], default=None,
                   help="which sides to measure (default aenumpy, and torch with --peer)")
    p.add_argument("--peer-n", type=int, default=None,
                   help="samples per peer run (default --n; the peer's loaded runs are slow)")
    p.add_argument("--peer-python", default=str(ROOT / ".venv-peer" / "bin" / "python"))
    p.add_argument("--bench", default=str(ROOT.parent / "shared" / "bench"),
                   help="folder holding peer_torch.py (default ../shared/bench)")
    p.add_argument("--python", default=sys.executable, help="interpreter for aenumpy's runs")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="a setting for aenumpy's processes (repeatable)")
    p.add_argument("--nice", type=int, default=None,
                   help="niceness of every process started (negative needs root)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    p.add_argument("--out", help="append every record (JSON lines) to this file")
    p.add_argument("--label", help="a name for this run's records (the summary groups by it)")
    p.add_argument("--against", metavar="DIR",
                   help="also run aenumpy from the checkout DIR (PYTHONPATH) right after this "
                        "tree, each time; the summary adds this ÷ that per round")
    p.add_argument("--summarize", metavar="FILE", help="print the table of FILE's records")
    a = p.parse_args()
    if a.summarize:
        with open(a.summarize) as f:
            print(summarize([json.loads(ln) for ln in f if ln.startswith("{")]))
        return
    for kv in a.env:
        if "=" not in kv:
            p.error(f"--env takes K=V, got {kv!r}")
    a.env = [tuple(kv.split("=", 1)) for kv in a.env]
    variants = a.variants or benchmark_variants()
    impls = a.impls or (["aenumpy"] + (["torch"] if a.peer else []))
    env = dict(os.environ, **dict(a.env))
    recs = []
    run = os.urandom(4).hex()  # which invocation a record came from (rounds pair within it)
    out = open(a.out, "a") if a.out else None
    try:
        for rnd in range(a.rounds):
            for variant in variants:
                for impl, tree in [(i, t) for i in impls
                                   for t in ([None, a.against] if i == "aenumpy" else [None])]:
                    for load in a.loads:
                        tree_env = env if impl == "aenumpy" else dict(os.environ)
                        if tree:
                            tree_env = dict(tree_env, PYTHONPATH=tree)
                        rec = measure(impl, variant, load, a, tree_env)
                        rec.update(run=run, round=rnd)
                        if a.against and impl == "aenumpy":
                            rec["tree"] = "against" if tree else "this"
                        if a.label:
                            rec["set"] = a.label
                        recs.append(rec)
                        print(json.dumps(rec), file=sys.stderr, flush=True)
                        if out:
                            out.write(json.dumps(rec) + "\n")
                            out.flush()
    finally:
        if out:
            out.close()
    print(summarize(recs))


if __name__ == "__main__":
    main()
