#!/usr/bin/env bash
# Local development (`make dev`): the Dagster UI on http://127.0.0.1:3000 and dagster-daemon, on a
# SQLite instance under .dagster_home/ (deploy/dagster.dev.yaml), loading the code location straight
# from polymarket_assets.definitions (workspace.local.yaml).
#
#   make dev                 against real Polymarket (the PM_*_URL defaults of the code)
#   PM_SOURCE=sim make dev   against a local polymarket_sim, with its own DAGSTER_HOME and data
#                            directory, so simulated markets never mix with recorded ones;
#                            PM_SIM_ARGS passes flags to it, e.g. PM_SIM_ARGS="--markets 50 --speed 60"
#
# Overrides: DAGSTER_WEBSERVER_PORT (3000), PM_DEV_HOME (the DAGSTER_HOME to use), PM_DATA_DIR,
# PM_WS_SIDECAR=0 (do not start the websocket sidecar). Ctrl-C stops every child process.
set -euo pipefail
# Job control: every child gets its own process group, so shutdown can reach what each one spawned
# (the webserver and daemon start code servers of their own).
set -m

cd "$(dirname "$0")/.."
repo=$PWD
PY=${PY:-$repo/.venv/bin/python}
bin=$(dirname "$PY")
port=${DAGSTER_WEBSERVER_PORT:-3000}
source=${PM_SOURCE:-real}

log() { printf '[dev] %s\n' "$*" >&2; }

case "$source" in
  real) home_default=.dagster_home; data_default=data ;;
  sim) home_default=.dagster_home/sim; data_default=data/sim ;;
  *) log "PM_SOURCE must be 'real' or 'sim', not '$source'"; exit 2 ;;
esac

export DAGSTER_HOME=${PM_DEV_HOME:-$repo/$home_default}
export PM_DATA_DIR=${PM_DATA_DIR:-$repo/$data_default}
mkdir -p "$DAGSTER_HOME" "$PM_DATA_DIR"
# The configuration contract (README): real Polymarket and the system clock unless told otherwise.
export PM_GAMMA_URL=${PM_GAMMA_URL:-https://gamma-api.polymarket.com}
export PM_CLOB_URL=${PM_CLOB_URL:-https://clob.polymarket.com}
export PM_DATA_API_URL=${PM_DATA_API_URL:-https://data-api.polymarket.com}
export PM_WS_URL=${PM_WS_URL:-wss://ws-subscriptions-clob.polymarket.com/ws/market}
export PM_CLOCK=${PM_CLOCK:-system}
export PM_SIM_CONTROL_URL=${PM_SIM_CONTROL_URL:-}
# The instance config in git is the source of truth; a hand-edited copy is replaced.
cp deploy/dagster.dev.yaml "$DAGSTER_HOME/dagster.yaml"

pids=()
sim_out=""

start() {
  local name=$1
  shift
  "$@" &
  pids+=("$!")
  log "started $name (pid $!)"
}

stopped=0
stop_all() {
  ((stopped)) && return
  stopped=1
  log "stopping"
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  # Whatever has not exited 20 s after SIGTERM is killed.
  (
    sleep 20
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  ) &
  local reaper=$!
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  kill -- "-$reaper" 2>/dev/null || true
  # Grandchildren still in a child's group once that child has gone (e.g. an orphaned code server).
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  [[ -n $sim_out ]] && rm -f "$sim_out"
  return 0
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

if [[ $source == sim ]]; then
  sim_out=$(mktemp)
  # shellcheck disable=SC2086  # PM_SIM_ARGS is a list of flags
  start polymarket_sim "$PY" -m polymarket_sim --host 127.0.0.1 --port 0 ${PM_SIM_ARGS:-} >"$sim_out"
  sim_pid=${pids[-1]}
  for _ in $(seq 1 300); do
    [[ -s $sim_out ]] && break
    kill -0 "$sim_pid" 2>/dev/null || { log "polymarket_sim exited before printing its URLs"; exit 1; }
    sleep 0.1
  done
  [[ -s $sim_out ]] || { log "polymarket_sim printed no URLs within 30 s"; exit 1; }
  # The simulator prints one JSON line of URLs; export exactly the keys we know.
  exports=$("$PY" - "$sim_out" <<'EOF'
import json, shlex, sys
with open(sys.argv[1]) as f:
    urls = json.loads(f.readline())
for key in ("PM_GAMMA_URL", "PM_CLOB_URL", "PM_DATA_API_URL", "PM_WS_URL", "PM_SIM_CONTROL_URL"):
    print(f"export {key}={shlex.quote(urls[key])}")
EOF
)
  eval "$exports"
  # Runs and the recorder take "now" from the simulator, so exchange and receive times agree.
  export PM_CLOCK=sim
  log "polymarket_sim: gamma $PM_GAMMA_URL, control $PM_SIM_CONTROL_URL"
fi

log "DAGSTER_HOME=$DAGSTER_HOME PM_DATA_DIR=$PM_DATA_DIR source=$source"
# Create (or, after a Dagster upgrade, migrate) the SQLite storage once, before two processes race to
# create the same files.
"$bin/dagster" instance migrate >/dev/null
start dagster-daemon "$bin/dagster-daemon" run -w workspace.local.yaml
start dagster-webserver "$bin/dagster-webserver" -h 127.0.0.1 -p "$port" -w workspace.local.yaml

# ---- ws_sidecar ----------------------------------------------------------------------------------
# The websocket recorder (DESIGN.md, "Websocket sidecar") runs beside the daemon with the same
# PM_WS_URL, PM_CLOB_URL and PM_DATA_DIR, writing closed files to $PM_DATA_DIR/incoming for the sensor.
# docker-compose.yml runs it the same way (`python -m ws_sidecar`).
if [[ ${PM_WS_SIDECAR:-1} == 1 && -f ws_sidecar/__main__.py ]]; then
  start ws_sidecar "$PY" -m ws_sidecar
else
  log "ws_sidecar not started (PM_WS_SIDECAR=${PM_WS_SIDECAR:-1}; ws_sidecar/__main__.py present: $([[ -f ws_sidecar/__main__.py ]] && echo yes || echo no))"
fi
# ---------------------------------------------------------------------------------------------------

log "UI: http://127.0.0.1:$port (Ctrl-C stops everything)"
# Any child exiting ends the session: a half-running stack would look healthy in the UI but record nothing.
status=0
wait -n || status=$?
log "a child process exited (status $status); shutting down the rest"
exit "$status"
