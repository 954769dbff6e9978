#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying `benchgen run --executor slurm` and for the opt-in test
# tests/cluster/test_slurm.py. Debian/Ubuntu, as root (containers included: no systemd needed).
#   scripts/slurm-localhost.sh          install slurm-wlm + munge if missing, write the config, start the daemons
#   scripts/slurm-localhost.sh stop     stop them again
# No accounting database: `sacct` is not available; benchgen falls back to `squeue` for job states.
set -euo pipefail

CONF_DIR=/etc/slurm
STATE=/var/spool/slurm
CPUS=${SLURM_LOCAL_CPUS:-2}
MEM_MB=${SLURM_LOCAL_MEM_MB:-$(awk '/MemTotal/ {print int($2 / 1024) - 512}' /proc/meminfo)}

stop() {
  for d in slurmd slurmctld munged; do
    if pid=$(pgrep -x "$d"); then kill $pid || true; fi
  done
}

if [[ "${1:-}" == "stop" ]]; then stop; exit 0; fi
[[ $(id -u) == 0 ]] || { echo "run as root (it installs packages and starts daemons)" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge
fi

# munge: the key every SLURM daemon and client authenticates with
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  if command -v mungekey >/dev/null; then mungekey --create --force; else
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; fi
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c "munged"

HOST=$(hostname -s)
mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" /var/log/slurm
cat > "$CONF_DIR/slurm.conf" <<CONF
# one node, $CPUS CPUs: slurmctld and slurmd on this machine (written by scripts/slurm-localhost.sh)
ClusterName=localhost
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
# no cgroup.conf: task/none and proctrack/linuxproc need no cgroups (a container may not delegate them)

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 30); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    sinfo; exit 0
  fi
  sleep 1
done
echo "the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
sinfo || true
exit 1
