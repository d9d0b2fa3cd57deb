#!/usr/bin/env python3
"""results.jsonl of bench/run.sh -> Markdown tables (stdout).

usage: summarize.py results.jsonl [env.txt]
"""
import json
import statistics
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def f(x, nd=1):
    if x is None:
        return "–"
    if isinstance(x, float) and x != x:
        return "–"
    if isinstance(x, (int, float)) and abs(x) >= 10000:
        return f"{x:,.0f}".replace(",", " ")
    if isinstance(x, int):
        return str(x)
    return f"{x:.{nd}f}"


def runs_of(rows, tag):
    out, n = [], {}
    for r in rows:
        if r.get("tag") == tag:
            n[r["label"]] = n.get(r["label"], 0) + 1
            out.append((n[r["label"]], r))
    return out


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rng(xs, nd=1):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    lo, hi = min(xs), max(xs)
    return f(lo, nd) if lo == hi else f"{f(lo, nd)} – {f(hi, nd)}"


def connect_table(rows):
    rs = runs_of(rows, "connect")
    if not rs:
        return []
    o = ["### (1) connect storm: clients connect at a fixed rate and emit `module:subscribe` right after the CONNECT ack", "",
         "| server | run | subscribed / clients | connect→snapshot p50 ms | p99 ms | max ms | connect→ack p99 ms | RSS before→after MiB | KiB per idle subscribed conn | server util | gen util |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in rs:
        s, a = r["connect_to_snapshot_ms"], r["connect_to_ack_ms"]
        rb, ra = r.get("rss_before_kb"), r.get("rss_after_kb")
        o.append(f"| {r['label']} | {i} | {r['subscribed']}/{r['clients']} @ {f(r['rate'],0)}/s | {f(s['p50'],2)} | {f(s['p99'],2)} | {f(s['max'],1)} | "
                 f"{f(a['p99'],2)} | {f(rb/1024 if rb else None)}→{f(ra/1024 if ra else None)} | {f(r.get('rss_per_conn_kb'),2)} | "
                 f"{f(r.get('server_util'),2)} | {f(r.get('gen_util'),2)} |")
    return o + [""]


def step_str(s):
    l = s["latency_ms"]
    return (f"{f(s['rate'],0)} msg/s → {f(s['delivered_per_s'],0)} deliv/s, p99 {f(l['p99'],1)} ms, lost {s['lost']}, "
            f"util srv {f(s['server_util'],2)} gen {f(s['gen_util'],2)}")


def fail_reason(s, crit):
    why = []
    l = s["latency_ms"]
    if l["p99"] is None or l["p99"] > crit:
        why.append(f"p99 {f(l['p99'],1)} ms")
    if s["lost"]:
        why.append(f"lost {s['lost']}")
    if s["published"] < 0.95 * s["rate"] * s["duration_s"]:
        why.append(f"published {s['published']}/{f(s['rate']*s['duration_s'],0)}")
    if s["http_errors"]:
        why.append(f"{s['http_errors']} HTTP errors")
    return ", ".join(why) or "?"


def fanout_table(rows):
    rs = runs_of(rows, "fanout")
    if not rs:
        return []
    r0 = rs[0][1]
    o = [f"### (2) fan-out: {r0['clients']} subscribers of one module room, publishes via `POST /api/v1/publish` "
         f"({r0['http_conns']} keep-alive connections; bench-peer: a Socket.IO `bcast` event), {r0['payload_bytes']} B pad, "
         f"rate steps until p99 > {f(r0['criterion']['max_p99_ms'],0)} ms or any loss", "",
         "| server | run | best sustained deliveries/s | last passing step | first failing step |", "|---|---|---|---|---|"]
    for i, r in rs:
        steps = r["steps"]
        passing = [s for s in steps if s["pass"]]
        failing = [s for s in steps if not s["pass"]]
        lp = step_str(passing[-1]) if passing else "none"
        ff = f"{f(failing[0]['rate'],0)} msg/s: {fail_reason(failing[0], r['criterion']['max_p99_ms'])}, util srv {f(failing[0]['server_util'],2)} gen {f(failing[0]['gen_util'],2)}" if failing else "none (all steps passed)"
        o.append(f"| {r['label']} | {i} | **{f(r.get('best_sustained_delivered_per_s'),0)}** | {lp} | {ff} |")
    o += ["", "<details><summary>every step</summary>", "",
          "| server | run | msg/s | published | deliveries recv/expected | lost | deliv/s | p50 ms | p99 ms | p999 ms | max ms | server util | gen util | others util | pass |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in rs:
        for s in steps_with_prewarm(r):
            l = s["latency_ms"]
            o.append(f"| {r['label']} | {i} | {f(s['rate'],0)}{' (prewarm)' if s['step'] is None else ''} | {s['published']} | {s['received']}/{s['expected']} | {s['lost']} | "
                     f"{f(s['delivered_per_s'],0)} | {f(l['p50'],2)} | {f(l['p99'],1)} | {f(l['p999'],1)} | {f(l['max'],1)} | "
                     f"{f(s['server_util'],2)} | {f(s['gen_util'],2)} | {f(s.get('others_util'),2)} | {'yes' if s['pass'] else 'no'} |")
    return o + ["", "</details>", ""]


def steps_with_prewarm(r):
    return ([r["prewarm"]] if r.get("prewarm") else []) + r["steps"]


def rooms10_table(rows):
    rs = runs_of(rows, "rooms10")
    if not rs:
        return []
    o = ["### (3) 10 rooms × 100 subscribers, 1000 msg/s round-robin over the rooms", "",
         "| server | run | deliveries recv/expected | lost | deliv/s | p50 ms | p99 ms | p999 ms | max ms | server util | gen util |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in rs:
        for s in r["steps"]:
            l = s["latency_ms"]
            o.append(f"| {r['label']} | {i} | {s['received']}/{s['expected']} | {s['lost']} | {f(s['delivered_per_s'],0)} | {f(l['p50'],2)} | "
                     f"{f(l['p99'],1)} | {f(l['p999'],1)} | {f(l['max'],1)} | {f(s['server_util'],2)} | {f(s['gen_util'],2)} |")
    return o + [""]


def publish_table(rows):
    rs = runs_of(rows, "publish")
    if not rs:
        return []
    c = rs[0][1]["runs"][0]["conns"] if rs[0][1]["runs"] else "?"
    o = [f"### (4) publish API alone: closed loop on {c} keep-alive connections, no subscribers", "",
         "| server | run | target rooms | requests/s | p50 ms | p99 ms | errors | server util | gen util |",
         "|---|---|---|---|---|---|---|---|---|"]
    for i, r in rs:
        for p in r["runs"]:
            l = p["latency_ms"]
            o.append(f"| {r['label']} | {i} | {p['rooms']} | **{f(p['req_per_s'],0)}** | {f(l['p50'],3)} | {f(l['p99'],3)} | {p['errors']} | "
                     f"{f(p['server_util'],2)} | {f(p['gen_util'],2)} |")
    return o + [""]


def slow_table(rows):
    rs = runs_of(rows, "slow")
    if not rs:
        return []
    o = ["### (5) slow consumer: fan-out to one room, one extra subscriber stops reading in the second step", "",
         "| server | run | msg/s | control step: p99 ms, lost | slow step: p99 ms, lost, others disconnected | slow client disconnected? | server `slow_consumers` +Δ | slow client: frames read before pause / after resume |",
         "|---|---|---|---|---|---|---|---|"]
    for i, r in rs:
        st = r["steps"]
        if len(st) < 2:
            continue
        a, b = st[0], st[1]
        sc = r.get("slow_consumer") or {}
        o.append(f"| {r['label']} | {i} | {f(a['rate'],0)} | {f(a['latency_ms']['p99'],1)}, {a['lost']} | {f(b['latency_ms']['p99'],1)}, {b['lost']}, {b['subscribers_disconnected']} | "
                 f"{'yes' if sc.get('disconnected') else 'no'}{' (' + str(sc.get('close')) + ')' if sc.get('close') else ''} | "
                 f"{f(sc.get('server_slow_consumers_delta'))} | {sc.get('received_before_pause')} / {sc.get('received_after_resume')} |")
    return o + [""]


def polling_table(rows):
    rs = runs_of(rows, "polling")
    if not rs:
        return []
    r0 = rs[0][1]
    st0 = r0["steps"][0] if r0.get("steps") else None
    what = f", {f(st0['rate'],0)} msg/s for {f(st0['duration_s'],0)} s" if st0 else ""
    o = [f"### (6) long-polling: {r0['clients']} Engine.IO polling clients (transport=polling, no upgrade) in one room{what}, "
         f"publishes as in (2); lost = expected − received after a drain of at most {f(r0.get('drain_max_s'),0)} s", "",
         "| server | run | clients ready | deliveries recv/expected | lost | deliv/s | p50 ms | p99 ms | p999 ms | max ms | server util | gen util | others util | p99 ≤ 100 ms, 0 lost |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in rs:
        if not r.get("steps"):
            o.append(f"| {r['label']} | {i} | {r.get('ready', '–')}/{r.get('clients', '–')} | – | – | – | – | – | – | – | – | – | – | {r.get('error') or 'no step'} |")
            continue
        for s in r["steps"]:
            l = s["latency_ms"]
            o.append(f"| {r['label']} | {i} | {r['ready']}/{r['clients']} | {s['received']}/{s['expected']} | {s['lost']} | {f(s['delivered_per_s'],0)} | "
                     f"{f(l['p50'],2)} | {f(l['p99'],1)} | {f(l['p999'],1)} | {f(l['max'],1)} | {f(s['server_util'],2)} | {f(s['gen_util'],2)} | "
                     f"{f(s.get('others_util'),2)} | {'yes' if s['pass'] else 'no'} |")
    return o + [""]


def summary(rows):
    servers = []
    for r in rows:
        if r["label"] not in servers:
            servers.append(r["label"])
    fig = {}
    for s in servers:
        c = [r for _, r in runs_of(rows, "connect") if r["label"] == s]
        fo = [r for _, r in runs_of(rows, "fanout") if r["label"] == s]
        pu = [r for _, r in runs_of(rows, "publish") if r["label"] == s]
        fig[s] = {
            "kib": [r.get("rss_per_conn_kb") for r in c],
            "snap99": [r["connect_to_snapshot_ms"]["p99"] for r in c],
            "fan": [r.get("best_sustained_delivered_per_s") or 0 for r in fo],
            "pub1": [p["req_per_s"] for r in pu for p in r["runs"] if p["rooms"] == 1],
            "poll99": [r["steps"][0]["latency_ms"]["p99"] for _, r in runs_of(rows, "polling") if r["label"] == s and r.get("steps")],
        }
    o = ["### Summary (range over the runs: worst – best)", "", "| figure | " + " | ".join(servers) + " |", "|---|" + "---|" * len(servers)]
    o.append("| fan-out best sustained deliveries/s (0: no step passed) | " + " | ".join(rng(fig[s]["fan"], 0) for s in servers) + " |")
    o.append("| KiB per idle subscribed connection | " + " | ".join(rng(fig[s]["kib"], 2) for s in servers) + " |")
    o.append("| connect→snapshot p99 ms | " + " | ".join(rng(fig[s]["snap99"], 2) for s in servers) + " |")
    o.append("| publish API req/s, 1 room | " + " | ".join(rng(fig[s]["pub1"], 0) for s in servers) + " |")
    if any(fig[s]["poll99"] for s in servers):
        o.append("| long-polling fan-out p99 ms | " + " | ".join(rng(fig[s]["poll99"], 1) for s in servers) + " |")
    sb, nd, pe = fig.get("switchboard"), fig.get("node"), fig.get("peer")

    def ratio(a, b):
        a, b = med(a), med(b)
        return f"{a / b:.2f}×" if a is not None and b else "–"
    if sb:
        o += ["", "| ratio of medians | value |", "|---|---|"]
        if nd:
            o.append(f"| fan-out switchboard / node | {ratio(sb['fan'], nd['fan'])} |")
            o.append(f"| publish API (1 room) switchboard / node | {ratio(sb['pub1'], nd['pub1'])} |")
            o.append(f"| memory per connection switchboard / node | {ratio(sb['kib'], nd['kib'])} |")
        if pe:
            o.append(f"| fan-out switchboard / bench-peer | {ratio(sb['fan'], pe['fan'])} |")
    return o + [""]


def main():
    rows = load(sys.argv[1])
    out = []
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as fh:
            out += ["```", fh.read().rstrip(), "```", ""]
    out += summary(rows)
    for t in (connect_table, fanout_table, rooms10_table, publish_table, slow_table, polling_table):
        out += t(rows)
    bad = [f"{r['label']} {r.get('tag')}" for r in rows if not r.get("ok")]
    if bad:
        out += ["**Not served (functional failure):** " + ", ".join(bad), ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
