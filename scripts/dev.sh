#!/usr/bin/env bash
# Local development (`make dev`, `make dev-sim`): the Dagster UI on http://127.0.0.1:3000, dagster-daemon
# and the websocket recorder, on a SQLite instance under .dagster_home/ (deploy/dagster.dev.yaml), loading
# the code location straight from polymarket_assets.definitions (workspace.local.yaml). Nothing needs
# switching on: discovery, the tier schedules, ingestion and the warehouse start by themselves.
#
#   make dev                 against real Polymarket. Settings come from the environment, then ./.env
#                            (which wins, as in Dagster's own CLIs), then the defaults in code
#                            (polymarket_assets/lib/settings.py). Refuses to start, within seconds, when the
#                            APIs cannot be reached.
#   PM_SOURCE=sim make dev   against a local polymarket_sim, with its own DAGSTER_HOME and data directory,
#                            so simulated markets never mix with recorded ones. ./.env is ignored: the
#                            simulator's URLs always win. PM_SIM_ARGS passes flags to it, e.g.
#                            PM_SIM_ARGS="--markets 50 --faults light"
#
# Overrides: DAGSTER_WEBSERVER_PORT (3000), PM_DEV_HOME (the DAGSTER_HOME to use), PM_DATA_DIR,
# PM_WS_SIDECAR=0 (do not start the websocket sidecar). Ctrl-C, SIGTERM or SIGHUP stops every process
# this script started, including what those started (code servers, run workers).
set -euo pipefail
# Job control: every child gets its own process group, so shutdown can reach what each one spawned
# (the webserver and daemon start code servers of their own).
set -m

cd "$(dirname "$0")/.."
repo=$PWD
PY=${PY:-$repo/.venv/bin/python}
bin=$(dirname "$PY")
source=${PM_SOURCE:-real}

log() { printf '[dev] %s\n' "$*" >&2; }

case "$source" in
  real) home_default=.dagster_home; data_default=data ;;
  sim) home_default=.dagster_home/sim; data_default=data/sim ;;
  *) log "PM_SOURCE must be 'real' or 'sim', not '$source'"; exit 2 ;;
esac

# This checkout's code, whatever the working directory of the processes below.
export PYTHONPATH=$repo${PYTHONPATH:+:$PYTHONPATH}
shell_data_dir=${PM_DATA_DIR:-}
if [[ $source == real ]]; then
  dotenv_note="settings from the environment, then $repo/.env (if present), then the defaults in code"
  eval "$("$PY" -m polymarket_assets.lib.settings --export --dotenv "$repo/.env")"
  log "checking that Polymarket answers ($PM_GAMMA_URL, $PM_CLOB_URL, $PM_DATA_API_URL)"
  if ! "$PY" -m polymarket_assets.lib.settings --check; then
    log "cannot reach Polymarket: offline, or a wrong URL in the environment or .env?"
    log "nothing was started. To record a local simulator instead: make dev-sim"
    exit 1
  fi
else
  dotenv_note="sim mode: .env ignored, the simulator's URLs always win"
  eval "$("$PY" -m polymarket_assets.lib.settings --export)"
fi

port=${DAGSTER_WEBSERVER_PORT:-3000}
export DAGSTER_HOME=${PM_DEV_HOME:-$repo/$home_default}
# Real: the environment, .env or the default (data). Sim: the environment or data/sim, never .env.
if [[ $source == real ]]; then data_dir=$PM_DATA_DIR; else data_dir=${shell_data_dir:-$data_default}; fi
case "$data_dir" in
  /* | s3://*) ;;
  *) data_dir=$repo/$data_dir ;;
esac
export PM_DATA_DIR=$data_dir
mkdir -p "$DAGSTER_HOME"
[[ $PM_DATA_DIR == s3://* ]] || mkdir -p "$PM_DATA_DIR"
# The instance config in git is the source of truth; a hand-edited copy is replaced.
cp deploy/dagster.dev.yaml "$DAGSTER_HOME/dagster.yaml"

pids=()
sim_out=""

start() {
  local name=$1
  shift
  # Dagster's CLIs load ./.env over the environment: they run in DAGSTER_HOME, which holds none, so the
  # settings exported above are exactly what they see.
  (cd "$DAGSTER_HOME" && exec "$@") &
  pids+=("$!")
  log "started $name (pid $!)"
}

# Every process below this script, however deep: code servers and run workers included.
descendants() {
  local -a queue=("$$") found=()
  local parent child
  while ((${#queue[@]})); do
    parent=${queue[0]}
    queue=("${queue[@]:1}")
    for child in $(ps -o pid= --ppid "$parent" 2>/dev/null); do
      found+=("$child")
      queue+=("$child")
    done
  done
  echo "${found[@]:-}"
}

stopped=0
stop_all() {
  ((stopped)) && return
  stopped=1
  log "stopping"
  local pid tree
  tree=$(descendants)
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  # Whatever has not exited 20 s after SIGTERM is killed.
  (
    sleep 20
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  ) &
  local reaper=$!
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  kill -- "-$reaper" 2>/dev/null || true
  # Grandchildren still in a child's group once that child has gone (e.g. an orphaned code server), and
  # anything that left its group: every process that was below this script when the stop began.
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for pid in $tree; do [[ $pid != "$reaper" ]] && kill -KILL "$pid" 2>/dev/null || true; done
  [[ -n $sim_out ]] && rm -f "$sim_out"
  log "stopped"
  return 0
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all; exit 129' HUP
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
fi

cat >&2 <<EOF
[dev] ---------------------------------------------------------------------------------------------
[dev] source        $source ($dotenv_note)
[dev] gamma         $PM_GAMMA_URL
[dev] clob          $PM_CLOB_URL
[dev] data api      $PM_DATA_API_URL
[dev] websocket     $PM_WS_URL
[dev] clock         $PM_CLOCK${PM_SIM_CONTROL_URL:+ ($PM_SIM_CONTROL_URL)}
[dev] data dir      $PM_DATA_DIR
[dev] DAGSTER_HOME  $DAGSTER_HOME
[dev] UI            http://127.0.0.1:$port
[dev] ---------------------------------------------------------------------------------------------
EOF
# Create (or, after a Dagster upgrade, migrate) the SQLite storage once, before two processes race to
# create the same files.
(cd "$DAGSTER_HOME" && "$bin/dagster" instance migrate >/dev/null)
start dagster-daemon "$bin/dagster-daemon" run -w "$repo/workspace.local.yaml"
start dagster-webserver "$bin/dagster-webserver" -h 127.0.0.1 -p "$port" -w "$repo/workspace.local.yaml"

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
# Polled once a second rather than with `wait -n`: after some minutes `wait -n` stopped returning for Ctrl-C, so
# the INT trap never ran and the stack went on running (seen by the soak at 5, 10 and 30 minutes). A short
# `wait` on a sleep returns for every trapped signal.
status=0
while :; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" || status=$?
      log "a child process exited (status $status); shutting down the rest"
      exit "$status"
    fi
  done
  sleep 1 &
  wait "$!" || true
done
