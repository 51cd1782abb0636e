#!/usr/bin/env python3
"""The peers and probes of bench/faults.sh: misbehaving upstreams and clients, an exact load
client, and the checks that read the gateway's metrics, API and history file.

Python 3 standard library only. Every subcommand prints its findings as one JSON object on
stdout (the script reads fields with `faults.py get`); times are Unix seconds (time.time(), the
clock `date +%s.%N` reads too).

  peer        upstream on --port: /reset (RST after half of Content-Length), /drip (one byte a
              second, then silence); anything else 200 "ok"
  fetch       one GET with its own X-Request-Id, read until the body is whole or cut
  load        C keep-alive clients in a loop, every request recorded (start, end, status, id)
  idle        N keep-alive connections: one request each, then idle until the server closes
  slowloris   N clients sending a request head a byte at a time, each cut timed
  wait-metric poll /metrics until a series has a value
  wait-json   poll a JSON API until a field (dotted path) satisfies a condition
  transition  when the gateway changed a target's health (its own timestamp, /api/routes)
  ids         every request id the history lists (/api/requests, paged)
  integrity   PRAGMA integrity_check of a SQLite file
  analyse-*   summaries of load records for the kill/restart, crash and soak scenarios
  get         a field of a JSON object on stdin
"""

import argparse
import asyncio
import calendar
import json
import os
import signal
import socket
import sqlite3
import statistics
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def touch(path, text="ready\n"):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


