#!/usr/bin/env python3
"""fanoutB best-sustained + connect tables (Markdown) from one or more results.jsonl: tables.py NAME=path ..."""
import json, sys
fan, con = [], []
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    runs = {}
    for l in open(path):
        if not l.strip().startswith("{"): continue
        r = json.loads(l)
        rep = sum(1 for x in (fan if r["scenario"] == "fanout" else con) if x[0] == name and x[1] == r["label"]) + 1
        if r["scenario"] == "fanout": fan.append((name, r["label"], rep, r))
        else: con.append((name, r["label"], rep, r))
def st(s):
    return f"{s['publish_rate_target']:g} msg/s → {s['delivered_per_s']:,.0f}/s, p99 {s['latency_ms']['p99']:.1f} ms, lost {s['lost']}, srv {s['server_cpu_util_publish']:.2f}, gen {s['gen_cpu_util_publish']:.2f}"
print("| run | server | rep | best sustained deliv/s | last passing step | first failing step | lost (all steps) |")
print("|---|---|---|---|---|---|---|")
best = {}
for name, lab, rep, r in fan:
    steps = r["steps"]; last = None; fail = None
    for s in steps:
        if s.get("pass"): last = s
        else: fail = s; break
    b = last["delivered_per_s"] if last else 0
    best[(name, lab, rep)] = b
    lost = sum(s["lost"] for s in steps)
    print(f"| {name} | {lab} | {rep} | **{b/1000:,.0f} k** | {st(last) if last else '-'} | {st(fail) if fail else 'none (passed every step)'} | {lost} |")
print()
print("| run | rep | sio / raw | sio / socketioxide |")
print("|---|---|---|---|")
for (name, lab, rep), b in best.items():
    if lab != "sio": continue
    r_ = best.get((name, "raw", rep)); x = best.get((name, "socketioxide", rep))
    f = lambda a: f"{b/a:.2f}" if a else "n/a (ref. failed its first step)"
    print(f"| {name} | {rep} | {f(r_)} | {f(x)} |")
print()
print("| run | server | rep | connected | p50 ms | p99 ms | max ms | RSS before→after MiB | KiB/conn | srv util | gen util |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name, lab, rep, r in con:
    c = r["connect_ms"]
    print(f"| {name} | {lab} | {rep} | {r['connected']}/{r['clients']} | {c['p50']:.2f} | {c['p99']:.2f} | {c['max']:.1f} | {r['rss_before_kb']/1024:.1f}→{r['rss_after_kb']/1024:.1f} | {r['mem_per_conn_kb']:.2f} | {r['server_cpu_util_connect_phase']:.2f} | {r['gen_cpu_util_connect_phase']:.2f} |")
