#!/usr/bin/env python3
"""Hostile-client measurements against a Switchboard binary (loopback only).

usage: attack.py BINARY ATTACK [--label L]

ATTACK is one of:
  ping-flood          one WebSocket, 125-byte ping frames for 3 s, never reads
  ping-flood-big      one WebSocket, 100 KiB ping frames for 3 s, never reads
  clientinfo-loop     200 x (connect, CONNECT, 900 000-byte clientInfo, close without close frame)
  clientinfo-loop-norecovery   the same with SWITCHBOARD_RECOVERY_WINDOW_SECS=0
  attachments         20 sockets announce 64 binary attachments and send 63 x 900 000 bytes
  handshakes          4000 polling handshakes with a 64 KiB extra header, keep-alive
  handshakes-15k      the same with a 15 000-byte header (under the new 16 KiB cap)
  per-ip-leak         cap 50/IP: 50 x (CONNECT, abrupt close); then 45 new clients
  per-ip-leak-close   cap 50/IP: 50 x ("40" + close frame in one write); then 45 new clients
  one-ip-load-test    default settings, 1500 clients from 127.0.0.1 CONNECT and stay
  slow-consumer       one subscriber never reads; 300 x 100 KB publishes to its room
  slow-consumer-norecovery   the same with SWITCHBOARD_RECOVERY_WINDOW_SECS=0

The script starts BINARY (`serve --listen 127.0.0.1:PORT --database-url sqlite::memory:`)
on a free port, samples VmRSS of the server process every 100 ms, runs the attack
(bounded to ~10 s), prints one JSON line and kills the server.
"""

import asyncio
import base64
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
LOGDIR = os.environ.get("ATTACK_LOGDIR", "/tmp/attacks/logs")


# ---------------------------------------------------------------- server process

def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


class Server:
    def __init__(self, binary, env_extra, label):
        self.binary = binary
        self.port = free_port()
        env = dict(os.environ)
        # no stray settings from the caller's environment
        for k in list(env):
            if k.startswith("SWITCHBOARD_"):
                del env[k]
        env.update(env_extra)
        env.setdefault("RUST_LOG", "warn")
        os.makedirs(LOGDIR, exist_ok=True)
        self.logpath = f"{LOGDIR}/{label}.log"
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"{HOST}:{self.port}",
             "--database-url", "sqlite::memory:"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
            cwd=tempfile.gettempdir(), start_new_session=True)
        self.pid = self.proc.pid
        self.samples = []
        self.peak = 0
        self._task = None

    async def wait_ready(self, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}, see {self.logpath}")
            try:
                st, _, _ = await http_once(self.port, "GET", "/health")
                if st == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("server not ready")

    def rss(self):
        return rss_kib(self.pid)

    async def _sample(self):
        while True:
            r = self.rss()
            if r is not None:
                self.samples.append(r)
                self.peak = max(self.peak, r)
            await asyncio.sleep(0.1)

    def start_sampling(self):
        self.peak = self.rss() or 0
        self._task = asyncio.ensure_future(self._sample())

    def stop_sampling(self):
        if self._task:
            self._task.cancel()
        r = self.rss()
        if r is not None:
            self.peak = max(self.peak, r)

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- HTTP

async def read_http_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        body = await reader.readexactly(n) if n else b""
    elif hdrs.get("transfer-encoding", "").lower() == "chunked":
        while True:
            sz = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if sz == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(sz)
            await reader.readexactly(2)
    elif status not in (101, 204, 304):
        body = await reader.read()
    return status, hdrs, body


def http_request(method, path, body=b"", extra=""):
    h = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}")
    if body or method == "POST":
        h += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return h.encode() + b"\r\n" + body


async def http_once(port, method, path, body=b""):
    r, w = await asyncio.open_connection(HOST, port)
    try:
        w.write(http_request(method, path, body, "Connection: close\r\n"))
        await w.drain()
        return await asyncio.wait_for(read_http_response(r), 10)
    finally:
        w.close()


# ---------------------------------------------------------------- WebSocket

MASK = b"\x00\x00\x00\x00"  # a zero mask: payload bytes unchanged