async def read_head(reader):
    """A response head: (status, {lower-case name: value}); raises on EOF or a bad head."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


def stop_on_signals(loop, event):
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, event.set)


# --- peer: the misbehaving upstream -------------------------------------------------------------


async def peer_handle(reader, writer, args):
    sock = writer.get_extra_info("socket")
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            target = head.split(b" ", 2)[1].decode("latin-1")
            url = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(url.query))
            length = int(query.get("len", "1000"))
            if url.path == "/reset":
                # Head and half the body, then an abortive close: SO_LINGER 0 sends RST.
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n" % length)
                writer.write(b"x" * (length // 2))
                await writer.drain()
                await asyncio.sleep(0.05)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if url.path == "/drip":
                # One byte a second for `bytes` bytes, then silence (the Content-Length promises
                # more) until the gateway gives up and closes, or `hold` seconds.
                count = int(query.get("bytes", "3"))
                every = float(query.get("every", "1"))
                hold = float(query.get("hold", "120"))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n" % length)
                for i in range(count):
                    if i:
                        await asyncio.sleep(every)
                    writer.write(b"d")
                    await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(1), hold)
                except asyncio.TimeoutError:
                    pass
                writer.transport.abort()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.transport.abort()


async def peer_main(args):
    server = await asyncio.start_server(lambda r, w: peer_handle(r, w, args), "127.0.0.1", args.port,
                                        backlog=1024)
    stop = asyncio.Event()
    stop_on_signals(asyncio.get_running_loop(), stop)
    async with server:
        await stop.wait()


# --- fetch: one request, read until whole or cut ------------------------------------------------


async def fetch_main(args):
    out = {"request_id": args.id, "status": None, "content_length": None, "body_bytes": 0,
           "end": None, "error": None}
    t0 = time.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
    writer.write(f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: {args.id}\r\n\r\n"
                 .encode())
    await writer.drain()
    deadline = t0 + args.timeout
    last_byte = None
    try:
        status, headers = await asyncio.wait_for(read_head(reader), args.timeout)
        out["status"] = status
        out["t_head"] = time.time()
        last_byte = out["t_head"]
        cl = headers.get("content-length")
        out["content_length"] = int(cl) if cl is not None else None
        while True:
            left = deadline - time.time()
            if left <= 0:
                out["end"] = "timeout"
                break
            chunk = await asyncio.wait_for(reader.read(65536), left)
            if not chunk:
                out["end"] = "eof"
                break
            out["body_bytes"] += len(chunk)
            last_byte = time.time()
            if out["content_length"] is not None and out["body_bytes"] >= out["content_length"]:
                out["end"] = "complete"
                break
    except asyncio.TimeoutError:
        out["end"] = "timeout"
    except (ConnectionError, asyncio.IncompleteReadError) as e:
        out["end"] = "reset" if isinstance(e, ConnectionResetError) else "eof"
        out["error"] = type(e).__name__
    t_end = time.time()
    writer.transport.abort()
    out["t_start"] = t0
    out["t_end"] = t_end
    out["elapsed_ms"] = round((t_end - t0) * 1000, 1)
    out["since_last_byte_ms"] = round((t_end - last_byte) * 1000, 1) if last_byte else None
    out["whole"] = out["end"] == "complete"
    emit(out)


# --- load: exact, per-request records -----------------------------------------------------------


class Load:
    def __init__(self, args):
        self.args = args
        self.records = []
        self.ok = 0
        self.ready_written = False
        self.stop = asyncio.Event()
        self.seq = 0

    def next_id(self):
        self.seq += 1
        return f"{self.args.id_prefix}-{self.seq}"

    async def worker(self, index):
        a = self.args
        path = a.slow_path if index < a.slow_conns else a.path
        reader = writer = None
        while not self.stop.is_set():
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(a.host, a.port)
                except OSError as e:
                    self.records.append((time.time(), time.time(), 0, 0, "", "", "", "connect:" + type(e).__name__))
                    if a.until_gone:
                        return
                    await asyncio.sleep(0.01)
                    continue
            rid = self.next_id()
            t0 = time.time()
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: {rid}\r\n\r\n"
                             .encode())
                status, headers = await read_head(reader)
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                t1 = time.time()
                ok = 1 if 200 <= status < 300 and len(body) == int(headers.get("content-length", "0")) else 0
                self.records.append((t0, t1, ok, status, headers.get("x-request-id", rid),
                                     headers.get("x-upstream", ""), headers.get("x-config", ""),
                                     "" if ok else f"status:{status}"))
                if ok:
                    self.ok += 1
                    if a.ready and not self.ready_written and self.ok >= a.ready_after:
                        self.ready_written = True
                        touch(a.ready)
                if headers.get("connection", "").lower() == "close":
                    writer.transport.abort()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                    IndexError) as e:
                self.records.append((t0, time.time(), 0, 0, rid, "", "", "io:" + type(e).__name__))
                writer.transport.abort()
                writer = None
        if writer is not None:
            writer.transport.abort()

    async def run(self):
        a = self.args
        stop_on_signals(asyncio.get_running_loop(), self.stop)
        started = time.time()
        workers = [asyncio.create_task(self.worker(i)) for i in range(a.conns)]
        timer = asyncio.create_task(asyncio.sleep(a.duration))
        done = asyncio.create_task(asyncio.wait(workers))
        stop = asyncio.create_task(self.stop.wait())
        await asyncio.wait([timer, done, stop], return_when=asyncio.FIRST_COMPLETED)
        self.stop.set()
        await asyncio.wait(workers, timeout=5)
        for t in (timer, done, stop):
            t.cancel()
        ended = time.time()
        with open(a.out, "w") as f:
            for r in self.records:
                f.write("%.6f\t%.6f\t%d\t%d\t%s\t%s\t%s\t%s\n" % r)
        failed = sum(1 for r in self.records if not r[2] and not (a.until_gone and r[7].startswith("connect:")))
        emit({"requests": len(self.records), "ok": self.ok, "failed": failed,
              "seconds": round(ended - started, 3),
              "rps": round(self.ok / (ended - started), 1) if ended > started else 0})


def read_records(path):
    out = []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            out.append({"t0": float(p[0]), "t1": float(p[1]), "ok": p[2] == "1", "status": int(p[3]),
                        "id": p[4], "upstream": p[5], "marker": p[6], "error": p[7]})
    return out


# --- idle: keep-alive connections that made one request ------------------------------------------


async def idle_main(args):
    stop = asyncio.Event()
    stop_on_signals(asyncio.get_running_loop(), stop)
    conns = []
    failed = 0
    sem = asyncio.Semaphore(args.parallel)

    async def one(i):
        nonlocal failed
        async with sem:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
                writer.write(f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: idle-{i}\r\n\r\n"
                             .encode())
                status, headers = await read_head(reader)
                await reader.readexactly(int(headers.get("content-length", "0")))
                if status != 200:
                    raise ValueError(status)
                conns.append((reader, writer))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                failed += 1

    await asyncio.gather(*(one(i) for i in range(args.n)))
    closed = 0

    async def watch(reader):
        nonlocal closed
        try:
            data = await reader.read(1)
        except OSError:
            data = b""
        if not data:
            closed += 1

    watchers = [asyncio.create_task(watch(r)) for r, _ in conns]
    touch(args.ready, json.dumps({"open": len(conns), "failed": failed}) + "\n")
    await stop.wait()
    await asyncio.sleep(0)
    emit({"opened": len(conns), "failed": failed, "closed_by_server": closed})
    for t in watchers:
        t.cancel()
    for _, w in conns:
        w.transport.abort()


# --- slowloris: request heads a byte at a time ---------------------------------------------------


class SlowClient(asyncio.Protocol):
    """One slowloris connection: sent a byte of a request head at each tick (by the caller),
    timed from before its connect until the gateway answers or closes."""

    def __init__(self, t0, done):
        self.t0 = t0
        self.done = done
        self.transport = None
        self.sent = 0
        self.answer = None
        self.finished = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.answer is None:
            self.answer = data
            self.finish()

    def connection_lost(self, exc):
        self.finish()

    def finish(self):
        if not self.finished:
            self.finished = True
            self.done(self, time.time() - self.t0)


async def slowloris_main(args):
    """N clients, each sending a request head one byte per --interval and connecting again when
    cut, for --duration seconds. One timer writes to every connection: the clients' own CPU
    stays small next to the gateway's."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stop_on_signals(loop, stop)
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10000
    started = time.time()
    live = set()
    cuts = []          # seconds from before the connect to the answer or close
    answers = {}       # what the gateway sent before closing: "408", another status, "nothing"
    counts = {"connected": 0, "never_cut": 0, "connect_errors": 0}
    sem = asyncio.Semaphore(args.parallel)
    reconnects = []

    def done(client, seconds):
        live.discard(client)
        data = client.answer or b""
        status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "nothing"
        answers[status] = answers.get(status, 0) + 1
        cuts.append(seconds)
        if client.transport is not None:
            client.transport.abort()
        if not stop.is_set() and time.time() - started < args.duration:
            reconnects.append(asyncio.ensure_future(connect()))

    async def connect():
        async with sem:
            t0 = time.time()
            try:
                _, client = await loop.create_connection(lambda: SlowClient(t0, done), "127.0.0.1", args.port)
            except OSError:
                counts["connect_errors"] += 1
                await asyncio.sleep(0.1)
                if not stop.is_set() and time.time() - started < args.duration:
                    reconnects.append(asyncio.ensure_future(connect()))
                return
        if client.finished:
            return
        live.add(client)
        client.transport.write(head[:1])
        client.sent = 1
        counts["connected"] += 1
        if counts["connected"] == args.n:
            touch(args.ready)

    async def ticker():
        while not stop.is_set():
            await asyncio.sleep(args.interval)
            now = time.time()
            for client in list(live):
                if now - client.t0 > args.give_up:
                    counts["never_cut"] += 1
                    live.discard(client)
                    client.finished = True
                    client.transport.abort()
                elif client.sent < len(head):
                    client.transport.write(head[client.sent:client.sent + 1])
                    client.sent += 1

    async def starter():
        for i in range(args.n):
            reconnects.append(asyncio.ensure_future(connect()))
            await asyncio.sleep(args.spread / args.n)

    tick = asyncio.ensure_future(ticker())
    await starter()
    # Until the duration is over and every connection started in it has been cut.
    while not stop.is_set() and (time.time() - started < args.duration or live or
                                 any(not r.done() for r in reconnects)):
        await asyncio.sleep(0.05)
        reconnects[:] = [r for r in reconnects if not r.done()]
    tick.cancel()
    for client in list(live):
        client.transport.abort()
    ms = [c * 1000 for c in cuts]
    emit({"cycles": len(cuts), "connected": counts["connected"], "never_cut": counts["never_cut"],
          "connect_errors": counts["connect_errors"], "answers": answers,
          "min_ms": round(min(ms), 1) if ms else None, "p50_ms": round(percentile(ms, 50), 1) if ms else None,
          "p99_ms": round(percentile(ms, 99), 1) if ms else None, "max_ms": round(max(ms), 1) if ms else None,
          "within": sum(1 for m in ms if args.timeout_ms - args.early_ms <= m <= args.timeout_ms + args.slack_ms),
          "early": sum(1 for m in ms if m < args.timeout_ms - args.early_ms),
          "late": sum(1 for m in ms if m > args.timeout_ms + args.slack_ms)})


