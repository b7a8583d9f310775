#!/usr/bin/env bash
# infra/infra.sh: install, start, check and stop wapi's local loopback-only servers:
#   Redis (redis-server), PostgreSQL (a private cluster for FerretDB), FerretDB (MongoDB wire
#   protocol on that PostgreSQL), moto (AWS API mock).
# It is idempotent and safe to call from several processes at once. See infra/README.md.
# The bash -c '...' snippets use their own positional parameters on purpose:
# shellcheck disable=SC2016
set -euo pipefail

INFRA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd "$INFRA_DIR/.." && pwd -P)
PROG="infra/infra.sh"

FERRETDB_VERSION=v1.24.2
FERRETDB_MODULE=github.com/FerretDB/FerretDB
MOTO_VERSION=5.2.5
PG_MIN_MAJOR=13 # FerretDB v1.24 needs PostgreSQL 13+; Debian 12 ships 15
PG_DB=ferretdb  # the PostgreSQL database FerretDB keeps all MongoDB databases in
PG_USER=postgres

CACHE=${WAPI_CACHE_DIR:-$HOME/.cache/wapi}
STATE=${WAPI_INFRA_DIR:-$REPO_ROOT/.infra}
case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac
case $CACHE in /*) ;; *) CACHE=$PWD/$CACHE ;; esac
[[ -d $STATE ]] && STATE=$(cd "$STATE" && pwd -P)

FERRETDB_BIN=$CACHE/bin/ferretdb
# what we build: the release plus our fix (ferretdb_patch_source); a change here forces a rebuild
FERRETDB_BUILD_ID="$FERRETDB_VERSION+wapi.2"
MOTO_VENV=$CACHE/moto-venv

START_TIMEOUT=${WAPI_INFRA_START_TIMEOUT:-30} # seconds per server to start answering
STOP_TIMEOUT=${WAPI_INFRA_STOP_TIMEOUT:-10}   # seconds after SIGTERM before SIGKILL
LOCK_TIMEOUT=${WAPI_INFRA_LOCK_TIMEOUT:-1800} # seconds to wait for another infra.sh
# Start order; stop runs it backwards. FerretDB needs PostgreSQL, so postgres comes first.
ALL_COMPONENTS=(redis postgres ferretdb moto)

# File descriptors used for flock: 9 = state dir lock, 8 = install (cache) lock.
# Every long-lived or external child gets them closed (8>&- 9>&-), otherwise a
# server would inherit the lock and keep it held for its whole life.

# ----------------------------------------------------------------------------- output

log() { printf '[infra] %s\n' "$*" >&2; }
die() { # first argument: the error; further arguments: follow-up lines (what to do next)
  printf '[infra] ERROR: %s\n' "$1" >&2
  shift
  local msg
  for msg in "$@"; do printf '[infra]        %s\n' "$msg" >&2; done
  exit 1
}
tail_log() { # file [n]
  local file=$1 n=${2:-20}
  if [[ -s $file ]]; then
    log "last $n lines of $file:"
    tail -n "$n" "$file" | sed 's/^/    | /' >&2
  else
    log "($file is empty or missing)"
  fi
}

usage() {
  cat <<EOF
Usage: $PROG <command> [component...]

Commands:
  install   install what is missing (redis-server and postgresql via apt, FerretDB $FERRETDB_VERSION via Go, moto $MOTO_VERSION in a venv)
  start     install if needed, then start each server unless it is already running from this state dir
  status    show each server (pid, port, answering?); exit 0 only if all selected servers answer
  stop      stop the servers started from this state dir (and only those)
  restart   stop, then start
  env       print the env file (KEY=VALUE lines); exit non-zero unless all servers are running

Components (default: all): redis, postgres (alias pg), ferretdb (alias mongo), moto (alias aws)
  ferretdb always brings postgres along; stopping postgres also stops ferretdb.

Environment:
  WAPI_REDIS_PORT (16379)  WAPI_POSTGRES_PORT (15432)  WAPI_MONGO_PORT (27117)  WAPI_MOTO_PORT (15050)
  WAPI_PG_BINDIR   PostgreSQL server binaries (default: newest /usr/lib/postgresql/*/bin)
  WAPI_INFRA_DIR   state dir     (now: $STATE)
  WAPI_CACHE_DIR   install cache (now: $CACHE)
  WAPI_PYTHON      python3 used for probes and the moto venv (default: python3)
  WAPI_INFRA_START_TIMEOUT (30)  WAPI_INFRA_STOP_TIMEOUT (10)  WAPI_INFRA_LOCK_TIMEOUT (1800)
EOF
}

# ----------------------------------------------------------------------------- helpers

label() {
  case $1 in redis) echo Redis ;; postgres) echo PostgreSQL ;; ferretdb) echo FerretDB ;; moto) echo moto ;; esac
}
port_var() {
  case $1 in redis) echo WAPI_REDIS_PORT ;; postgres) echo WAPI_POSTGRES_PORT ;; ferretdb) echo WAPI_MONGO_PORT ;; moto) echo WAPI_MOTO_PORT ;; esac
}
default_port() {
  case $1 in redis) echo 16379 ;; postgres) echo 15432 ;; ferretdb) echo 27117 ;; moto) echo 15050 ;; esac
}
# a string that must appear in /proc/PID/cmdline of our process.
# FerretDB matches any --handler so that 'stop' also stops one started by the older,
# SQLite-backed version of this script; 'start' then replaces it (see start_component).
cmd_match() {
  case $1 in
    redis) echo "redis-server" ;;
    postgres) echo "bin/postgres -D $(pg_data_dir)" ;;
    ferretdb) echo "ferretdb --handler=" ;;
    moto) echo "moto_server -H 127.0.0.1" ;;
  esac
}
# working directory of our process (used to prove it was started from THIS state dir)
comp_cwd() { if [[ $1 == postgres ]]; then pg_data_dir; else echo "$STATE/data/$1"; fi; }  # postgres chdirs into its data dir
pid_file() { echo "$STATE/run/$1.pid"; }
port_file() { echo "$STATE/run/$1.port"; }
log_file() { echo "$STATE/logs/$1.log"; }
url_for() { # component port
  case $1 in
    redis) echo "redis://127.0.0.1:$2" ;;
    postgres) echo "postgres://$PG_USER@127.0.0.1:$2/$PG_DB" ;;
    ferretdb) echo "mongodb://127.0.0.1:$2/" ;;
    moto) echo "http://127.0.0.1:$2" ;;
  esac
}

