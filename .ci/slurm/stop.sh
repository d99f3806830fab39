#!/usr/bin/env bash
# Stop the one-node Slurm cluster of .ci/slurm/start.sh: cancel its jobs, then stop
# slurmd, slurmctld and munged (if start.sh started it) by the pids in their pid
# files. Safe to call in a trap whatever happened (nothing started, half started,
# already stopped).
set -uo pipefail

dir="${DL3FLOW_SLURM_DIR:-/tmp/dl3flow-slurm}"

stop_pidfile() {
    local pidfile="$1" pid
    [[ -s $pidfile ]] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
}

if [[ -s $dir/slurmctld.pid ]] && command -v scancel >/dev/null; then
    timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
    sleep 1
fi
stop_pidfile "$dir/slurmd.pid"
stop_pidfile "$dir/slurmctld.pid"
stop_pidfile "$dir/munged.pid"   # only if start.sh started munged
exit 0
