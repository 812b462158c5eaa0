"""Runs the benchmark scenarios against the release binary (see bench/run.sh)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where cargo put the release build (run.sh passes it; CARGO_TARGET_DIR may move it).
RELEASE = os.environ.get("BENCH_RELEASE_DIR", os.path.join(ROOT, "target/release"))
BIN = os.path.join(RELEASE, "portcullis")
DURATION = int(os.environ.get("BENCH_DURATION", "15"))
CONNECTIONS = 16
TICK = os.sysconf("SC_CLK_TCK")


def sh(*args, env=None):
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout


def fresh_postgres(name):
    """A new empty PostgreSQL database `name` on BENCH_POSTGRES (default: the local server)."""
    admin = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
    sh("psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    sh("psql", admin, "-q", "-c", f"CREATE DATABASE {name}")
    return admin.rsplit("/", 1)[0] + "/" + name


class Server:
    def __init__(self, port, algorithm="RS256", backend="sqlite"):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.dir = tempfile.mkdtemp(prefix="portcullis-bench-")
        self.env = dict(os.environ,
                        PORTCULLIS_DATA_DIR=self.dir, PORTCULLIS_BIND=f"127.0.0.1:{port}",
                        PORTCULLIS_ISSUER=self.base, PORTCULLIS_LOG="warn",
                        PORTCULLIS_KEYS_ALGORITHM=algorithm,
                        PORTCULLIS_THROTTLE_ACCOUNT_FAILURES="1000000",
                        PORTCULLIS_THROTTLE_IP_FAILURES="1000000")
        if backend == "postgres":
            self.env["PORTCULLIS_DATABASE_URL"] = fresh_postgres(f"portcullis_bench_{port}")
        self.proc = None

    def cli(self, *args):
        return json.loads(sh(BIN, "--json", *args, env=self.env))

    def start(self):
        t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                if urllib.request.urlopen(self.base + "/readyz", timeout=1).status == 200:
                    return (time.monotonic() - t0) * 1000
            except Exception:
                time.sleep(0.002)
            if time.monotonic() - t0 > 30:
                raise RuntimeError("server did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # MiB
        return 0.0

    def cpu_ticks(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def post(self, path, data, auth):
        req = urllib.request.Request(self.base + path, data=data.encode(), method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("Authorization", auth)
        return json.loads(urllib.request.urlopen(req).read())


def basic(user, password):
    import base64
    from urllib.parse import quote_plus
    return "Basic " + base64.b64encode(f"{quote_plus(user)}:{quote_plus(password)}".encode()).decode()


def wrk(server, path, method="GET", body="", auth="", duration=DURATION):
    env = dict(os.environ, METHOD=method, BODY=body, AUTH=auth,
               CTYPE="application/x-www-form-urlencoded" if body else "")
    out = sh("wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "-s", os.path.join(ROOT, "bench/wrk.lua"),
             server.base + path, env=env)
    return json.loads(out.strip().splitlines()[-1])


def measure(server, name, **kw):
    """Two runs; the CPU share is the server's, over both."""
    wrk(server, duration=3, **kw)  # warm-up
    ticks = server.cpu_ticks()
    t0 = time.monotonic()
    runs = [wrk(server, **kw) for _ in range(2)]
    cpu = (server.cpu_ticks() - ticks) / TICK / (time.monotonic() - t0) * 100
    best = max(runs, key=lambda r: r["rps"])
    for r in runs:
        if r["non2xx"] or r["errors"]:
            print(f"warning: {name}: {r['non2xx']} non-2xx answers, {r['errors']} errors", file=sys.stderr)
    return {"name": name, "runs": runs, "rps": best["rps"], "p50": best["p50_ms"], "p99": best["p99_ms"], "cpu": cpu}


