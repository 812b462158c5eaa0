#!/usr/bin/env python3
"""Write load for the fail-over drill (standard library only).

Workers create users with `POST /admin/users` on the Portcullis nodes, round the nodes, and
record every request: when it was sent and answered, the node, the status (or `timeout` /
`conn-error`), and for each 2xx the id the server created. Acknowledged writes go to
`acked.tsv` (id, email) the moment they are answered; the others to `unacked.tsv`.

drill.sh drives it through files in --out:
  kill_time   written by drill.sh right before the primary is killed (unix seconds)
  recovered   written here once every node has answered a 2xx to a request sent after the kill
  stop        written by drill.sh: finish the requests in flight and stop
At the end `summary.json` holds the measurements and a text summary is printed.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import threading
import time
import urllib.parse


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", required=True, help="comma-separated base URLs")
    p.add_argument("--token", required=True, help="admin bearer token")
    p.add_argument("--out", required=True)
    p.add_argument("--workers-per-node", type=int, default=2)
    p.add_argument("--timeout", type=float, default=15.0, help="client timeout per request, s")
    p.add_argument("--run-id", default=str(int(time.time())))
    p.add_argument("--max-seconds", type=float, default=300.0, help="hard stop")
    return p.parse_args()


class Recorder:
    def __init__(self, out):
        self.lock = threading.Lock()
        self.results = []
        self.acked = open(os.path.join(out, "acked.tsv"), "w", buffering=1)
        self.unacked = open(os.path.join(out, "unacked.tsv"), "w", buffering=1)
        self.log = open(os.path.join(out, "results.jsonl"), "w", buffering=1)

    def add(self, r):
        with self.lock:
            self.results.append(r)
            self.log.write(json.dumps(r) + "\n")
            if r["ok"]:
                self.acked.write(f"{r['id']}\t{r['email']}\n")
            else:
                self.unacked.write(f"{r['email']}\t{r['status']}\n")

    def snapshot(self):
        with self.lock:
            return list(self.results)


def worker(idx, node, args, rec, stop):
    url = urllib.parse.urlsplit(node)
    headers = {
        "Authorization": f"Bearer {args.token}",
        "Content-Type": "application/json",
        "Connection": "close",
    }
    seq = 0
    while not stop.is_set():
        seq += 1
        email = f"drill-{args.run_id}-w{idx}-{seq}@example.com"
        body = json.dumps({"email": email, "password": f"drill password {args.run_id}", "verified": True})
        t0 = time.time()
        status, created, detail = None, None, ""
        try:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=args.timeout)
            conn.request("POST", "/admin/users", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            status = resp.status
            if 200 <= status < 300:
                created = json.loads(data)["id"]
            else:
                detail = data[:300].decode("utf-8", "replace")
        except socket.timeout:
            status = "timeout"
        except (OSError, http.client.HTTPException) as e:
            status = "conn-error"
            detail = f"{type(e).__name__}: {e}"
        t1 = time.time()
        ok = created is not None
        rec.add({"worker": idx, "node": node, "email": email, "t0": t0, "t1": t1,
                 "status": status, "ok": ok, "id": created, "detail": detail})
        if not ok:
            time.sleep(0.1)  # no hot loop on instant refusals


def read_float(path):
    try:
        with open(path) as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return None


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def analyse(results, nodes, t_kill, t_start, t_stop):
    s = {"requests": len(results), "acknowledged": sum(r["ok"] for r in results),
         "duration_s": round(t_stop - t_start, 2)}
    fails = [r for r in results if not r["ok"]]
    by_status = {}
    for r in fails:
        by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
    s["failed"] = len(fails)
    s["failed_by_status"] = by_status
    samples = {}
    for r in fails:
        samples.setdefault(str(r["status"]), r["detail"])
    s["failure_samples"] = samples
    if fails:
        lat = [r["t1"] - r["t0"] for r in fails]
        s["failed_latency_s"] = {"min": round(min(lat), 3), "median": round(statistics.median(lat), 3),
                                 "max": round(max(lat), 3)}
    ok = [r for r in results if r["ok"]]
    if t_kill is None:
        s["kill"] = None
        return s
    before = [r for r in ok if r["t1"] < t_kill]
    if before:
        span = t_kill - min(r["t0"] for r in results)
        s["writes_per_s_before_kill"] = round(len(before) / span, 1) if span > 0 else None
        lat = [r["t1"] - r["t0"] for r in before]
        s["latency_before_kill_ms"] = {"p50": round(1000 * pct(lat, 0.5), 1), "p99": round(1000 * pct(lat, 0.99), 1)}
    after_ok = sorted((r for r in ok if r["t0"] >= t_kill), key=lambda r: r["t1"])
    s["failover_s"] = round(after_ok[0]["t1"] - t_kill, 2) if after_ok else None
    per_node = {}
    for n in nodes:
        first = next((r for r in after_ok if r["node"] == n), None)
        per_node[n] = round(first["t1"] - t_kill, 2) if first else None
    s["failover_per_node_s"] = per_node
    last_before = max((r["t1"] for r in ok if r["t1"] <= t_kill), default=None)
    if after_ok and last_before is not None:
        s["write_gap_s"] = round(after_ok[0]["t1"] - last_before, 2)
    # Requests in flight at the kill that still succeeded: answered after it, sent before it.
    s["acked_across_kill"] = sum(1 for r in ok if r["t0"] < t_kill <= r["t1"])
    recovered_at = after_ok[0]["t1"] if after_ok else t_stop
    window = [r for r in results if r["t1"] >= t_kill and r["t0"] <= recovered_at]
    wf = [r for r in window if not r["ok"]]
    s["failed_during_failover"] = len(wf)
    st = {}
    for r in wf:
        st[str(r["status"])] = st.get(str(r["status"]), 0) + 1
    s["failed_during_failover_by_status"] = st
    s["failed_after_recovery"] = sum(1 for r in fails if r["t0"] > recovered_at)
    s["failures"] = [
        f"{r['node']} sent {r['t0'] - t_kill:+.2f}s answered {r['t1'] - t_kill:+.2f}s: {r['status']} {r['detail'][:90]}"
        for r in sorted(fails, key=lambda r: r["t0"])[:30]]
    slow = [r for r in results if r["t1"] - r["t0"] > 5]
    s["requests_over_5s"] = len(slow)
    return s


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    nodes = [n.strip().rstrip("/") for n in args.nodes.split(",") if n.strip()]
    rec = Recorder(args.out)
    stop = threading.Event()
    threads = []
    idx = 0
    for node in nodes:
        for _ in range(args.workers_per_node):
            t = threading.Thread(target=worker, args=(idx, node, args, rec, stop), daemon=True)
            t.start()
            threads.append(t)
            idx += 1
    t_start = time.time()
    kill_path = os.path.join(args.out, "kill_time")
    stop_path = os.path.join(args.out, "stop")
    recovered_written = False
    while not os.path.exists(stop_path) and time.time() - t_start < args.max_seconds:
        time.sleep(0.1)
        t_kill = read_float(kill_path)
        if t_kill is not None and not recovered_written:
            firsts = {}
            for r in rec.snapshot():
                if r["ok"] and r["t0"] >= t_kill:
                    firsts[r["node"]] = min(firsts.get(r["node"], r["t1"]), r["t1"])
            if all(n in firsts for n in nodes):
                with open(os.path.join(args.out, "recovered.tmp"), "w") as f:
                    json.dump(firsts, f)
                os.rename(os.path.join(args.out, "recovered.tmp"), os.path.join(args.out, "recovered"))
                recovered_written = True
    stop.set()
    for t in threads:
        t.join(args.timeout + 5)
    t_stop = time.time()
    s = analyse(rec.snapshot(), nodes, read_float(kill_path), t_start, t_stop)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(s, f, indent=2)
    print(json.dumps(s, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