def ws_frame(opcode, payload, fin=True):
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = struct.pack("!BB", b0, 0x80 | n)
    elif n <= 0xFFFF:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return hdr + MASK + payload


async def ws_read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    if b1 & 0x80:
        await reader.readexactly(4)
    return b0 & 0x0F, await reader.readexactly(n)


class WsRefused(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


async def ws_open(port, timeout=10):
    """Upgrade; return (reader, writer, open_packet)."""
    r, w = await asyncio.open_connection(HOST, port, limit=1 << 22)
    key = base64.b64encode(os.urandom(16)).decode()
    w.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
             f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    await w.drain()
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), timeout)
    status = int(head.split(b" ", 2)[1])
    if status != 101:
        body = b""
        try:
            body = await asyncio.wait_for(r.read(4096), 1)
        except Exception:
            pass
        w.close()
        raise WsRefused(status, body)
    op, data = await asyncio.wait_for(ws_read_frame(r), timeout)
    if not data.startswith(b"0{"):
        raise RuntimeError(f"unexpected open packet {data[:80]!r}")
    return r, w, data


async def sio_read_text(reader, pred, timeout=10):
    """Read frames until a text frame satisfying pred; answer nothing. Returns the text."""
    async def go():
        while True:
            op, data = await ws_read_frame(reader)
            if op == 0x8:
                raise ConnectionResetError(f"close frame {data[:60]!r}")
            if op == 0x1 and pred(data):
                return data
    return await asyncio.wait_for(go(), timeout)


async def sio_connect(port, timeout=10):
    """WebSocket + Socket.IO CONNECT. Returns (reader, writer, ack_text)."""
    r, w, _ = await ws_open(port, timeout)
    w.write(ws_frame(0x1, "40"))
    await w.drain()
    ack = await sio_read_text(r, lambda d: d.startswith(b"40") or d.startswith(b"44"), timeout)
    return r, w, ack


def hard_close(w, rst=False):
    """Close the TCP socket without a WebSocket close frame (FIN; RST if rst)."""
    if rst:
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.close()


async def probe_closed(reader, timeout=1.0):
    """After an attack: drain what the server sent; report whether it closed the socket."""
    got = 0
    close = None
    try:
        async def go():
            nonlocal got, close
            while True:
                chunk = await reader.read(1 << 20)
                if not chunk:
                    return "eof"
                got += len(chunk)
                i = chunk.find(b"\x88")
                if close is None and i >= 0 and i + 4 <= len(chunk):
                    close = struct.unpack("!H", chunk[i + 2:i + 4])[0] if chunk[i + 1] >= 2 else 0
        res = await asyncio.wait_for(go(), timeout)
    except asyncio.TimeoutError:
        res = "open"
    except (ConnectionResetError, BrokenPipeError) as e:
        res = "reset"
    return {"state": res, "bytes_read": got}


# ---------------------------------------------------------------- attacks