def limits():
    cores = os.cpu_count()
    rsa = sh("openssl", "speed", "-seconds", "3", "-multi", str(cores), "rsa2048")
    ec = sh("openssl", "speed", "-seconds", "3", "-multi", str(cores), "ecdsap256")
    rsa_sign = float(re.findall(r"rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)", rsa)[-1])
    ec_sign = float(re.findall(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)", ec)[-1])
    argon = json.loads(sh(os.path.join(RELEASE, "examples/argon2_rate")))
    return {"cores": cores, "rsa_sign": rsa_sign, "ec_sign": ec_sign, "argon2": argon["all_cores"], "argon2_one": argon["one_core"]}


TARGETS = {
    "client credentials, RS256": "rsa",
    "client credentials, ES256": (30000, 5.0),
    "introspection (JWT, revocation check)": (40000, 5.0),
    "GET /jwks": (70000, None),
    "GET discovery": (70000, None),
    "password grant (argon2id)": "argon2",
    "introspection while argon2 is saturated": (0, 20.0),
    "loopback ceiling: GET /healthz": (0, None),
}


def target(name, lim):
    t = TARGETS[name]
    if t == "rsa":
        return 0.9 * lim["rsa_sign"], 15.0
    if t == "argon2":
        return 0.9 * lim["argon2"], None
    return t


def run_backend(backend, lim, port):
    """Every scenario on one backend; returns (results, idle RSS, peak RSS, start-up ms)."""
    rs = Server(port, backend=backend)
    rs.cli("user", "add", "--email", "bench@example.com", "--password", "bench password 1")
    cc = rs.cli("client", "add", "--name", "cc", "--grant", "client_credentials", "--scope", "read")
    rsrv = rs.cli("client", "add", "--name", "rs", "--grant", "client_credentials")
    pw = rs.cli("client", "add", "--name", "pw", "--trusted", "--grant", "password")
    rs.start()
    time.sleep(1)
    idle = rs.status("VmRSS")
    cc_auth = basic(cc["client_id"], cc["client_secret"])
    rs_auth = basic(rsrv["client_id"], rsrv["client_secret"])
    pw_auth = basic(pw["client_id"], pw["client_secret"])
    token = rs.post("/token", "grant_type=client_credentials", cc_auth)["access_token"]
    results = []
    results.append(measure(rs, "client credentials, RS256", path="/token", method="POST", body="grant_type=client_credentials", auth=cc_auth))
    results.append(measure(rs, "introspection (JWT, revocation check)", path="/introspect", method="POST", body=f"token={token}", auth=rs_auth))
    results.append(measure(rs, "GET /jwks", path="/jwks"))
    results.append(measure(rs, "GET discovery", path="/.well-known/openid-configuration"))
    results.append(measure(rs, "loopback ceiling: GET /healthz", path="/healthz"))
    pw_body = "grant_type=password&username=bench%40example.com&password=bench+password+1"
    results.append(measure(rs, "password grant (argon2id)", path="/token", method="POST", body=pw_body, auth=pw_auth))
    # Introspection while password grants saturate argon2.
    env = dict(os.environ, METHOD="POST", BODY=pw_body, AUTH=pw_auth, CTYPE="application/x-www-form-urlencoded")
    bg = subprocess.Popen(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION + 4}s", "-s", os.path.join(ROOT, "bench/wrk.lua"), rs.base + "/token"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(2)
    mixed = wrk(rs, "/introspect", method="POST", body=f"token={token}", auth=rs_auth)
    bg.wait()
    results.append({"name": "introspection while argon2 is saturated", "runs": [mixed], "rps": mixed["rps"], "p50": mixed["p50_ms"], "p99": mixed["p99_ms"], "cpu": None})
    peak = rs.status("VmHWM")
    rs.stop()
    startups = []
    for _ in range(3):
        startups.append(rs.start())
        rs.stop()
    startup = min(startups)

    es = Server(port + 1, "ES256", backend=backend)
    es_cc = es.cli("client", "add", "--name", "cc", "--grant", "client_credentials", "--scope", "read")
    es.start()
    results.insert(1, measure(es, "client credentials, ES256", path="/token", method="POST", body="grant_type=client_credentials", auth=basic(es_cc["client_id"], es_cc["client_secret"])))
    es.stop()
    return results, idle, peak, startup


def main():
    backends = os.environ.get("BENCH_BACKENDS", "sqlite postgres").split()
    lim = limits()
    print(f"machine: {lim}", file=sys.stderr)
    missed = []
    lines = ["| backend | scenario | requests/s | p50 ms | p99 ms | server CPU | target | met |", "|---|---|---|---|---|---|---|---|"]
    mem_target = 40 + 19 * lim["cores"]
    report = {"limits": lim}
    for i, backend in enumerate(backends):
        print(f"backend: {backend}", file=sys.stderr)
        results, idle, peak, startup = run_backend(backend, lim, 18200 + 10 * i)
        report[backend] = {"results": results, "idle_rss": idle, "peak_rss": peak, "startup_ms": startup}
        for r in results:
            min_rps, max_p99 = target(r["name"], lim)
            ok = r["rps"] >= min_rps and (max_p99 is None or r["p99"] <= max_p99)
            want = []
            if min_rps:
                want.append(f">= {min_rps:,.0f}/s")
            if max_p99:
                want.append(f"p99 < {max_p99:g} ms")
            cpu = f"{r['cpu']:.0f}%" if r["cpu"] is not None else "-"
            met = "yes" if ok else "**no**"
            if not want:
                met = "(reference)"
            lines.append(f"| {backend} | {r['name']} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {cpu} | {', '.join(want) or '-'} | {met} |")
            if not ok:
                missed.append(f"{backend}: {r['name']}")
        lines.append(f"| {backend} | idle RSS | {idle:.1f} MiB | | | | <= 15 MiB | {'yes' if idle <= 15 else '**no**'} |")
        lines.append(f"| {backend} | peak RSS | {peak:.1f} MiB | | | | <= {mem_target} MiB (40 + 19 per concurrent hash, {lim['cores']} hashes) | {'yes' if peak <= mem_target else '**no**'} |")
        lines.append(f"| {backend} | start-up to /readyz (existing database) | {startup:.0f} ms | | | | <= 300 ms | {'yes' if startup <= 300 else '**no**'} |")
        for name, ok in [("idle RSS", idle <= 15), ("peak RSS", peak <= mem_target), ("start-up", startup <= 300)]:
            if not ok:
                missed.append(f"{backend}: {name}")
    machine = (f"Machine: {lim['cores']} cores; openssl speed: RSA-2048 {lim['rsa_sign']:,.0f} signs/s, "
               f"ECDSA P-256 {lim['ec_sign']:,.0f} signs/s (all cores); argon2id (m=19456, t=2, p=1) "
               f"{lim['argon2']:,.1f} verifies/s on all cores ({lim['argon2_one']:,.1f} on one). "
               f"wrk: 1 thread, {CONNECTIONS} connections, {DURATION} s, best of two runs; the load generator shares the cores. "
               f"The loopback ceiling is the server's cheapest route, for scale: no scenario can beat it on this machine.")
    text = "\n".join(lines) + "\n\n" + machine + "\n"
    with open(os.path.join(ROOT, "bench/results.md"), "w") as f:
        f.write(text)
    print(text)
    with open(os.path.join(ROOT, "bench/results.json"), "w") as f:
        json.dump(report, f, indent=1)
    if missed:
        print("missed: " + ", ".join(missed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
