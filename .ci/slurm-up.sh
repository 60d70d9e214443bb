#!/usr/bin/env bash
# A single-node SLURM cluster on this (Debian) machine for the tests marked `slurm`:
# munged, slurmctld and slurmd as plain daemons (no systemd), accounting off.
#
#   .ci/slurm-up.sh            install slurm-wlm + munge if missing (root), start the daemons
#
# Idempotent and fast when the cluster already answers. Always exits 0: when SLURM
# cannot start it prints one line `slurm-up: unavailable: <why>` and writes the same
# line to $DIFFKIT_SLURM_STATUS (default /tmp/diffkit-slurm-status), where the
# `slurm` tests read why they skip.
set -uo pipefail

STATUS_FILE="${DIFFKIT_SLURM_STATUS:-/tmp/diffkit-slurm-status}"
ROOT="${DIFFKIT_SLURM_ROOT:-/var/lib/diffkit-slurm}"
CONF=/etc/slurm/slurm.conf
MARK="# written by diffkit .ci/slurm-up.sh"

say() { echo "slurm-up: $*"; echo "slurm-up: $*" >"$STATUS_FILE" 2>/dev/null || true; }
unavailable() { say "unavailable: $*"; exit 0; }

ours_alive() {  # the daemons this script started (if it did: our config) both still run
    grep -qF "$MARK" "$CONF" 2>/dev/null || return 0
    local pidfile
    for pidfile in "$ROOT/slurmctld.pid" "$ROOT/slurmd.pid"; do
        [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || return 1
    done
}

ready() {  # the controller answers and the node takes jobs
    ours_alive || return 1
    timeout 5 scontrol ping 2>/dev/null | grep -q UP || return 1
    local state
    state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -1)
    case "$state" in idle*|mixed*|allocated*|completing*) return 0 ;; *) return 1 ;; esac
}

if command -v sbatch >/dev/null && ready; then
    say "ready (already running)"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" = 0 ] || unavailable "slurm-wlm and munge are not installed and installing them needs root"
    command -v apt-get >/dev/null || unavailable "slurm-wlm and munge are not installed and there is no apt-get"
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) \
        >/tmp/diffkit-slurm-apt.log 2>&1; then
        unavailable "apt-get install slurm-wlm munge failed (see /tmp/diffkit-slurm-apt.log)"
    fi
fi
[ "$(id -u)" = 0 ] || unavailable "SLURM is installed but not running, and starting its daemons needs root"

# -- munge ---------------------------------------------------------------------
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    (mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null)
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --force >/dev/null 2>&1 || unavailable "munged does not start"
    for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || unavailable "munged started but does not answer"
fi

# -- slurm.conf ----------------------------------------------------------------
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    unavailable "$CONF exists and was not written by this script; not touching a real cluster's config"
fi
node=$(slurmd -C 2>/dev/null | head -1)
[ -n "$node" ] || unavailable "slurmd -C does not describe this node"
host=$(hostname -s)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
node=$(echo "$node" | sed -E "s/^NodeName=[^ ]+/NodeName=$host/; s/RealMemory=[0-9]+/RealMemory=$mem/")
mkdir -p "$ROOT/state" "$ROOT/spool" "$ROOT/log" /etc/slurm
cat >"$CONF.new" <<EOF
$MARK
ClusterName=diffkit
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool
SlurmctldPidFile=$ROOT/slurmctld.pid
SlurmdPidFile=$ROOT/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
SchedulerType=sched/backfill
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
if ! cmp -s "$CONF.new" "$CONF"; then
    mv "$CONF.new" "$CONF"
    changed=1
else
    rm -f "$CONF.new"
    changed=0
fi

# -- daemons -------------------------------------------------------------------
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ "$changed" = 1 ]; then  # a new config: restart whatever runs with the old one
    for pidfile in "$ROOT/slurmd.pid" "$ROOT/slurmctld.pid"; do
        running "$pidfile" && kill "$(cat "$pidfile")" 2>/dev/null
    done
    sleep 1
fi
running "$ROOT/slurmctld.pid" || slurmctld || unavailable "slurmctld does not start (see $ROOT/log/slurmctld.log)"
running "$ROOT/slurmd.pid" || slurmd -N "$host" || unavailable "slurmd does not start (see $ROOT/log/slurmd.log)"
for _ in $(seq 60); do
    ready && { say "ready"; exit 0; }
    # a node that came back after a restart may be down: let it serve again
    scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1
    sleep 0.5
done
unavailable "slurmctld and slurmd run but the node does not take jobs ($(sinfo -h -N -o '%T %E' 2>/dev/null | head -1))"