async def attack_ping_flood(srv, size):
    r, w, _ = await ws_open(srv.port)
    frame = ws_frame(0x9, b"p" * size)
    batch = frame * max(1, 65536 // len(frame))
    per = max(1, 65536 // len(frame))
    sent = 0
    err = None
    t0 = time.monotonic()
    end = t0 + 3.0
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            w.write(batch)
            try:
                await asyncio.wait_for(w.drain(), left)
            except asyncio.TimeoutError:
                err = "send blocked (server stopped reading)"
                break
            sent += per
    except (ConnectionResetError, BrokenPipeError) as e:
        err = type(e).__name__
    elapsed = time.monotonic() - t0
    await asyncio.sleep(1.0)
    rss_open = srv.rss()
    probe = await probe_closed(r, 2.0)
    w.close()
    return {"ping_size": size, "pings_written": sent, "mib_written": round(sent * len(frame) / 2**20, 1),
            "seconds": round(elapsed, 2), "send_error": err, "rss_open": rss_open,
            "after_attack_socket": probe}


async def attack_clientinfo_loop(srv):
    big = "u" * 900_000
    msg = ws_frame(0x1, '42["clientInfo",{"userAgent":"' + big + '"}]')
    done = refused = errors = 0
    t_end = time.monotonic() + 10
    for i in range(200):
        if time.monotonic() > t_end:
            break
        try:
            r, w, ack = await sio_connect(srv.port)
            if not ack.startswith(b"40{"):
                refused += 1
                hard_close(w)
                continue
            w.write(msg)
            await w.drain()
            hard_close(w)  # FIN, no close frame
            done += 1
        except Exception as e:
            errors += 1
    await asyncio.sleep(1.0)
    return {"iterations_done": done, "refused": refused, "errors": errors}


async def attack_attachments(srv):
    att = b"a" * 900_000
    header = '4564-["x",' + ",".join('{"_placeholder":true,"num":%d}' % i for i in range(64)) + "]"
    bin_frame = ws_frame(0x2, att)
    conns = []
    results = []
    deadline = time.monotonic() + 9

    async def one(k):
        try:
            r, w, ack = await sio_connect(srv.port)
        except Exception as e:
            results.append({"connect": type(e).__name__})
            return
        conns.append((r, w))
        sent = 0
        err = None
        try:
            w.write(ws_frame(0x1, header))
            await w.drain()
            for _ in range(63):
                left = deadline - time.monotonic()
                if left <= 0:
                    err = "deadline"
                    break
                w.write(bin_frame)
                try:
                    await asyncio.wait_for(w.drain(), left)
                except asyncio.TimeoutError:
                    err = "send blocked"
                    break
                sent += 1
        except (ConnectionResetError, BrokenPipeError) as e:
            err = type(e).__name__
        results.append({"sent": sent, "err": err})

    await asyncio.gather(*(one(k) for k in range(20)))
    await asyncio.sleep(1.0)
    rss_open = srv.rss()
    probes = await asyncio.gather(*(probe_closed(r, 1.0) for r, _ in conns))
    states = {}
    for p in probes:
        states[p["state"]] = states.get(p["state"], 0) + 1
    sent = [x.get("sent", 0) for x in results]
    errs = {}
    for x in results:
        e = x.get("err") or x.get("connect")
        if e:
            errs[e] = errs.get(e, 0) + 1
    out = {"connections": len(conns), "attachments_written_total": sum(sent),
           "attachments_written_per_conn_min_max": [min(sent), max(sent)],
           "mib_written": round(sum(sent) * 900_000 / 2**20, 1),
           "write_errors": errs, "rss_open": rss_open, "socket_states_after": states}
    for _, w in conns:
        w.close()
    return out


async def attack_handshakes(srv, junk_len=65536):
    junk = "x-junk: " + "j" * junk_len + "\r\n"
    req = http_request("GET", "/socket.io/?EIO=4&transport=polling", extra=junk)
    statuses = {}
    conns_used = 0
    total = 4000
    nconn = 4
    deadline = time.monotonic() + 10
    counter = {"n": 0}

    async def worker():
        nonlocal conns_used
        r = w = None
        while counter["n"] < total and time.monotonic() < deadline:
            if w is None:
                r, w = await asyncio.open_connection(HOST, srv.port)
                conns_used += 1
            counter["n"] += 1
            try:
                w.write(req)
                await w.drain()
                st, hdrs, _ = await asyncio.wait_for(read_http_response(r), 10)
                statuses[st] = statuses.get(st, 0) + 1
                if hdrs.get("connection", "").lower() == "close":
                    w.close()
                    w = None
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError,
                    asyncio.TimeoutError) as e:
                k = "conn:" + type(e).__name__
                statuses[k] = statuses.get(k, 0) + 1
                w.close()
                w = None
        if w is not None:
            w.close()

    await asyncio.gather(*(worker() for _ in range(nconn)))
    await asyncio.sleep(1.0)
    return {"junk_header_bytes": junk_len, "requests": counter["n"], "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
            "tcp_connections_used": conns_used}


async def attack_per_ip_leak(srv, with_close_frame):
    first = {"sent": 0, "other": {}} if with_close_frame else {"acked": 0, "other": {}}
    for i in range(50):
        try:
            if with_close_frame:
                r, w, _ = await ws_open(srv.port)
                # "40" and a close frame (1000) in one write, then FIN
                w.write(ws_frame(0x1, "40") + ws_frame(0x8, struct.pack("!H", 1000)))
                await w.drain()
                try:
                    await asyncio.wait_for(r.read(4096), 0.05)
                except asyncio.TimeoutError:
                    pass
                hard_close(w)
                first["sent"] += 1
            else:
                r, w, ack = await sio_connect(srv.port)
                if ack.startswith(b"40{"):
                    first["acked"] += 1
                else:
                    k = ack[:2].decode()
                    first["other"][k] = first["other"].get(k, 0) + 1
                hard_close(w)  # FIN, no close frame
        except WsRefused as e:
            first["other"][f"http {e.status}"] = first["other"].get(f"http {e.status}", 0) + 1
        except Exception as e:
            first["other"][type(e).__name__] = first["other"].get(type(e).__name__, 0) + 1
    await asyncio.sleep(1.0)
    st, _, b = await http_once(srv.port, "GET", "/api/v1/stats")
    conns_after_phase1 = json.loads(b)["data"]["connections"] if st == 200 else f"HTTP {st}"
    second = {}
    keep = []
    for i in range(45):
        try:
            r, w, ack = await sio_connect(srv.port, timeout=3)
            keep.append(w)
            k = "40{ ack" if ack.startswith(b"40{") else ("44{ refusal" if ack.startswith(b"44") else ack[:10].decode())
        except WsRefused as e:
            k = f"HTTP {e.status}"
        except Exception as e:
            k = type(e).__name__
        second[k] = second.get(k, 0) + 1
    await asyncio.sleep(0.3)
    for w in keep:
        w.close()
    return {"phase1": ("50 x 40+close-frame in one write" if with_close_frame
                       else "50 x CONNECT, ack, close w/o close frame"),
            "phase1_result": first, "server_sockets_1s_after_phase1": conns_after_phase1,
            "phase2_45_new_clients": second}


async def attack_one_ip_load(srv):
    n = 1500
    res = {}
    keep = []
    sem = asyncio.Semaphore(64)
    deadline = time.monotonic() + 10

    async def one():
        async with sem:
            if time.monotonic() > deadline:
                k = "not attempted (deadline)"
            else:
                try:
                    r, w, ack = await sio_connect(srv.port, timeout=5)
                    keep.append((r, w))
                    k = "40{ ack" if ack.startswith(b"40{") else ("44{ refusal" if ack.startswith(b"44") else ack[:10].decode())
                except WsRefused as e:
                    k = f"HTTP {e.status}"
                except Exception as e:
                    k = type(e).__name__
            res[k] = res.get(k, 0) + 1

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(n)))
    el = time.monotonic() - t0
    await asyncio.sleep(1.0)
    st, _, body = await http_once(srv.port, "GET", "/api/v1/stats")
    conns = json.loads(body)["data"]["connections"] if st == 200 else None
    rss_open = srv.rss()
    for _, w in keep:
        w.close()
    return {"clients": n, "outcomes": res, "seconds": round(el, 2), "server_connections": conns,
            "rss_open": rss_open}


