#!/usr/bin/env bash
# PostgreSQL fail-over drill for Portcullis: etcd + two Patroni-managed PostgreSQL nodes with
# synchronous replication + two Portcullis nodes on a libpq multi-host URL, all on this machine.
# A write load runs, the primary is killed with SIGKILL, and the drill measures how long
# clients see no successful write, what they get meanwhile, and checks that every
# acknowledged write is on the new primary (and on the rejoined standby).
#
# Usage: deploy/ha/drill.sh            (as root: installs Debian's patroni/etcd if missing)
# Environment (all optional):
#   PORTCULLIS_BIN   the server binary (default target/release/portcullis, relative to the repo)
#   HA_STRICT        synchronous_mode_strict: false (default) or true
#   HA_KILL          node (default: Patroni and every PostgreSQL process of the primary, as a
#                    machine loss) or postgres (only PostgreSQL; Patroni survives)
#   HA_WARMUP        seconds of load before the kill (5)
#   HA_TAIL          seconds of load after every node has written again (5)
#   HA_DEADLINE      seconds after the kill within which the nodes must write again (60)
#   HA_TTL / HA_LOOP_WAIT / HA_RETRY_TIMEOUT   Patroni timing (10 / 2 / 3)
#   HA_WORKERS_PER_NODE  concurrent writers per Portcullis node (2)
#   HA_CLIENT_TIMEOUT    seconds the load waits for an answer before counting a timeout (15)
#   HA_KEEP=1        keep the work directory (logs, configs, data) afterwards
#   HA_PORT_BASE     shifts every port by this much (0): PostgreSQL 5433/5434, Patroni REST
#                    8008/8009, etcd 2379/2380, Portcullis 8081/8082
# Exit status: 0 when every node wrote again in time and no acknowledged write was lost.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T_BEGIN=$(date +%s.%N)

BIN=${PORTCULLIS_BIN:-target/release/portcullis}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
STRICT=${HA_STRICT:-false}
KILL_MODE=${HA_KILL:-node}
WARMUP=${HA_WARMUP:-5}
TAIL=${HA_TAIL:-5}
DEADLINE=${HA_DEADLINE:-60}
TTL=${HA_TTL:-10}
LOOP_WAIT=${HA_LOOP_WAIT:-2}
RETRY_TIMEOUT=${HA_RETRY_TIMEOUT:-3}
WORKERS=${HA_WORKERS_PER_NODE:-2}
CLIENT_TIMEOUT=${HA_CLIENT_TIMEOUT:-15}
B=${HA_PORT_BASE:-0}
PG_PORTS=($((5433 + B)) $((5434 + B)))
REST_PORTS=($((8008 + B)) $((8009 + B)))
APP_PORTS=($((8081 + B)) $((8082 + B)))
ETCD_PORT=$((2379 + B))
ETCD_PEER_PORT=$((2380 + B))
NAMES=(pg1 pg2)

log() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T_BEGIN" | bc)" "$*"; }
die() { log "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
since() { echo "scale=2; ($(now) - $1)/1" | bc; }

# --- 1. packages (idempotent) -------------------------------------------------------------
need=()
command -v patroni >/dev/null || need+=(patroni)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
for c in curl bc python3 openssl; do command -v $c >/dev/null || need+=($c); done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need[*]}: run as root or apt-get install them"
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
PG_BIN=${HA_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
[ -x "$BIN" ] || die "no Portcullis binary at $BIN (set PORTCULLIS_BIN)"
log "patroni $(patroni --version | awk '{print $2}'), etcd $(etcd --version | awk 'NR==1{print $3}'), $("$PG_BIN/postgres" --version), portcullis $BIN"

# PostgreSQL refuses to run as root: run etcd, Patroni and PostgreSQL as `postgres`.
if [ "$(id -u)" = 0 ]; then
  RUN_AS=(setpriv --reuid=postgres --regid=postgres --init-groups)
  OWNER=postgres
else
  RUN_AS=()
  OWNER=$(id -un)
fi

for p in "${PG_PORTS[@]}" "${REST_PORTS[@]}" "${APP_PORTS[@]}" $ETCD_PORT $ETCD_PEER_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then die "port $p is in use (set HA_PORT_BASE)"; fi
done

# --- 2. work directory, teardown -----------------------------------------------------------
W=$(mktemp -d /tmp/portcullis-ha.XXXXXX)
chmod 755 "$W"
mkdir -p "$W"/{run,logs,load,app1,app2,pg1,pg2,etcd}
chown "$OWNER" "$W"/{run,logs,pg1,pg2,etcd}
chmod 700 "$W"/pg1 "$W"/pg2
PIDS=()            # every long-running process started here
APP_PIDS=() PATRONI_PID=("" "") ETCD_PID="" LOAD_PID=""
RESULT=1

postmaster_of() {  # prints the pid of node $1's postmaster when it runs
  local f=$W/${NAMES[$1]}/postmaster.pid pid
  [ -f "$f" ] || return 1
  pid=$(head -n1 "$f")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop_pids() {  # stop_pids SECONDS PID...: SIGTERM, then SIGKILL what is left after SECONDS
  local secs=$1; shift
  local pids=() p
  for p in "$@"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && pids+=("$p"); done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 $((secs * 10))); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

teardown() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ $RESULT = 0 ] || [ "$rc" != 0 ] || rc=1
  log "teardown"
  [ -n "$LOAD_PID" ] && { touch "$W/load/stop"; stop_pids 20 "$LOAD_PID"; }
  stop_pids 10 "${APP_PIDS[@]}"
  # The data is thrown away: no clean shutdown needed. SIGKILL Patroni (so it restarts
  # nothing), then PostgreSQL's immediate shutdown (SIGQUIT), then SIGKILL for what is left.
  for p in "${PATRONI_PID[@]}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
  for i in 0 1; do
    local pm; pm=$(postmaster_of $i) || continue
    kill -QUIT "$pm" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
    kill -KILL $(pgrep -P "$pm") "$pm" 2>/dev/null
  done
  stop_pids 10 "$ETCD_PID"
  stop_pids 5 "${PIDS[@]}"
  wait 2>/dev/null
  local left=()
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
  [ ${#left[@]} -eq 0 ] || log "WARNING: processes left: ${left[*]}"
  if [ "${HA_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    log "work directory kept: $W (logs in $W/logs)"
  else
    rm -rf "$W"
  fi
  log "drill wall time $(since "$T_BEGIN") s, exit $rc"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS WHAT COMMAND...: polls every 0.2 s
  local secs=$1 what=$2; shift 2
  local end; end=$(echo "$(now) + $secs" | bc)
  until "$@" >/dev/null 2>&1; do
    (( $(echo "$(now) > $end" | bc) )) && die "$what not within ${secs}s"
    sleep 0.2
  done
}
rest() {  # rest NODE PATH: HTTP status of Patroni's REST check
  curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${REST_PORTS[$1]}$2" || true
}
is() { [ "$(rest "$1" "$2")" = 200 ]; }
primary_index() { local i; for i in 0 1; do is $i /primary && { echo $i; return 0; }; done; return 1; }

# --- 3. configuration from the templates ---------------------------------------------------
SUPERUSER_PASSWORD=$(openssl rand -hex 16)
REPLICATION_PASSWORD=$(openssl rand -hex 16)
APP_PASSWORD=$(openssl rand -hex 16)
for i in 0 1; do
  sed -e "s|@NAME@|${NAMES[$i]}|g" -e "s|@REST_PORT@|${REST_PORTS[$i]}|g" \
      -e "s|@PG_PORT@|${PG_PORTS[$i]}|g" -e "s|@ETCD_HOSTS@|127.0.0.1:$ETCD_PORT|g" \
      -e "s|@TTL@|$TTL|g" -e "s|@LOOP_WAIT@|$LOOP_WAIT|g" -e "s|@RETRY_TIMEOUT@|$RETRY_TIMEOUT|g" \
      -e "s|@STRICT@|$STRICT|g" -e "s|@DATA_DIR@|$W/${NAMES[$i]}|g" -e "s|@PG_BIN@|$PG_BIN|g" \
      -e "s|@RUN_DIR@|$W/run|g" -e "s|@LOG_DIR@|$W/logs|g" \
      -e "s|@SUPERUSER_PASSWORD@|$SUPERUSER_PASSWORD|g" \
      -e "s|@REPLICATION_PASSWORD@|$REPLICATION_PASSWORD|g" \
      "$HERE/patroni.yml.in" > "$W/patroni-${NAMES[$i]}.yml"
  ! grep -n '@[A-Z_]*@' "$W/patroni-${NAMES[$i]}.yml" || die "unfilled placeholder"
done
chown "$OWNER" "$W"/patroni-*.yml
chmod 600 "$W"/patroni-*.yml

# The one connection URL every Portcullis node uses: libpq tries the hosts in order and keeps
# the first that accepts writes; connect_timeout bounds each host's attempt.
DB_URL="postgres://portcullis:$APP_PASSWORD@127.0.0.1:${PG_PORTS[0]},127.0.0.1:${PG_PORTS[1]}/portcullis?target_session_attrs=read-write&connect_timeout=3"

# --- 4. etcd, then both Patroni nodes ------------------------------------------------------
# Only for background jobs: `exec` makes $! the process itself, not a subshell around it.
as_owner() { exec "${RUN_AS[@]}" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$W/run" "$@"; }
as_owner etcd --name drill --data-dir "$W/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "drill=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  >"$W/logs/etcd.log" 2>&1 &
ETCD_PID=$!; PIDS+=($!)
wait_for 20 "etcd healthy" etcdctl --endpoints="127.0.0.1:$ETCD_PORT" endpoint health
log "etcd up on 127.0.0.1:$ETCD_PORT"

start_patroni() {
  as_owner patroni "$W/patroni-${NAMES[$1]}.yml" >>"$W/logs/patroni-${NAMES[$1]}.log" 2>&1 &
  PATRONI_PID[$1]=$!; PIDS+=($!)
  disown "$!"   # no "Killed" notice from bash when the drill kills it
}
T0=$(now)
start_patroni 0
wait_for 60 "a primary" primary_index
start_patroni 1
log "Patroni: ${NAMES[0]} primary ($(since "$T0") s); ${NAMES[1]} is cloning it"

psql_at() {  # psql_at NODE DB SQL...: as the superuser, unaligned
  local node=$1 db=$2; shift 2
  PGPASSWORD=$SUPERUSER_PASSWORD PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-3} "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "${PG_PORTS[$node]}" -U postgres -d "$db" "$@"
}
psql_at 0 postgres -c "CREATE ROLE portcullis LOGIN PASSWORD '$APP_PASSWORD'" \
  -c "CREATE DATABASE portcullis OWNER portcullis" -c "SELECT 1" >/dev/null

# --- 5. Portcullis nodes -------------------------------------------------------------------
export PORTCULLIS_DATABASE_URL=$DB_URL
export PORTCULLIS_ISSUER="http://127.0.0.1:$((8080 + B))"   # one issuer: tokens work on every node
export PORTCULLIS_MASTER_KEY; PORTCULLIS_MASTER_KEY=$(openssl rand -base64 32)
export PORTCULLIS_LOG=${PORTCULLIS_LOG:-info}
# Portcullis warns about PORTCULLIS_* variables that name no setting (and ignores them).
unset PORTCULLIS_CONFIG PORTCULLIS_BIND PORTCULLIS_BIN
PORTCULLIS_DATA_DIR=$W/app1 "$BIN" migrate >"$W/logs/migrate.log" 2>&1 || die "migrate: $(tail -n3 "$W/logs/migrate.log")"
CREDS=$(PORTCULLIS_DATA_DIR=$W/app1 "$BIN" client add --name drill-ops --grant client_credentials --scope admin --json 2>>"$W/logs/migrate.log") \
  || die "client add: $(tail -n3 "$W/logs/migrate.log")"
read -r OPS_ID OPS_SECRET < <(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["client_id"], d["client_secret"])' <<<"$CREDS")
NODES=()
for i in 0 1; do
  PORTCULLIS_BIND=127.0.0.1:${APP_PORTS[$i]} PORTCULLIS_DATA_DIR=$W/app$((i + 1)) "$BIN" serve \
    >"$W/logs/portcullis-$((i + 1)).log" 2>&1 &
  APP_PIDS+=($!); PIDS+=($!)
  NODES+=("http://127.0.0.1:${APP_PORTS[$i]}")
  wait_for 30 "Portcullis node $((i + 1)) ready" curl -sf --max-time 2 "${NODES[$i]}/readyz"
done
TOKEN=$(curl -sf -u "$OPS_ID:$OPS_SECRET" -d grant_type=client_credentials "${NODES[0]}/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || die "admin token"
log "Portcullis nodes ready on ${APP_PORTS[*]}, database URL ${DB_URL/$APP_PASSWORD/***}"

# Only the synchronous standby may be promoted: killing the primary before there is one would
# (rightly) leave the cluster without a primary.
wait_for 90 "a synchronous standby" is 1 /sync
log "Patroni: ${NAMES[1]} synchronous standby ($(since "$T0") s after the start)"

# --- 6. load, kill, fail-over --------------------------------------------------------------
RUN_ID=$(date +%s)
NODES_CSV=$(IFS=,; echo "${NODES[*]}")
python3 "$HERE/load.py" --nodes "$NODES_CSV" --token "$TOKEN" --out "$W/load" \
  --workers-per-node "$WORKERS" --timeout "$CLIENT_TIMEOUT" --run-id "$RUN_ID" --max-seconds $((WARMUP + DEADLINE + TAIL + 60)) \
  >"$W/logs/load.log" 2>&1 &
LOAD_PID=$!; PIDS+=($!)
log "write load: ${#NODES[@]} nodes x $WORKERS writers of POST /admin/users; kill in ${WARMUP}s"
sleep "$WARMUP"

OLD=$(primary_index) || die "no primary before the kill"
NEW=$((1 - OLD))
is $NEW /sync || die "${NAMES[$NEW]} is not the synchronous standby at the kill"
PM=$(postmaster_of "$OLD") || die "no postmaster for ${NAMES[$OLD]}"
VICTIMS=("$PM" $(pgrep -P "$PM" || true))
[ "$KILL_MODE" = node ] && VICTIMS=("${PATRONI_PID[$OLD]}" "${VICTIMS[@]}")
T_KILL=$(now)
echo "$T_KILL" >"$W/load/kill_time.tmp" && mv "$W/load/kill_time.tmp" "$W/load/kill_time"
kill -KILL "${VICTIMS[@]}" 2>/dev/null || true
log "kill -9 ${NAMES[$OLD]} ($KILL_MODE): pids ${VICTIMS[*]}"

T_END=$(echo "$T_KILL + $DEADLINE" | bc)
late() { (( $(echo "$(now) > $T_END" | bc) )); }
PROMOTED="" REJOINED="" RECOVERED=""
# A node accepts writes when PostgreSQL itself says it is out of recovery.
writable() { [ "$(PGCONNECT_TIMEOUT=1 psql_at "$1" postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; }
writable_index() { local i; for i in 0 1; do writable $i && { echo $i; return 0; }; done; return 1; }
if [ "$KILL_MODE" = node ]; then
  until writable $NEW || late; do sleep 0.1; done
  writable $NEW && PROMOTED=$(since "$T_KILL")
  log "${NAMES[$NEW]} promoted, accepts writes after ${PROMOTED:-never} s; restarting ${NAMES[$OLD]} (its supervisor would)"
  start_patroni "$OLD"
else
  until writable_index >/dev/null || late; do sleep 0.1; done
  NEW=$(writable_index) && PROMOTED=$(since "$T_KILL") || NEW=$OLD
  log "${NAMES[$NEW]} accepts writes after ${PROMOTED:-never} s"
fi
until [ -f "$W/load/recovered" ] || late; do sleep 0.1; done
[ -f "$W/load/recovered" ] && RECOVERED=$(since "$T_KILL")
log "every Portcullis node wrote again after ${RECOVERED:-never (deadline ${DEADLINE}s)} s"
sleep "$TAIL"
touch "$W/load/stop"
wait "$LOAD_PID" || true
LOAD_PID=""

OTHER=$((1 - NEW))
until is "$OTHER" /sync || late; do sleep 0.2; done
is "$OTHER" /sync && REJOINED=$(since "$T_KILL")
log "Patroni: ${NAMES[$OTHER]} synchronous standby again after ${REJOINED:-never} s"

# --- 7. verification ----------------------------------------------------------------------
PRIMARY=$(primary_index) || die "no primary at verification"
python3 - "$W/load" <<'EOF'
import sys, os
out = sys.argv[1]
def values(path, col):
    rows = [l.rstrip("\n").split("\t")[col] for l in open(path) if l.strip()]
    rows = [r.replace("'", "''") for r in rows]
    return ",".join(f"('{r}')" for r in rows) or "(NULL)"
acked = values(os.path.join(out, "acked.tsv"), 0)
unacked = ",".join(
    "('{}','{}')".format(*(c.replace("'", "''") for c in l.rstrip("\n").split("\t")[:2]))
    for l in open(os.path.join(out, "unacked.tsv")) if l.strip()) or "(NULL,NULL)"
with open(os.path.join(out, "verify.sql"), "w") as f:
    f.write(f"WITH acked(id) AS (VALUES {acked}) SELECT count(id), count(id) FILTER "
            f"(WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = acked.id)) FROM acked;\n")
    f.write(f"WITH unacked(email, status) AS (VALUES {unacked}) SELECT count(*) || ' ' || "
            f"coalesce(string_agg(status, ',' ORDER BY status), '') FROM users u "
            f"JOIN unacked ON u.email = unacked.email;\n")
EOF
mapfile -t V < <(psql_at "$PRIMARY" portcullis -F' ' -f "$W/load/verify.sql")
read -r ACKED MISSING <<<"${V[0]}"
read -r UNACKED_PRESENT UNACKED_STATUSES <<<"${V[1]}"
# The standby applies WAL asynchronously even when it is synchronous (commit waits for flush):
# give it a moment.
STANDBY_MISSING="n/a"
if is "$OTHER" /sync; then
  for _ in $(seq 1 25); do
    mapfile -t S < <(psql_at "$OTHER" portcullis -F' ' -f "$W/load/verify.sql" 2>/dev/null || true)
    STANDBY_MISSING=$(awk '{print $2}' <<<"${S[0]:-}")
    [ "$STANDBY_MISSING" = 0 ] && break
    sleep 0.2
  done
fi
READY=()
for i in 0 1; do READY+=("$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "${NODES[$i]}/readyz")"); done
ERRS=()
for i in 1 2; do
  ERRS+=("node $i: $(grep -c -E ' (ERROR|WARN) ' "$W/logs/portcullis-$i.log" || true) ERROR/WARN lines")
done

# --- 8. summary ----------------------------------------------------------------------------
cp "$W/load/summary.json" "$W/summary-load.json"
python3 - "$W/load/summary.json" <<EOF
import json, sys
s = json.load(open(sys.argv[1]))
def g(k, d="n/a"):
    v = s.get(k)
    return d if v is None else v
print()
print("================ fail-over drill summary ================")
print(f"setup                 synchronous_mode_strict=$STRICT, kill=$KILL_MODE, ttl=$TTL loop_wait=$LOOP_WAIT retry_timeout=$RETRY_TIMEOUT")
print(f"killed                ${NAMES[$OLD]} (primary) after ${WARMUP}s of load")
print(f"primary writable      ${NAMES[$NEW]} after ${PROMOTED:-never} s (psql: pg_is_in_recovery() = f)")
print(f"fail-over (clients)   first 2xx sent after the kill: {g('failover_s')} s; per node: {g('failover_per_node_s')}")
print(f"write gap             last 2xx before -> first 2xx after the kill: {g('write_gap_s')} s")
print(f"requests              {s['requests']} in {s['duration_s']} s, {s['acknowledged']} acknowledged, {s['failed']} failed {s['failed_by_status']}")
print(f"during fail-over      {g('failed_during_failover')} failed {g('failed_during_failover_by_status')}; latency of failures {g('failed_latency_s')}")
print(f"after recovery        {g('failed_after_recovery')} failed; requests over 5 s: {g('requests_over_5s')}")
print(f"before the kill       {g('writes_per_s_before_kill')} writes/s, latency {g('latency_before_kill_ms')} ms")
print("failed requests (times relative to the kill):")
for line in s.get("failures", []):
    print("  " + line)
print(f"rejoin                ${NAMES[$OTHER]} synchronous standby again after ${REJOINED:-never} s")
print(f"verification          acknowledged $ACKED, missing on primary ${NAMES[$PRIMARY]}: $MISSING, missing on standby: $STANDBY_MISSING")
print(f"                      unacknowledged (failed/timed out) writes that did commit: $UNACKED_PRESENT ${UNACKED_STATUSES:+(statuses: $UNACKED_STATUSES)}")
print(f"readyz after          node 1: ${READY[0]}, node 2: ${READY[1]}")
print(f"portcullis logs       ${ERRS[0]}; ${ERRS[1]}")
EOF

FAIL=()
[ "$MISSING" = 0 ] || FAIL+=("$MISSING acknowledged writes missing on the primary")
[ "$STANDBY_MISSING" = 0 ] || [ "$STANDBY_MISSING" = n/a ] || FAIL+=("$STANDBY_MISSING acknowledged writes missing on the standby")
[ -n "$RECOVERED" ] || FAIL+=("the Portcullis nodes did not all write again within ${DEADLINE}s")
[ -n "$REJOINED" ] || FAIL+=("no synchronous standby within ${DEADLINE}s of the kill")
[ "${READY[*]}" = "200 200" ] || FAIL+=("/readyz after the drill: ${READY[*]}")
[ "${ACKED:-0}" -gt 0 ] || FAIL+=("no write was acknowledged")
if [ ${#FAIL[@]} -gt 0 ]; then
  for f in "${FAIL[@]}"; do log "FAILED: $f"; done
  exit 1
fi
RESULT=0
log "PASSED"