# --- polling the gateway ------------------------------------------------------------------------


def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric_value(text, series):
    """The value of one series, written exactly as /metrics names it (labels included)."""
    for line in text.splitlines():
        if line.rsplit(" ", 1)[0] == series:
            return float(line.rsplit(" ", 1)[1])
    return None


def compare(value, op, target):
    if value is None:
        return False
    return {"eq": value == target, "ge": value >= target, "gt": value > target,
            "le": value <= target, "lt": value < target, "ne": value != target}[op]


def wait_metric_main(args):
    t_end = time.time() + args.timeout
    value = None
    while time.time() < t_end:
        try:
            value = metric_value(http_get(args.url), args.series)
        except (OSError, urllib.error.URLError):
            value = None
        if compare(value, args.op, args.value):
            emit({"at": time.time(), "value": value})
            return 0
        time.sleep(args.every)
    emit({"at": None, "value": value})
    return 1


def dig(obj, path):
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
    return obj


def wait_json_main(args):
    t_end = time.time() + args.timeout
    value = None
    while time.time() < t_end:
        try:
            value = dig(json.loads(http_get(args.url)), args.field)
        except (OSError, urllib.error.URLError, ValueError):
            value = None
        if isinstance(value, bool):
            value = int(value)
        if compare(value, args.op, args.value):
            emit({"at": time.time(), "value": value})
            return 0
        time.sleep(args.every)
    emit({"at": None, "value": value})
    return 1