requested_port() {
  local var p
  var=$(port_var "$1")
  p=${!var:-$(default_port "$1")}
  if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1024 || p > 65535)); then
    die "$var=$p is not a valid port (use a number between 1024 and 65535)."
  fi
  echo "$p"
}

parse_components() { # command component... -> sets COMPONENTS (in ALL_COMPONENTS order)
  local cmd=$1 a c
  shift
  COMPONENTS=()
  if (($# == 0)); then
    COMPONENTS=("${ALL_COMPONENTS[@]}")
    return
  fi
  local -A want=()
  for a in "$@"; do
    case $a in
      redis) want[redis]=1 ;;
      postgres | postgresql | pg) want[postgres]=1 ;;
      ferretdb | ferret | mongo | mongodb) want[ferretdb]=1 ;;
      moto | aws) want[moto]=1 ;;
      *) die "unknown component '$a' (use: redis, postgres, ferretdb, moto; or nothing for all of them)." ;;
    esac
  done
  # FerretDB cannot run without its PostgreSQL; and stopping PostgreSQL under a running
  # FerretDB would leave a server that answers 'hello' but fails every query.
  if [[ -n ${want[ferretdb]:-} && $cmd != stop ]]; then want[postgres]=1; fi
  if [[ -n ${want[postgres]:-} && ($cmd == stop || $cmd == restart) ]]; then want[ferretdb]=1; fi
  for c in "${ALL_COMPONENTS[@]}"; do
    [[ -n ${want[$c]:-} ]] && COMPONENTS+=("$c")
  done
  return 0
}

PY=""
resolve_python() { # sets PY to an absolute interpreter path (avoids pyenv shim cost per probe)
  [[ -n $PY ]] && return 0
  local cand=${WAPI_PYTHON:-python3}
  if ! command -v "$cand" >/dev/null 2>&1; then
    die "'$cand' not found. Install Python 3.8+ (Debian: apt-get install -y python3 python3-venv) or set WAPI_PYTHON=/path/to/python3."
  fi
  if ! PY=$("$cand" -c 'import sys; assert sys.version_info >= (3, 8); print(sys.executable)' 2>/dev/null) || [[ -z $PY ]]; then
    die "'$cand' does not work or is older than Python 3.8. Install Python 3.8+ or set WAPI_PYTHON=/path/to/python3."
  fi
}
probe() { "$PY" "$INFRA_DIR/probe.py" "$@"; }

# alive and not a zombie (PID 1 in containers does not always reap)
is_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != [ZX] ]]
}

# PID is alive and is our server for component (cmdline + cwd inside this state dir)
is_ours() { # component pid
  local c=$1 pid=$2 cmdline cwd
  is_alive "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$(cmd_match "$c")"* ]] || return 1
  if cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null); then
    [[ $cwd == "$(comp_cwd "$c")" ]] || return 1
  fi
  return 0
}

# A pid our launcher wrote moments ago: alive, leader of its own session (setsid) and
# running in our working directory. Used only to clean up after a failed start, when
# the program may not have got as far as looking like the expected server.
is_just_launched() { # component pid
  local c=$1 pid=$2 stat cwd
  is_alive "$pid" || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  read -r _ _ _ sid _ <<<"$stat"
  [[ $sid == "$pid" ]] || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $cwd == "$(comp_cwd "$c")" ]]
}

# prints the pid of our running server for component, or fails
running_pid() {
  local pf pid
  pf=$(pid_file "$1")
  [[ -f $pf ]] || return 1
  pid=$(cat "$pf" 2>/dev/null) || return 1
  is_ours "$1" "$pid" || return 1
  echo "$pid"
}
recorded_port() {
  local p
  p=$(cat "$(port_file "$1")" 2>/dev/null) || return 1
  [[ $p =~ ^[0-9]+$ ]] || return 1
  echo "$p"
}

answers() { # component port
  case $1 in
    redis) [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$2" ping 2>/dev/null) == PONG ]] ;;
    postgres) probe postgres "$2" >/dev/null 2>&1 ;;
    ferretdb) probe mongo-backend "$2" >/dev/null 2>&1 ;;
    moto) probe http "$2" >/dev/null 2>&1 ;;
  esac
}

# acquire_lock fd file what
acquire_lock() {
  local fd=$1 file=$2 what=$3 t0=$SECONDS
  if ! command -v flock >/dev/null 2>&1; then
    die "flock not found (package util-linux). Install it: apt-get install -y util-linux"
  fi
  eval "exec $fd>>\"\$file\""
  if flock -n "$fd"; then return 0; fi
  log "another $PROG is $what right now (lock $file); waiting for it to finish..."
  until flock -w 10 "$fd"; do
    if ((SECONDS - t0 >= LOCK_TIMEOUT)); then
      die "gave up after $((SECONDS - t0)) s waiting for $file." \
        "Find the holder with: fuser -v '$file'  (or ps aux | grep infra.sh). If it is stuck, stop that process and re-run."
    fi
    log "  still waiting for the other $PROG ($((SECONDS - t0)) s elapsed)"
  done
  log "lock acquired after $((SECONDS - t0)) s"
}
release_lock() { eval "exec $1>&-"; }

