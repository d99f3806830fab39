#!/usr/bin/env bash
# Start a one-node Slurm cluster on localhost for the cluster test (CI, root, Debian).
#
#   .ci/slurm/start.sh        # installs slurmctld, slurmd, munge if missing; starts them
#   .ci/slurm/stop.sh         # stops them again (safe to call whatever happened)
#
# Lightest working setup: no slurmdbd / database. Accounting is off
# (AccountingStorageType=accounting_storage/none), so `sacct` cannot report jobs;
# snakemake-executor-plugin-slurm then has to poll with `squeue`
# (--slurm-status-command squeue), which is reliable as long as finished jobs stay
# in slurmctld's memory: MinJobAge is set to 3600 s here for that reason.
# No cgroups either (proctrack/linuxproc, task/none): works in containers and VMs
# without systemd.
#
# State, logs and pid files go to $DL3FLOW_SLURM_DIR (default /tmp/dl3flow-slurm).
# The config is written to /etc/slurm/slurm.conf (where sbatch/squeue/srun look),
# unless a slurm.conf not written by this script is already there: then it stops.
set -euo pipefail

dir="${DL3FLOW_SLURM_DIR:-/tmp/dl3flow-slurm}"
conf=/etc/slurm/slurm.conf
marker="# written by dl3flow .ci/slurm/start.sh"

if [[ $(id -u) -ne 0 ]]; then
    echo "start.sh: must run as root (installs packages, starts daemons)" >&2
    exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi

if [[ -e $conf ]] && ! grep -qF "$marker" "$conf"; then
    echo "start.sh: $conf exists and was not written by this script; not touching it" >&2
    exit 1
fi

# a cluster left over from an earlier run (its pid files): stop it first
"$(dirname "$0")/stop.sh"

mkdir -p "$dir"/{state,spool,log}
host="$(hostname -s)"
# CPUs, sockets, cores and RealMemory as slurmd detects them on this machine.
node="$(slurmd -C | head -n 1)"
cat >"$conf" <<CONF
$marker
ClusterName=dl3flow-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

# munge: key from the Debian package (created by mungekey if missing)
if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge /var/log/munge /var/lib/munge
# (stop.sh stops munged only if this script started it)
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$dir/munged.pid"
fi

slurmctld -c   # -c: clean start, no state from an earlier cluster
slurmd

for _ in $(seq 60); do
    if [[ "$(sinfo -h -N -o %t 2>/dev/null)" == idle ]]; then
        sinfo
        exit 0
    fi
    sleep 1
done
echo "start.sh: the node did not become idle within 60 s" >&2
sinfo -N -l >&2 || true
tail -n 20 "$dir"/log/*.log >&2 || true
exit 1