def parse_utc(text):
    """An RFC 3339 UTC time as the API writes it (nanoseconds allowed) → Unix seconds."""
    text = text.rstrip("Z")
    whole, _, frac = text.partition(".")
    t = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac else 0.0)


def transition_main(args):
    """Polls /api/routes until the target has a health transition to `--to` at or after
    `--after`; prints when the gateway made it (its own timestamp) and why."""
    t_end = time.time() + args.timeout
    while time.time() < t_end:
        try:
            routes = json.loads(http_get(args.dash + "/api/routes"))
        except (OSError, urllib.error.URLError, ValueError):
            routes = []
        found = [(parse_utc(tr["at"]), tr.get("reason"))
                 for route in routes for target in route["targets"] if target["url"] == args.target
                 for tr in target.get("transitions", [])
                 if tr["kind"] == "health" and tr["to"] == args.to and parse_utc(tr["at"]) >= args.after - 0.001]
        if found:
            at, reason = min(found)
            emit({"at": at, "reason": reason})
            return 0
        time.sleep(args.every)
    emit({"at": None})
    return 1


def ids_main(args):
    ids = []
    cursor = None
    while True:
        q = {"limit": "1000"}
        if cursor is not None:
            q["cursor"] = str(cursor)
        page = json.loads(http_get(args.url + "/api/requests?" + urllib.parse.urlencode(q), timeout=30))
        ids.extend(r["request_id"] for r in page["requests"])
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    with open(args.out, "w") as f:
        f.write("\n".join(ids) + ("\n" if ids else ""))
    emit({"stored": len(ids), "distinct": len(set(ids))})


def integrity_main(args):
    conn = sqlite3.connect(args.db)
    try:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    emit({"integrity": ";".join(result)})


# --- analyses -----------------------------------------------------------------------------------


def analyse_kill_main(args):
    rs = read_records(args.records)
    kill = args.kill_at
    failed = [r for r in rs if not r["ok"]]
    after_kill = [r for r in rs if r["t0"] >= kill]
    emit({
        "sent": len(rs),
        "sent_after_kill": len(after_kill),
        "failed": len(failed),
        # In flight at the kill: sent before it, answered after it.
        "failed_in_flight": sum(1 for r in failed if r["t0"] < kill <= r["t1"]),
        "failed_sent_after_kill": sum(1 for r in failed if r["t0"] >= kill),
        "failed_before_kill": sum(1 for r in failed if r["t1"] < kill),
        "in_flight_at_kill": sum(1 for r in rs if r["t0"] < kill <= r["t1"]),
        # The target the gateway recorded for each failed request.
        "failed_on_killed": sum(1 for r in failed if recorded_target(args.dash, r["id"]) == args.target),
        "errors": sorted({r["error"] for r in failed}),
    })