# run_with_progress "description" logfile cmd...: runs cmd with output to logfile,
# printing a progress line every 10 s; on failure prints the log tail and returns non-zero.
run_with_progress() {
  local desc=$1 logf=$2 t0=$SECONDS next=10 pid rc
  shift 2
  mkdir -p "$(dirname "$logf")"
  log "$desc (log: $logf)"
  "$@" >"$logf" 2>&1 </dev/null 8>&- 9>&- &
  pid=$!
  while is_alive "$pid"; do
    sleep 1
    if ((SECONDS - t0 >= next)); then
      log "  ... still running: $desc ($((SECONDS - t0)) s elapsed)"
      next=$((next + 10))
    fi
  done
  if wait "$pid"; then rc=0; else rc=$?; fi
  if ((rc != 0)); then
    log "FAILED after $((SECONDS - t0)) s (exit code $rc): $desc"
    tail_log "$logf" 20
    return "$rc"
  fi
  log "  done in $((SECONDS - t0)) s"
}

# ----------------------------------------------------------------------------- install

AS_ROOT=()
need_root_for() { # what package
  AS_ROOT=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
      AS_ROOT=(sudo)
    else
      die "$1 needs root and sudo is not available. Run as root: apt-get install -y $2, then re-run $PROG."
    fi
  fi
}

# apt_install label package check-function: installs a Debian package unless check-function passes
apt_install() {
  local lbl=$1 pkg=$2 check=$3 ilog=$CACHE/logs/apt-$2.log candidate
  command -v apt-get >/dev/null 2>&1 ||
    die "$lbl is not installed and apt-get is not available." \
      "Install the $pkg package (or its equivalent) yourself, then re-run '$PROG install'."
  need_root_for "installing $pkg" "$pkg"
  candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [[ -z $candidate || $candidate == "(none)" ]]; then
    run_with_progress "$lbl: apt package lists have no $pkg; running apt-get update" "$CACHE/logs/apt-update.log" \
      "${AS_ROOT[@]}" apt-get update ||
      die "apt-get update failed (see above). Check network/apt sources, then re-run '$PROG install'."
  fi
  if ! run_with_progress "$lbl: apt-get install -y $pkg" "$ilog" \
    "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg"; then
    log "$lbl: install failed; refreshing package lists (apt-get update) and retrying once"
    if ! run_with_progress "$lbl: apt-get update" "$CACHE/logs/apt-update.log" "${AS_ROOT[@]}" apt-get update ||
      ! run_with_progress "$lbl: apt-get install -y $pkg (retry)" "$ilog" \
        "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg"; then
      die "could not install $pkg (see $ilog)." "Fix apt (or install $pkg yourself), then re-run '$PROG install'."
    fi
  fi
  "$check" || die "apt-get reported success but $lbl is still not usable; check $ilog."
}

redis_installed() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }

install_redis() {
  if redis_installed; then
    log "Redis: already installed ($(redis-server --version 2>/dev/null | awk '{print $3}'), $(command -v redis-server))"
    return 0
  fi
  apt_install Redis redis-server redis_installed
  log "Redis: installed $(redis-server --version | awk '{print $3}'). (The Debian package may also run a system redis on port 6379; $PROG never uses or touches it.)"
}

