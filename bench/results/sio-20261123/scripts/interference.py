#!/usr/bin/env python3
"""Per measurement part: CPU-seconds used by processes other than the bench's own
(server, generator, top) during the part's window, from other-procs.log (top -d 2 samples,
processes > 3 % only).  usage: interference.py gate.log other-procs.log"""
import re, sys
OWN = {"sio-peer-raw", "sio-bench", "sio-peer-socket", "bench-peer-sio", "bench-peer-sio-", "top"}
def sec(t):
    h, m, s = map(int, t.split(":")); return h * 3600 + m * 60 + s
parts, cur = [], None
for l in open(sys.argv[1]):
    m = re.match(r"=== part (\d+) (\S+) rep (\d+) (\S+): gate: (.*) \((\d\d:\d\d:\d\d)\)", l)
    if m:
        cur = [m.group(1), m.group(2), m.group(3), m.group(4), m.group(5), sec(m.group(6)), None]; parts.append(cur)
    m = re.match(r"\s+end (\d\d:\d\d:\d\d)", l)
    if m and cur: cur[6] = sec(m.group(1))
samples = []
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) >= 4 and re.match(r"\d\d:\d\d:\d\d", f[0]):
        samples.append((sec(f[0]), float(f[2]), f[3]))
print("| part | scenario | rep | server | gate | window s | other CPU s | top other processes |")
print("|---|---|---|---|---|---|---|---|")
for p in parts:
    n, sc, rep, srv, gate, t0, t1 = p
    if t1 is None: continue
    other = {}
    for t, pct, name in samples:
        if t0 <= t <= t1 and name not in OWN:
            other[name] = other.get(name, 0) + pct / 100 * 2
    tot = sum(other.values())
    top = ", ".join(f"{k} {v:.0f}" for k, v in sorted(other.items(), key=lambda x: -x[1])[:3])
    print(f"| {n} | {sc} | {rep} | {srv} | {gate} | {t1-t0} | {tot:.1f} | {top} |")