async def attack_slow_consumer(srv):
    r, w, ack = await sio_connect(srv.port)
    w.write(ws_frame(0x1, '421["module:subscribe",{"moduleKey":"big"}]'))
    await w.drain()
    sub_ack = await sio_read_text(r, lambda d: d.startswith(b"431"))
    # shrink our receive buffer so the kernel does not absorb the whole backlog
    # (not done: keep default buffers, as a real client would have)
    body = json.dumps({"event": "kpi:update:big", "data": "x" * 100_000,
                       "rooms": ["module:big"]}).encode()
    statuses = {}
    deliveries = 0
    pr, pw = await asyncio.open_connection(HOST, srv.port)
    t0 = time.monotonic()
    for i in range(300):
        if time.monotonic() - t0 > 9:
            break
        pw.write(http_request("POST", "/api/v1/publish", body))
        await pw.drain()
        st, _, b = await asyncio.wait_for(read_http_response(pr), 10)
        statuses[st] = statuses.get(st, 0) + 1
        if st == 200 and i == 0:
            first = json.loads(b)
    el = time.monotonic() - t0
    pw.close()
    await asyncio.sleep(1.0)
    rss_open = srv.rss()
    st, _, b = await http_once(srv.port, "GET", "/api/v1/stats")
    counters = json.loads(b)["data"]["counters"] if st == 200 else {"status": st}
    conns = json.loads(b)["data"]["connections"] if st == 200 else None
    probe = await probe_closed(r, 2.0)
    w.close()
    keep = {k: counters.get(k) for k in ("slow_consumers", "deliveries", "published",
                                          "volatile_dropped", "recovery_trimmed")
            if k in counters}
    return {"subscribe_ack": sub_ack[:60].decode(), "publish_statuses": {str(k): v for k, v in statuses.items()},
            "seconds": round(el, 2), "rss_open": rss_open, "stats_counters": keep,
            "stats_connections": conns, "subscriber_socket_after": probe}