def recorded_target(dash, request_id):
    try:
        return json.loads(http_get(f"{dash}/api/requests/{urllib.parse.quote(request_id)}")).get("target")
    except (OSError, urllib.error.URLError, ValueError):
        return None


def analyse_restart_main(args):
    rs = read_records(args.records)
    phase = [r for r in rs if r["t0"] >= args.from_at]
    emit({
        "sent": len(phase),
        "failed": sum(1 for r in phase if not r["ok"]),
        "served_by_restarted": sum(1 for r in phase if r["ok"] and r["upstream"] == args.upstream
                                   and r["t0"] >= args.back_at),
    })


def analyse_span_main(args):
    """Requests in [from, to): sent, failed, and those answered with a marker."""
    rs = read_records(args.records)
    span = [r for r in rs if r["t0"] >= args.from_at and (args.to_at is None or r["t0"] < args.to_at)]
    emit({"sent": len(span), "failed": sum(1 for r in span if not r["ok"]),
          "errors": sorted({r["error"] for r in span if not r["ok"]}),
          "marked": sum(1 for r in span if args.marker and r["marker"] == args.marker)})


def analyse_crash_main(args):
    rs = read_records(args.records)
    with open(args.ids) as f:
        stored = {line.strip() for line in f if line.strip()}
    whole = [r for r in rs if r["ok"]]
    missing = [r for r in whole if r["id"] not in stored]
    out = {"whole": len(whole), "stored": len(stored), "missing": len(missing),
           "failed": sum(1 for r in rs if not r["ok"] and not r["error"].startswith("connect:"))}
    if args.kill_at is not None:
        window = args.at_risk_ms / 1000
        out["recent"] = sum(1 for r in whole if args.kill_at - r["t1"] < window)
        out["missing_older"] = sum(1 for r in missing if args.kill_at - r["t1"] >= window)
        out["oldest_missing_ms"] = round(max(((args.kill_at - r["t1"]) * 1000 for r in missing), default=0), 1)
    emit(out)


def analyse_soak_main(args):
    samples = []
    with open(args.samples) as f:
        for line in f:
            t, rss, fds, backlog = line.split()
            samples.append((float(t), int(rss), int(fds), int(backlog)))
    total = args.seconds
    early = [s for s in samples if total * 5 / 60 <= s[0] <= total * 15 / 60]
    late = [s for s in samples if s[0] >= total * 50 / 60]
    out = {"samples": len(samples)}
    if samples:
        peak = max(samples, key=lambda s: s[3])
        out["backlog_max"] = peak[3]
        out["rss_at_backlog_max_kib"] = peak[1]
    if early and late:
        out.update({
            "rss_early_kib": int(statistics.median(s[1] for s in early)),
            "rss_late_kib": int(statistics.median(s[1] for s in late)),
            "fds_early": int(statistics.median(s[2] for s in early)),
            "fds_late_max": max(s[2] for s in late),
            "rss_max_kib": max(s[1] for s in samples),
        })
        out["rss_ratio"] = round(out["rss_late_kib"] / out["rss_early_kib"], 3)
    emit(out)


