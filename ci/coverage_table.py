#!/usr/bin/env python3
"""ci/coverage_table.py - the union of several gcovr JSON tracefiles as one per-file table of line and
branch coverage, and the totals.

    python3 ci/coverage_table.py run1.json run2.json ...

gcovr 5.2 (Debian 12) cannot merge tracefiles of builds whose code differs by #ifdef (the epoll and
poll() builds define functions at different lines), so the union is made here: a line is code if any
run compiled it, covered if any run executed it; a branch (line, index) likewise. Lines gcovr marks
as excluded or non-code are left out."""
import json
import sys

lines = {}     # file -> {line: covered}
branches = {}  # file -> {(line, index): covered}
for path in sys.argv[1:]:
    for f in json.load(open(path))["files"]:
        fl = lines.setdefault(f["file"], {})
        fb = branches.setdefault(f["file"], {})
        for ln in f["lines"]:
            if ln.get("gcovr/noncode") or ln.get("gcovr/excluded"):
                continue
            n = ln["line_number"]
            fl[n] = fl.get(n, False) or ln["count"] > 0
            for i, b in enumerate(ln["branches"]):
                fb[(n, i)] = fb.get((n, i), False) or b["count"] > 0


def pct(c, t):
    return 100.0 * c / t if t else 100.0


tl = tc = bl = bc = 0
print("%-28s %18s %8s %18s %8s" % ("file", "lines", "", "branches", ""))
for name in sorted(lines):
    l_tot, l_cov = len(lines[name]), sum(lines[name].values())
    b_tot, b_cov = len(branches[name]), sum(branches[name].values())
    if not l_tot:
        continue
    tl, tc, bl, bc = tl + l_tot, tc + l_cov, bl + b_tot, bc + b_cov
    print("%-28s %8d / %-7d %7.1f%% %8d / %-7d %7.1f%%" % (name, l_cov, l_tot, pct(l_cov, l_tot), b_cov, b_tot,
                                                          pct(b_cov, b_tot)))
print("%-28s %8d / %-7d %7.1f%% %8d / %-7d %7.1f%%" % ("TOTAL", tc, tl, pct(tc, tl), bc, bl, pct(bc, bl)))
print("uncovered lines (union):")
for name in sorted(lines):
    miss = sorted(n for n, c in lines[name].items() if not c)
    if not miss:
        continue
    ranges, start, prev = [], miss[0], miss[0]
    for n in miss[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        ranges.append(str(start) if start == prev else "%d-%d" % (start, prev))
        if n is not None:
            start = prev = n
    print("  %s: %s" % (name, ",".join(ranges)))
print("coverage totals: lines %.1f%% (%d/%d), branches %.1f%% (%d/%d); targets: lines >= 95%%, branches >= 85%%"
      % (pct(tc, tl), tc, tl, pct(bc, bl), bc, bl))
