#!/usr/bin/env python3
"""bench/compression.sh's table: compression off (`switchboard`) vs on (`sb-deflate`)."""
import json
import statistics
import sys

LABELS = {"switchboard": "off", "sb-deflate": "on"}


def main(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    runs = {"off": {"fanout": [], "connect": []}, "on": {"fanout": [], "connect": []}}
    for r in rows:
        k = LABELS.get(r.get("label"))
        if k and r.get("scenario") in runs[k]:
            runs[k][r["scenario"]].append(r)
    out = ["| compression | rep | best sustained deliveries/s (4 KB, 1000 subs) | wire bytes / delivery | "
           "deflated msgs | server CPU (util) at best | RSS / idle subscribed conn (KiB) |",
           "|---|---|---|---|---|---|---|"]
    agg = {}
    for k in ("off", "on"):
        fo, co = runs[k]["fanout"], runs[k]["connect"]
        for i in range(max(len(fo), len(co))):
            f = fo[i] if i < len(fo) else {}
            c = co[i] if i < len(co) else {}
            steps = [s for s in f.get("steps", []) if s.get("step") is not None]
            passed = [s for s in steps if s.get("pass")]
            best = max(passed, key=lambda s: s["delivered_per_s"]) if passed else None
            wire = [s["wire_bytes_per_delivery"] for s in steps if s.get("received")]
            wpd = statistics.median(wire) if wire else None
            defl = sum(s.get("deflated_in", 0) for s in steps)
            rss = c.get("rss_per_conn_kb")
            a = agg.setdefault(k, {"best": [], "wire": [], "rss": []})
            if best:
                a["best"].append(best["delivered_per_s"])
            if wpd:
                a["wire"].append(wpd)
            if rss is not None:
                a["rss"].append(rss)
            out.append(f"| {k} | {i + 1} | {best['delivered_per_s']:.0f} (at {best['rate']:.0f} msg/s) |" if best else f"| {k} | {i + 1} | – |")
            out[-1] += f" {wpd:.0f} |" if wpd else " – |"
            out[-1] += f" {defl} | {best['server_util']:.2f} |" if best else f" {defl} | – |"
            out[-1] += f" {rss:.2f} |" if rss is not None else " – |"
    out.append("")
    med = lambda xs: statistics.median(xs) if xs else None
    off, on = agg.get("off", {}), agg.get("on", {})
    b_off, b_on = med(off.get("best", [])), med(on.get("best", []))
    w_off, w_on = med(off.get("wire", [])), med(on.get("wire", []))
    if b_off and b_on:
        out.append(f"- deliveries/s, compression on / off (medians): **{b_on / b_off:.2f}x** (target >= 0.7x)")
    if w_off and w_on:
        out.append(f"- bytes on the wire per delivery, off / on: **{w_off / w_on:.2f}x fewer** with compression (target >= 3x)")
    r_on = med(on.get("rss", []))
    if r_on is not None:
        out.append(f"- RSS per idle subscribed connection with compression negotiated: **{r_on:.2f} KiB** (target <= 6 KiB)")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