def get_main(args):
    obj = json.loads(sys.stdin.read() or "{}")
    value = dig(obj, args.field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    print("" if value is None else value)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("peer")
    s.add_argument("--port", type=int, required=True)

    s = sub.add_parser("fetch")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--path", required=True)
    s.add_argument("--id", required=True)
    s.add_argument("--timeout", type=float, default=30)

    s = sub.add_parser("load")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--path", default="/index.txt")
    s.add_argument("--conns", type=int, default=8)
    s.add_argument("--slow-path", default="", help="the path the first --slow-conns clients ask for")
    s.add_argument("--slow-conns", type=int, default=0)
    s.add_argument("--duration", type=float, default=3600)
    s.add_argument("--out", required=True)
    s.add_argument("--ready")
    s.add_argument("--ready-after", type=int, default=100)
    s.add_argument("--id-prefix", default="load")
    s.add_argument("--until-gone", action="store_true", help="a client stops when it cannot connect")

    s = sub.add_parser("idle")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--path", default="/index.txt")
    s.add_argument("--n", type=int, default=5000)
    s.add_argument("--parallel", type=int, default=200)
    s.add_argument("--ready")

    s = sub.add_parser("slowloris")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--duration", type=float, default=15)
    s.add_argument("--spread", type=float, default=1.0, help="seconds over which the clients start")
    s.add_argument("--parallel", type=int, default=200)
    s.add_argument("--timeout-ms", type=float, required=True)
    s.add_argument("--slack-ms", type=float, default=500)
    s.add_argument("--early-ms", type=float, default=20)
    s.add_argument("--give-up", type=float, default=60)
    s.add_argument("--ready")

    for name in ("wait-metric", "wait-json"):
        s = sub.add_parser(name)
        s.add_argument("--url", required=True)
        s.add_argument("--series" if name == "wait-metric" else "--field", required=True)
        s.add_argument("--op", default="eq", choices=["eq", "ne", "ge", "gt", "le", "lt"])
        s.add_argument("--value", type=float, required=True)
        s.add_argument("--timeout", type=float, default=10)
        s.add_argument("--every", type=float, default=0.01)

    s = sub.add_parser("transition")
    s.add_argument("--dash", required=True)
    s.add_argument("--target", required=True)
    s.add_argument("--to", required=True, choices=["healthy", "unhealthy"])
    s.add_argument("--after", type=float, required=True)
    s.add_argument("--timeout", type=float, default=10)
    s.add_argument("--every", type=float, default=0.05)

    s = sub.add_parser("ids")
    s.add_argument("--url", required=True)
    s.add_argument("--out", required=True)

    s = sub.add_parser("integrity")
    s.add_argument("--db", required=True)

    s = sub.add_parser("analyse-kill")
    s.add_argument("--records", required=True)
    s.add_argument("--kill-at", type=float, required=True)
    s.add_argument("--dash", required=True, help="the dashboard's base URL")
    s.add_argument("--target", required=True, help="the killed target's URL as configured")

    s = sub.add_parser("analyse-restart")
    s.add_argument("--records", required=True)
    s.add_argument("--from-at", type=float, required=True)
    s.add_argument("--back-at", type=float, required=True)
    s.add_argument("--upstream", required=True)

    s = sub.add_parser("analyse-span")
    s.add_argument("--records", required=True)
    s.add_argument("--from-at", type=float, default=0)
    s.add_argument("--to-at", type=float)
    s.add_argument("--marker", default="")

    s = sub.add_parser("analyse-crash")
    s.add_argument("--records", required=True)
    s.add_argument("--ids", required=True)
    s.add_argument("--kill-at", type=float)
    s.add_argument("--at-risk-ms", type=float, default=300)

    s = sub.add_parser("analyse-soak")
    s.add_argument("--samples", required=True)
    s.add_argument("--seconds", type=float, required=True)

    s = sub.add_parser("get")
    s.add_argument("field")

    args = p.parse_args()
    if args.cmd == "peer":
        asyncio.run(peer_main(args))
    elif args.cmd == "fetch":
        asyncio.run(fetch_main(args))
    elif args.cmd == "load":
        asyncio.run(Load(args).run())
    elif args.cmd == "idle":
        asyncio.run(idle_main(args))
    elif args.cmd == "slowloris":
        asyncio.run(slowloris_main(args))
    elif args.cmd == "wait-metric":
        return wait_metric_main(args)
    elif args.cmd == "wait-json":
        return wait_json_main(args)
    elif args.cmd == "transition":
        return transition_main(args)
    else:
        {"ids": ids_main, "integrity": integrity_main, "analyse-kill": analyse_kill_main,
         "analyse-restart": analyse_restart_main, "analyse-span": analyse_span_main,
         "analyse-crash": analyse_crash_main, "analyse-soak": analyse_soak_main,
         "get": get_main}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
