#!/usr/bin/env python3
"""Before/after of agentreg-bench suites: two builds, alternating runs.

    bench/compare.py --before OLD/agentreg-bench --after NEW/agentreg-bench \
                     [--rounds N] [--quick] [--url URL] SUITE...

For each suite, runs the two programs N times each in alternating order
(before, after, after, before, ...: the order flips every pair, so drift in a
shared machine hits both alike), reads the JSON object each prints last
(--json), and prints a Markdown table of every numeric top-level figure the
two have in common: the median of each side and the ratio after / before
taken per pair, median [min .. max]. --url passes a PostgreSQL server to
both (suites that need one then share it instead of starting their own,
so both measure against the same server). Whether a higher figure is better
depends on the figure (a rate or a latency): the table says neither.
The cache-line round trip between CPU 0 and CPU 1 (agentreg-bench machine of
the after build) is printed before and after the runs: every two-thread
figure moves with it. Exit code 1 if a run fails.
"""

import argparse
import json
import statistics
import subprocess
import sys


def run(program, suite, quick, url=None):
    args = [program, suite, "--json"] + (["--quick"] if quick else []) + (["--url", url] if url else [])
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        sys.exit(f"compare: {program} {suite} failed (exit {out.returncode}):\n{out.stdout[-2000:]}")
    return json.loads(lines[-1])


def figures(result):
    return {k: float(v) for k, v in result.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def round_trip(program):
    m = run(program, "machine", False)
    c = m.get("cache_line_round_trip_ns", {})
    return c.get("median") if isinstance(c, dict) else c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--rounds", type=int, default=2, help="runs of each program per suite (default 2)")
    ap.add_argument("--quick", action="store_true", help="pass --quick to the suites")
    ap.add_argument("--url", help="a PostgreSQL server for both (default: each suite starts its own)")
    ap.add_argument("suites", nargs="+")
    a = ap.parse_args()

    print(f"cache line CPU 0 -> 1 -> 0 before the runs: {round_trip(a.after)} ns\n")
    print("| suite | figure | before (median) | after (median) | after / before, per pair |")
    print("|---|---|---|---|---|")
    for suite in a.suites:
        before, after = [], []
        for r in range(a.rounds):
            order = [(a.before, before), (a.after, after)]
            if r % 2 == 1:
                order.reverse()
            for program, into in order:
                print(f"  {suite}: round {r + 1}/{a.rounds}, {program}", file=sys.stderr, flush=True)
                into.append(figures(run(program, suite, a.quick, a.url)))
        common = sorted(set.intersection(*(set(f) for f in before + after)))
        for key in common:
            b = [f[key] for f in before]
            n = [f[key] for f in after]
            ratios = [y / x for x, y in zip(b, n) if x != 0]
            ratio = (f"x{statistics.median(ratios):.3f} [x{min(ratios):.3f} .. x{max(ratios):.3f}]"
                     if ratios else "-")
            print(f"| {suite} | `{key}` | {statistics.median(b):.6g} | {statistics.median(n):.6g} | {ratio} |")
        sys.stdout.flush()
    print(f"\ncache line CPU 0 -> 1 -> 0 after the runs: {round_trip(a.after)} ns")


if __name__ == "__main__":
    main()