STAT_KEYS = ("events_in", "malformed", "client_errors", "slow_consumers", "ip_limited", "ip_refused",
             "headers_too_large", "attachment_timeouts", "client_info_refused", "rate_limited",
             "published", "deliveries")

ATTACKS = {
    "ping-flood": (lambda s: attack_ping_flood(s, 125), {}),
    "ping-flood-big": (lambda s: attack_ping_flood(s, 100 * 1024), {}),
    "clientinfo-loop": (attack_clientinfo_loop, {}),
    # the same with connection state recovery off (disconnected sessions are then not kept)
    "clientinfo-loop-norecovery": (attack_clientinfo_loop, {"SWITCHBOARD_RECOVERY_WINDOW_SECS": "0"}),
    "attachments": (attack_attachments, {}),
    "handshakes": (attack_handshakes, {}),
    # header under the new server's 16 KiB handshake-header cap: reaches the pending-session cap
    "handshakes-15k": (lambda s: attack_handshakes(s, 15_000), {}),
    "per-ip-leak": (lambda s: attack_per_ip_leak(s, False), {"SWITCHBOARD_MAX_CONNECTIONS_PER_IP": "50"}),
    "per-ip-leak-close": (lambda s: attack_per_ip_leak(s, True), {"SWITCHBOARD_MAX_CONNECTIONS_PER_IP": "50"}),
    "one-ip-load-test": (attack_one_ip_load, {}),
    "slow-consumer": (attack_slow_consumer, {}),
    # the same with connection state recovery off, to separate the recovery buffer
    "slow-consumer-norecovery": (attack_slow_consumer, {"SWITCHBOARD_RECOVERY_WINDOW_SECS": "0"}),
}


async def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ATTACKS:
        sys.exit(__doc__)
    binary, name = sys.argv[1], sys.argv[2]
    label = sys.argv[sys.argv.index("--label") + 1] if "--label" in sys.argv else os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(binary))))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # server inherits it too
    fn, env = ATTACKS[name]
    srv = Server(binary, env, f"{label}-{name}")
    out = {"attack": name, "label": label, "binary": binary}
    try:
        await srv.wait_ready()
        await asyncio.sleep(0.5)
        before = srv.rss()
        srv.start_sampling()
        t0 = time.monotonic()
        try:
            detail = await asyncio.wait_for(fn(srv), 30)
        except Exception as e:
            detail = {"error": repr(e)}
        # "after": while the attack's connections are still open where it keeps them
        # (ping-flood, attachments, slow-consumer sample inside the attack), else now.
        after = detail.pop("rss_open", None) or srv.rss()
        await asyncio.sleep(1.0)
        srv.stop_sampling()
        after_close = srv.rss()
        try:
            st, _, b = await http_once(srv.port, "GET", "/api/v1/stats")
            d = json.loads(b)["data"]
            c = d["counters"]
            stats = {"connections": d["connections"], **{k: c[k] for k in STAT_KEYS if k in c and c[k]}}
        except Exception as e:
            stats = {"error": repr(e)}
        out.update({
            "rss_before_kib": before, "rss_peak_kib": srv.peak, "rss_after_kib": after,
            "rss_after_all_closed_kib": after_close,
            "rss_growth_mib": round((after - before) / 1024, 1) if after else None,
            "rss_peak_growth_mib": round((srv.peak - before) / 1024, 1),
            "server_alive": srv.alive(), "elapsed_s": round(time.monotonic() - t0, 2),
            "detail": detail, "stats_at_end": stats,
        })
    finally:
        srv.kill()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
