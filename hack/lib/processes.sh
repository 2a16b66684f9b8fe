# Background processes of the local cluster scripts: each runs in its own
# session, logs to $RUN_LOGS/NAME.log and records its pid in $RUN_PIDS/NAME.pid.
# The sourcing script sets RUN_LOGS and RUN_PIDS. Sourced, never executed.

# pid_of NAME: prints the pid of a running process, fails when it is not running.
pid_of() {
  local file="$RUN_PIDS/$1.pid"
  [[ -f "$file" ]] || return 1
  local pid
  pid="$(cat "$file")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# launch NAME ARGS...: runs a command in its own session, logging to a file.
launch() {
  local name="$1"
  shift
  mkdir -p "$RUN_PIDS" "$RUN_LOGS"
  setsid "$@" >>"$RUN_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_PIDS/$name.pid"
}

# stop_process NAME: SIGTERM to the session, SIGKILL after 10 s.
stop_process() {
  local pid
  pid="$(pid_of "$1")" || { rm -f "$RUN_PIDS/$1.pid"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$RUN_PIDS/$1.pid"
}

# wait_for NAME SECONDS COMMAND...: polls until COMMAND succeeds; on timeout
# shows the end of NAME's log.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$what did not become ready in ${seconds}s; last log lines:"
      tail -n 20 "$RUN_LOGS/${what}.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}