# PG_BIN: the directory with initdb/postgres/psql, $WAPI_PG_BINDIR or the newest Debian one
PG_BIN=""
find_pg_bindir() {
  local d major best="" best_major=0
  if [[ -n ${WAPI_PG_BINDIR:-} ]]; then
    [[ -x $WAPI_PG_BINDIR/postgres && -x $WAPI_PG_BINDIR/initdb && -x $WAPI_PG_BINDIR/psql ]] || return 1
    PG_BIN=$WAPI_PG_BINDIR
    return 0
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/postgres && -x $d/initdb && -x $d/psql ]] || continue
    major=${d#/usr/lib/postgresql/}
    major=${major%%/*}
    [[ $major =~ ^[0-9]+$ ]] && ((major > best_major)) && best=$d best_major=$major
  done
  [[ -n $best ]] && ((best_major >= PG_MIN_MAJOR)) || return 1
  PG_BIN=$best
}
pg_major() { "$PG_BIN/postgres" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/'; }
# As root, the cluster belongs to the postgres OS user (the server refuses to run as root).
# setpriv execs in place (runuser/su fork), so the pid we record is the postmaster's own.
PG_AS=()
pg_as() {
  PG_AS=()
  ((EUID == 0)) || return 0
  id -u "$PG_USER" >/dev/null 2>&1 ||
    die "running as root, but there is no '$PG_USER' OS user to own the PostgreSQL cluster." \
      "Reinstall the postgresql package (apt-get install --reinstall -y postgresql-common) or run $PROG as a normal user."
  command -v setpriv >/dev/null 2>&1 || die "setpriv not found (package util-linux). Install it: apt-get install -y util-linux"
  PG_AS=(setpriv "--reuid=$PG_USER" "--regid=$PG_USER" --init-groups --)
}
postgres_installed() { find_pg_bindir && { ((EUID != 0)) || id -u "$PG_USER" >/dev/null 2>&1; }; }

install_postgres() {
  if postgres_installed; then
    log "PostgreSQL: already installed ($("$PG_BIN/postgres" --version 2>/dev/null), $PG_BIN)"
    return 0
  fi
  if [[ -n ${WAPI_PG_BINDIR:-} ]]; then
    die "WAPI_PG_BINDIR=$WAPI_PG_BINDIR does not hold postgres, initdb and psql." \
      "Point it at a PostgreSQL $PG_MIN_MAJOR+ bin directory, or unset it to use Debian's postgresql package."
  fi
  apt_install PostgreSQL postgresql postgres_installed
  log "PostgreSQL: installed $("$PG_BIN/postgres" --version). (The Debian package may also run a system cluster on port 5432; $PROG never uses or touches it.)"
}

ferretdb_installed() {
  ferretdb_reports_version "$FERRETDB_BIN" && [[ $(cat "$FERRETDB_BIN.build-id" 2>/dev/null) == "$FERRETDB_BUILD_ID" ]]
}

# FerretDB v1.24.2 on PostgreSQL can hang for good: an `update` (and `findAndModify`) keeps its
# query open (one of the 50 pool connections) while it writes through another connection, and
# `update` keeps every statement's query open until the whole command ends (a `defer` in a loop).
# So a bulkWrite of 50+ updates, or ~50 updates at once on a large collection, leaves every
# connection waiting for one more and wedges the server for every client. Our build reads the
# matching documents, closes the query, then writes (as its `delete` already does).
# Worse, an update reads the document and writes the whole document back with nothing in
# between to stop a concurrent update of the same document: 100 concurrent `$inc`s, all
# acknowledged, left n=14. Our build serialises update/findAndModify per collection (one
# FerretDB process is the only writer), which makes them correct and keeps them as fast as c=1.
# v1 gets no more releases, so we patch the source we build; a changed patch must change
# FERRETDB_BUILD_ID so that existing installs rebuild.
ferretdb_patch_source() { # src dir
  "$PY" - "$1/internal/handler" <<'PYEOF'
import sys
d = sys.argv[1]
open(d + "/wapi_locks.go", "w").write("""// Added by wapi's infra/infra.sh (not part of FerretDB).

package handler

import "sync"

// wapiCollectionLocks serialises read-modify-write updates per collection: v1 reads a document
// and writes the whole document back, so concurrent updates of one document lose writes.
var wapiCollectionLocks sync.Map

// wapiLockCollection locks db.collection and returns the unlock function.
func wapiLockCollection(db, collection string) func() {
\tm, _ := wapiCollectionLocks.LoadOrStore(db+"\\x00"+collection, new(sync.Mutex))
\tmu := m.(*sync.Mutex)
\tmu.Lock()

\treturn mu.Unlock
}
""")
patches = {
    "msg_update.go": [
        ("\tvar matched, modified int32\n\tvar upserted types.Array\n",
         "\tvar matched, modified int32\n\tvar upserted types.Array\n\n"
         "\tdefer wapiLockCollection(params.DB, params.Collection)() // wapi: no lost updates\n"),
        ("\t\tcloser := iterator.NewMultiCloser()\n\t\tdefer closer.Close()\n",
         "\t\tcloser := iterator.NewMultiCloser()\n"),
        ('\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n',
         "\t\t// wapi: read the matches and release the query's connection before writing\n"
         "\t\tmatchedDocs, err := iterator.ConsumeValues(iter)\n"
         "\t\tcloser.Close()\n"
         "\t\tif err != nil {\n\t\t\treturn 0, 0, nil, lazyerrors.Error(err)\n\t\t}\n\n"
         "\t\tmatchedIter := iterator.Values(iterator.ForSlice(matchedDocs))\n"
         '\t\tresult, err := common.UpdateDocument(ctx, c, "update", matchedIter, &u)\n'
         "\t\tmatchedIter.Close()\n"),
    ],
    "msg_findandmodify.go": [
        ("\t// closer accumulates all things that should be closed / canceled.\n",
         "\tdefer wapiLockCollection(params.DB, params.Collection)() // wapi: no lost updates\n\n"
         "\t// closer accumulates all things that should be closed / canceled.\n"),
        ("\titer = common.LimitIterator(iter, closer, 1)\n",
         "\titer = common.LimitIterator(iter, closer, 1)\n\n"
         "\t// wapi: read the match and release the query's connection before writing\n"
         "\tmatched, err := iterator.ConsumeValues(iter)\n"
         "\tif err != nil {\n\t\treturn nil, lazyerrors.Error(err)\n\t}\n\n"
         "\tqueryRes.Iter.Close()\n\n"
         "\titer = iterator.Values(iterator.ForSlice(matched))\n"
         "\tcloser.Add(iter)\n"),
    ],
}
for name, fixes in patches.items():
    path = d + "/" + name
    src = open(path).read()
    for old, new in fixes:
        if src.count(old) != 1:
            sys.exit("%s does not look like v1.24.2's; cannot apply wapi's fix" % name)
        src = src.replace(old, new)
    open(path, "w").write(src)
PYEOF
}
# (no `| grep -q` here: with pipefail, grep exiting early can SIGPIPE the writer and fail the check)
ferretdb_reports_version() { # binary
  local out
  [[ -x $1 ]] && out=$("$1" --version 2>/dev/null) || return 1
  [[ $'\n'$out$'\n' == *$'\n'"version: $FERRETDB_VERSION"$'\n'* ]]
}

install_ferretdb() {
  if ferretdb_installed; then
    log "FerretDB: $FERRETDB_VERSION already installed ($FERRETDB_BIN)"
    return 0
  fi
  if [[ -e $FERRETDB_BIN ]]; then
    log "FerretDB: $FERRETDB_BIN is not our build $FERRETDB_BUILD_ID (an older build without our fix, or a plain 'go install' binary, which panics at startup); rebuilding it"
  fi
  command -v go >/dev/null 2>&1 ||
    die "FerretDB must be built from source and 'go' is not on PATH." \
      "Install Go 1.24+ (https://go.dev/dl/ or your package manager), then re-run '$PROG install'."

  # Why not 'go install $FERRETDB_MODULE/cmd/ferretdb@$FERRETDB_VERSION'? The module zip lacks
  # build/version/version.txt (generated by FerretDB's own build), so such a binary panics with
  # "Invalid build/version/version.txt file content". We build a copy of the module source with
  # that file written, which is what FerretDB's build does.
  local build=$CACHE/build/ferretdb-$FERRETDB_VERSION logs=$CACHE/logs dir
  rm -rf "$build"
  mkdir -p "$build" "$logs" "$CACHE/bin"
  export GOWORK=off GOFLAGS=-buildvcs=false GO111MODULE=on
  run_with_progress "FerretDB: downloading module $FERRETDB_MODULE@$FERRETDB_VERSION" "$logs/ferretdb-download.log" \
    bash -c 'cd "$1" && go mod download -json "$2" >"$1/download.json"' _ "$build" "$FERRETDB_MODULE@$FERRETDB_VERSION" ||
    die "downloading FerretDB source failed (see $logs/ferretdb-download.log)." \
      "Check that the Go module proxy is reachable (go env GOPROXY), then re-run '$PROG install'."
  resolve_python
  dir=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["Dir"])' "$build/download.json") ||
    die "could not read the module directory from $build/download.json; re-run '$PROG install'."
  cp -R "$dir/." "$build/src"
  chmod -R u+w "$build/src"
  printf '%s\n' "$FERRETDB_VERSION" >"$build/src/build/version/version.txt"
  ferretdb_patch_source "$build/src" ||
    die "could not apply wapi's fix to the FerretDB source in $build/src (see above). Report this."
  log "FerretDB: compiling from source; a first build takes ~2-4 minutes on 2 cores"
  run_with_progress "FerretDB: compiling $FERRETDB_VERSION with $(go env GOVERSION)" "$logs/ferretdb-build.log" \
    bash -c 'cd "$1/src" && CGO_ENABLED=0 go build -trimpath -o "$2" ./cmd/ferretdb' _ "$build" "$FERRETDB_BIN.tmp.$$" ||
    die "building FerretDB failed (see $logs/ferretdb-build.log)." \
      "FerretDB $FERRETDB_VERSION needs Go 1.24+ (you have $(go env GOVERSION)). Fix the error above, then re-run '$PROG install'."
  if ! ferretdb_reports_version "$FERRETDB_BIN.tmp.$$"; then
    "$FERRETDB_BIN.tmp.$$" --version 2>&1 | head -n 5 | sed 's/^/    | /' >&2 || true
    rm -f "$FERRETDB_BIN.tmp.$$"
    die "the freshly built FerretDB does not report $FERRETDB_VERSION (output above). Report this; remove $build and retry."
  fi
  mv -f "$FERRETDB_BIN.tmp.$$" "$FERRETDB_BIN"
  printf '%s\n' "$FERRETDB_BUILD_ID" >"$FERRETDB_BIN.build-id"
  rm -rf "$build"
  rmdir "$CACHE/build" 2>/dev/null || true
  log "FerretDB: installed $FERRETDB_VERSION at $FERRETDB_BIN"
}

moto_installed() {
  [[ -x $MOTO_VENV/bin/python && -x $MOTO_VENV/bin/moto_server ]] &&
    "$MOTO_VENV/bin/python" -c 'import sys, importlib.metadata as m; sys.exit(m.version("moto") != sys.argv[1])' \
      "$MOTO_VERSION" >/dev/null 2>&1
}

install_moto() {
  if moto_installed; then
    log "moto: $MOTO_VERSION already installed ($MOTO_VENV)"
    return 0
  fi
  resolve_python
  local logs=$CACHE/logs
  mkdir -p "$logs"
  if ! { [[ -x $MOTO_VENV/bin/python ]] && "$MOTO_VENV/bin/python" -m pip --version >/dev/null 2>&1; }; then
    rm -rf "$MOTO_VENV"
    if ! run_with_progress "moto: creating venv $MOTO_VENV with $PY" "$logs/moto-venv.log" "$PY" -m venv "$MOTO_VENV"; then
      rm -rf "$MOTO_VENV"
      if [[ $PY == /usr/bin/* ]] && command -v apt-get >/dev/null 2>&1; then
        need_root_for "installing python3-venv"
        run_with_progress "moto: installing python3-venv (apt)" "$logs/apt-python3-venv.log" \
          "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv ||
          die "could not install python3-venv; install it yourself (apt-get install -y python3-venv) and re-run '$PROG install'."
        run_with_progress "moto: creating venv $MOTO_VENV (retry)" "$logs/moto-venv.log" "$PY" -m venv "$MOTO_VENV" ||
          die "could not create the venv (see $logs/moto-venv.log)."
      else
        die "could not create a venv with $PY (see $logs/moto-venv.log)." \
          "Install the venv module for that Python (Debian: apt-get install -y python3-venv) or set WAPI_PYTHON, then re-run '$PROG install'."
      fi
    fi
  else
    log "moto: venv exists but moto $MOTO_VERSION is not installed in it; installing"
  fi
  run_with_progress "moto: pip install 'moto[server]==$MOTO_VERSION'" "$logs/moto-pip.log" \
    "$MOTO_VENV/bin/python" -m pip install --disable-pip-version-check --no-input "moto[server]==$MOTO_VERSION" ||
    die "pip install moto failed (see $logs/moto-pip.log)." \
      "Check that PyPI is reachable (pip config list), then re-run '$PROG install'. To start over: rm -rf '$MOTO_VENV'."
  moto_installed || die "moto $MOTO_VERSION still not importable from $MOTO_VENV after pip install. Remove it (rm -rf '$MOTO_VENV') and re-run '$PROG install'."
  log "moto: installed $MOTO_VERSION in $MOTO_VENV"
}

is_installed() {
  case $1 in redis) redis_installed ;; postgres) postgres_installed ;; ferretdb) ferretdb_installed ;; moto) moto_installed ;; esac
}

# ensure_installed component...: fast check without locking; installs under the cache lock
ensure_installed() {
  local c missing=()
  for c in "$@"; do is_installed "$c" || missing+=("$c"); done
  ((${#missing[@]} == 0)) && return 0
  mkdir -p "$CACHE"
  acquire_lock 8 "$CACHE/install.lock" "installing"
  local t0
  for c in "${missing[@]}"; do
    t0=$SECONDS
    "install_$c"
    log "$(label "$c"): install step took $((SECONDS - t0)) s"
  done
  release_lock 8
}

cmd_install() {
  local c
  log "installing into $CACHE (components: ${COMPONENTS[*]})"
  mkdir -p "$CACHE"
  acquire_lock 8 "$CACHE/install.lock" "installing"
  for c in "${COMPONENTS[@]}"; do
    local t0=$SECONDS
    "install_$c"
    if ((SECONDS - t0 > 1)); then log "$(label "$c"): install step took $((SECONDS - t0)) s"; fi
  done
  release_lock 8
  log "install complete"
}

# ----------------------------------------------------------------------------- start / stop

ensure_state_dirs() {
  mkdir -p "$STATE/run" "$STATE/logs" "$STATE/data/redis" "$STATE/data/postgres" "$STATE/data/ferretdb" "$STATE/data/moto"
  STATE=$(cd "$STATE" && pwd -P)
}

# Where the cluster and its socket live. As root the server runs as the postgres OS user,
# which cannot reach a state dir under a private parent (a fresh `mktemp -d` checkout, a
# home directory with mode 700); the cluster then lives outside it, in a folder named by a
# hash of the state dir (so each checkout still has its own, and 'stop' finds exactly it).
pg_outside_home() { echo "/var/tmp/wapi-postgres/$(printf '%s' "$STATE" | sha256sum | cut -c1-16)"; }
pg_reaches_state() {
  ((EUID != 0)) && return 0
  id -u "$PG_USER" >/dev/null 2>&1 || return 0
  setpriv "--reuid=$PG_USER" "--regid=$PG_USER" --init-groups -- test -x "$STATE/data" -a -x "$STATE/run" 2>/dev/null
}
pg_data_dir() { if pg_reaches_state; then echo "$STATE/data/postgres"; else echo "$(pg_outside_home)/data"; fi; }
pg_socket_dir() { if pg_reaches_state; then echo "$STATE/run/postgres"; else echo "$(pg_outside_home)/run"; fi; }

# Creates the private cluster (pg_data_dir) on first use (initdb) and makes sure the user
# the server runs as can write it. Loopback-only with 'trust' auth, like Redis here.
prepare_postgres() {
  local data sock ver major
  find_pg_bindir || die "PostgreSQL $PG_MIN_MAJOR+ server binaries not found. Run '$PROG install' (or set WAPI_PG_BINDIR)."
  pg_as
  data=$(pg_data_dir)
  sock=$(pg_socket_dir)
  mkdir -p "$data" "$sock"
  if ((EUID == 0)); then
    if [[ $data != "$STATE"/* ]]; then
      log "PostgreSQL: the '$PG_USER' OS user cannot reach $STATE (a private parent directory), so the cluster lives in $(pg_outside_home)"
      chmod 755 /var/tmp/wapi-postgres 2>/dev/null || true
      chown "$PG_USER:" "$(pg_outside_home)"
      chmod 700 "$(pg_outside_home)"
    fi
    chown "$PG_USER:" "$data" "$sock"
    chmod 700 "$data"
    if ! "${PG_AS[@]}" test -w "$data" -a -x "$data" -a -w "$sock" 2>/dev/null; then
      die "the '$PG_USER' OS user cannot write $data (a parent directory is not searchable by it, e.g. a home directory with mode 700)." \
        "Use a state dir it can reach (WAPI_INFRA_DIR=/some/path) or let it through: chmod o+x on each parent of $STATE; then re-run '$PROG start'."
    fi
  fi
  major=$(pg_major)
  if [[ -f $data/PG_VERSION ]]; then
    ver=$(cat "$data/PG_VERSION")
    [[ $ver == "$major" ]] ||
      die "the cluster in $data was made by PostgreSQL $ver, but $PG_BIN is PostgreSQL $major." \
        "Point WAPI_PG_BINDIR at PostgreSQL $ver, or delete the cluster to start with empty databases: $PROG stop && rm -rf '$data' && $PROG start"
    return 0
  fi
  if [[ -n $(ls -A "$data") ]]; then
    die "$data is neither empty nor a PostgreSQL cluster (an interrupted initdb?)." \
      "Delete it and retry (its databases are lost): $PROG stop && rm -rf '$data' && $PROG start"
  fi
  # --no-sync: initdb would otherwise fsync every file it wrote (seconds on slow disks); the
  # server syncs normally from then on. C locale: byte order, no dependence on installed locales.
  run_with_progress "PostgreSQL: creating the cluster (initdb) in $data" "$(log_file postgres).initdb" \
    bash -c 'cd "$1" && shift && exec "$@"' _ "$data" "${PG_AS[@]}" "$PG_BIN/initdb" -D "$data" \
    "--username=$PG_USER" --auth=trust --encoding=UTF8 --locale=C --no-sync ||
    die "initdb failed (see $(log_file postgres).initdb)." \
      "Fix the error above, empty $data (rm -rf '$data') and re-run '$PROG start'."
}

# Creates FerretDB's database in the cluster unless it exists (psql over TCP, trust auth).
ensure_pg_database() { # port
  local port=$1 out
  out=$("$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" 2>&1) ||
    fail_start postgres "$port" "psql could not query the cluster: $out"
  [[ $out == 1 ]] && return 0
  out=$("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres -c "CREATE DATABASE $PG_DB" 2>&1) ||
    fail_start postgres "$port" "could not create database $PG_DB: $out"
  log "PostgreSQL: created database $PG_DB"
}

server_command() { # component port -> sets CMD array
  local c=$1 port=$2
  case $c in
    redis)
      CMD=(redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --daemonize no
        --dir "$STATE/data/redis" --logfile "" --maxmemory-policy noeviction
        --appendonly yes --save "")
      ;;
    postgres)
      local sock
      sock=$(pg_socket_dir)
      # A unix socket path is limited to 107 bytes; with a very deep state dir, TCP only.
      ((${#sock} + 20 <= 107)) || sock=""
      pg_as
      CMD=("${PG_AS[@]}" "$PG_BIN/postgres" -D "$(pg_data_dir)" -p "$port"
        -c listen_addresses=127.0.0.1 -c "unix_socket_directories=$sock" -c logging_collector=off)
      ;;
    ferretdb)
      local pg_port
      pg_port=$(recorded_port postgres) || die "FerretDB needs PostgreSQL, which is not running. Run '$PROG start'."
      CMD=("$FERRETDB_BIN" --handler=postgresql "--postgresql-url=$(url_for postgres "$pg_port")"
        "--state-dir=$STATE/data/ferretdb" "--listen-addr=127.0.0.1:$port" --telemetry=disable
        --debug-addr=- --log-level=info)
      ;;
    moto)
      CMD=("$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port")
      ;;
  esac
}

# Starts the server detached (own session, stdin/out/err redirected, lock fds closed).
# The wrapper shell writes its own pid, then execs the server, so the pid file holds the server's pid.
launch() { # component port
  local c=$1 port=$2 lf pf
  lf=$(log_file "$c")
  pf=$(pid_file "$c")
  if [[ -f $lf ]] && (($(stat -c %s "$lf") > 10485760)); then mv -f "$lf" "$lf.1"; fi
  printf '\n===== %s  %s: starting on 127.0.0.1:%s =====\n' "$(date '+%F %T')" "$PROG" "$port" >>"$lf"
  server_command "$c" "$port"
  rm -f "$pf"
  (
    cd "$(comp_cwd "$c")"
    exec setsid bash -c 'trap "" HUP; echo $$ >"$1.tmp" && mv -f "$1.tmp" "$1"; shift; exec "$@"' \
      _ "$pf" "${CMD[@]}" >>"$lf" 2>&1 </dev/null 8>&- 9>&-
  ) &
}

# fail_start component port reason
fail_start() {
  local c=$1 port=$2 reason=$3 var
  var=$(port_var "$c")
  log "ERROR: $(label "$c") failed to start on 127.0.0.1:$port: $reason"
  tail_log "$(log_file "$c")" 20
  stop_component "$c" just-launched || true
  rm -f "$STATE/env"
  die "$(label "$c") is not running. Next: read $(log_file "$c");" \
    "if the port is the problem, choose another one ($var=NNNNN $PROG start);" \
    "then retry '$PROG start' (a slow machine can use WAPI_INFRA_START_TIMEOUT=90)."
}

wait_ready() { # component port
  local c=$1 port=$2 t0=$SECONDS next=10 pf pid=""
  pf=$(pid_file "$c")
  while :; do
    [[ -z $pid && -f $pf ]] && pid=$(cat "$pf" 2>/dev/null || true)
    if [[ -n $pid ]] && answers "$c" "$port"; then
      STARTED_PID=$pid
      return 0
    fi
    if [[ -n $pid ]] && ! is_alive "$pid"; then
      fail_start "$c" "$port" "the process (pid $pid) exited during startup"
    fi
    if ((SECONDS - t0 >= START_TIMEOUT)); then
      local why="not answering after ${START_TIMEOUT} s"
      if [[ -n $pid ]]; then why+=" (pid $pid)"; else why+="; the process never wrote its pid file"; fi
      fail_start "$c" "$port" "$why"
    fi
    if ((SECONDS - t0 >= next)); then
      log "  ... waiting for $(label "$c") to answer on 127.0.0.1:$port ($((SECONDS - t0)) s elapsed)"
      next=$((next + 10))
    fi
    sleep 0.2
  done
}

declare -a SUMMARY=() USED_PORTS=()

# FerretDB pid runs on the PostgreSQL backend at the port this state dir's cluster has now
ferretdb_uses_our_postgres() { # pid
  local cmdline pg_port
  pg_port=$(recorded_port postgres) || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *" --handler=postgresql --postgresql-url=$(url_for postgres "$pg_port") "* ]]
}

start_component() {
  local c=$1 pid port want lbl var t0=$SECONDS
  lbl=$(label "$c")
  var=$(port_var "$c")
  want=$(requested_port "$c")
  if [[ $c == ferretdb ]] && pid=$(running_pid "$c") && ! ferretdb_uses_our_postgres "$pid"; then
    log "$lbl: pid $pid is not on this state dir's PostgreSQL (started by an older $PROG on SQLite, or PostgreSQL moved to another port); restarting it"
    stop_component "$c"
  fi
  if pid=$(running_pid "$c"); then
    if port=$(recorded_port "$c") && answers "$c" "$port"; then
      [[ $c == postgres ]] && find_pg_bindir && ensure_pg_database "$port"
      SUMMARY+=("$(printf '%-9s reused   pid %-7s %s' "$c" "$pid" "$(url_for "$c" "$port")")")
      USED_PORTS+=("$port")
      if [[ $port != "$want" && -n ${!var:-} ]]; then
        log "$lbl: already running on port $port, not $var=$want; reusing it. To move it: $PROG stop $c && $PROG start $c"
      fi
      return 0
    fi
    log "$lbl: pid $pid is running but not answering on port ${port:-?}; restarting it"
    stop_component "$c"
  elif [[ -f $(pid_file "$c") ]]; then
    log "$lbl: pid $(cat "$(pid_file "$c")" 2>/dev/null || echo ?) from the last start is gone (crashed or killed?); starting it again"
    rm -f "$(pid_file "$c")" "$(port_file "$c")"
  fi

  port=$want
  if ! probe port-free "$port"; then
    local alt
    alt=$(probe free-port "$((want + 1))" "${USED_PORTS[@]}") ||
      die "could not find a free port for $lbl. Set $(port_var "$c") to a free port and retry."
    log "$lbl: port $want on 127.0.0.1 is in use by another program (not started by $PROG from $STATE); leaving it alone and using port $alt instead"
    port=$alt
  fi
  [[ $c == postgres ]] && prepare_postgres
  if [[ $c == ferretdb ]] && compgen -G "$STATE/data/ferretdb/*.sqlite" >/dev/null; then
    log "$lbl: the SQLite files in $STATE/data/ferretdb (from an older $PROG) are no longer used; their data is not migrated. Delete them when you like: rm -f '$STATE/data/ferretdb/'*.sqlite*"
  fi
  echo "$port" >"$(port_file "$c")"
  log "$lbl: starting on 127.0.0.1:$port (log: $(log_file "$c"))"
  launch "$c" "$port"
  STARTED_PID=""
  wait_ready "$c" "$port"
  [[ $c == postgres ]] && ensure_pg_database "$port"
  USED_PORTS+=("$port")
  log "$lbl: answering on 127.0.0.1:$port (pid $STARTED_PID, took $((SECONDS - t0)) s)"
  SUMMARY+=("$(printf '%-9s started  pid %-7s %s' "$c" "$STARTED_PID" "$(url_for "$c" "$port")")")
}

# stop_component component [just-launched]
#   just-launched: quiet, and also accept a pid that is_just_launched (failed start clean-up)
stop_component() {
  local c=$1 quiet=${2:-} pf pid lbl t0 check=is_ours
  lbl=$(label "$c")
  pf=$(pid_file "$c")
  if [[ ! -f $pf ]]; then
    [[ -n $quiet ]] || log "$lbl: not running (no pid file)"
    rm -f "$(port_file "$c")"
    return 0
  fi
  pid=$(cat "$pf" 2>/dev/null || true)
  if [[ -n $quiet ]] && ! is_ours "$c" "$pid" && is_just_launched "$c" "$pid"; then check=is_just_launched; fi
  if ! "$check" "$c" "$pid"; then
    [[ -n $quiet ]] || log "$lbl: pid '${pid}' from $pf is not running (or is not our $lbl any more); removing the stale pid file"
    rm -f "$pf" "$(port_file "$c")"
    return 0
  fi
  # PostgreSQL: SIGINT is its "fast" shutdown; SIGTERM ("smart") would wait for every client.
  local sig=TERM
  [[ $c == postgres ]] && sig=INT
  [[ -n $quiet ]] || log "$lbl: stopping pid $pid (SIG$sig)"
  kill "-$sig" "$pid" 2>/dev/null || true
  t0=$SECONDS
  while "$check" "$c" "$pid"; do
    if ((SECONDS - t0 >= STOP_TIMEOUT)); then
      log "$lbl: pid $pid still running after ${STOP_TIMEOUT} s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      local t1=$SECONDS
      while "$check" "$c" "$pid"; do
        ((SECONDS - t1 < 10)) || die "$lbl pid $pid survived SIGKILL. Check 'ps -o pid,stat,cmd -p $pid' (uninterruptible I/O?) and retry '$PROG stop'."
        sleep 0.2
      done
      break
    fi
    sleep 0.1
  done
  rm -f "$pf" "$(port_file "$c")"
  [[ -n $quiet ]] || log "$lbl: stopped (pid $pid)"
}

write_env() {
  local tmp pr pf pm
  pr=$(running_pid redis >/dev/null && recorded_port redis) || pr=""
  pf=$(running_pid ferretdb >/dev/null && recorded_port ferretdb) || pf=""
  pm=$(running_pid moto >/dev/null && recorded_port moto) || pm=""
  if [[ -z $pr$pf$pm ]]; then
    rm -f "$STATE/env"
    return 0
  fi
  tmp=$(mktemp "$STATE/.env.XXXXXX")
  {
    [[ -n $pr ]] && echo "WAPI_REDIS_URL=$(url_for redis "$pr")"
    [[ -n $pf ]] && echo "WAPI_MONGO_URL=$(url_for ferretdb "$pf")"
    if [[ -n $pm ]]; then
      echo "WAPI_AWS_ENDPOINT_URL=$(url_for moto "$pm")"
      echo "AWS_ACCESS_KEY_ID=test"
      echo "AWS_SECRET_ACCESS_KEY=test"
      echo "AWS_REGION=us-east-1"
      echo "AWS_DEFAULT_REGION=us-east-1"
    fi
  } >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$STATE/env"
}

cmd_start() {
  local c t0=$SECONDS
  ensure_state_dirs
  acquire_lock 9 "$STATE/lock" "starting or stopping servers"
  ensure_installed "${COMPONENTS[@]}"
  resolve_python
  for c in "${COMPONENTS[@]}"; do start_component "$c"; done
  write_env
  log "ready in $((SECONDS - t0)) s (state dir $STATE):"
  for c in "${SUMMARY[@]}"; do log "  $c"; done
  log "env file: $STATE/env   (load it: set -a; . '$STATE/env'; set +a   or: $PROG env)"
  release_lock 9
}

cmd_stop() {
  local i
  if [[ ! -d $STATE/run ]]; then
    log "nothing to stop (no state dir $STATE/run)"
    return 0
  fi
  acquire_lock 9 "$STATE/lock" "starting or stopping servers"
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[i]}"; done
  write_env
  release_lock 9
}

cmd_status() {
  local c pid port ok=0
  echo "state dir: $STATE"
  resolve_python
  for c in "${COMPONENTS[@]}"; do
    if pid=$(running_pid "$c"); then
      port=$(recorded_port "$c" || echo "?")
      if [[ $port != "?" ]] && answers "$c" "$port"; then
        printf '%-9s running  answering      pid %-7s port %-5s %s\n' "$c" "$pid" "$port" "$(url_for "$c" "$port")"
      else
        printf '%-9s running  NOT ANSWERING  pid %-7s port %-5s (see %s)\n' "$c" "$pid" "$port" "$(log_file "$c")"
        ok=1
      fi
    else
      printf '%-9s stopped\n' "$c"
      ok=1
    fi
  done
  if ((ok != 0)); then
    echo "not everything is answering; run: $PROG start   (logs in $STATE/logs/)"
  fi
  return "$ok"
}

cmd_env() {
  local c
  if [[ ! -f $STATE/env ]]; then
    die "not started: $STATE/env does not exist. Run '$PROG start' first."
  fi
  for c in "${ALL_COMPONENTS[@]}"; do
    running_pid "$c" >/dev/null ||
      die "$(label "$c") is not running (env file $STATE/env may be stale). Run '$PROG start' first."
  done
  cat "$STATE/env"
}

# ----------------------------------------------------------------------------- main

main() {
  local cmd=${1:-}
  (($# > 0)) && shift
  case $cmd in
    install | start | stop | restart | status) parse_components "$cmd" "$@" ;;
    env) (($# == 0)) || die "'env' takes no arguments." ;;
  esac
  case $cmd in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart)
      cmd_stop
      cmd_start
      ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    "")
      usage >&2
      exit 2
      ;;
    *)
      usage >&2
      die "unknown command '$cmd' (see above)."
      ;;
  esac
}

main "$@"
