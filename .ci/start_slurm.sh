#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine (Debian's packages, no systemd, no accounting) so that
# the slow tests in tests/test_slurm.py submit real jobs. Idempotent: does nothing when a node already
# answers, starts only what is missing otherwise. Needs root. Prints each step; exits 1 with the reason
# when something fails. The daemons log to /var/log/slurm/ and /var/log/munge/.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# Written by fmnist's .ci/start_slurm.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)

say() { echo "start_slurm: $*"; }
fail() { echo "start_slurm: error: $*" >&2; exit 1; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }  # a daemon's pid file names a live process
node_up() {  # a node answers and can take jobs (idle, or busy with some)
  [ -n "$(sinfo --noheader --responding --states=idle,mixed,allocated,completing --format=%n 2>/dev/null)" ]
}
trap 'fail "line $LINENO: \"$BASH_COMMAND\" failed"' ERR

if command -v sinfo >/dev/null && node_up; then
  say "a SLURM node already answers: $(sinfo --noheader --format='%n %T' | head -1); nothing to do"
  exit 0
fi
[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages, writes $CONF and starts daemons): sudo $0"

if ! dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then
  say "installing ${PACKAGES[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
    || fail "could not install ${PACKAGES[*]} with apt-get"
fi

# munge authenticates every message between SLURM's daemons and commands.
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
if ! running /run/munge/munged.pid; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged || fail "munged did not start (see /var/log/munge/munged.log)"
fi

# SlurmctldHost must resolve to this machine.
HOST=$(hostname -s)
if ! getent hosts "$HOST" >/dev/null; then
  say "adding $HOST to /etc/hosts"
  echo "127.0.0.1 $HOST" >>/etc/hosts
fi

if [ -f "$CONF" ] && ! grep -qxF "$MARK" "$CONF"; then
  fail "$CONF exists and was not written by this script; not touching a cluster configured by hand"
fi
# The node line as slurmd measures this machine, so the node is not drained for a wrong CPU or memory count.
NODE=$(slurmd -C | head -1) || fail "slurmd -C could not describe this machine"
cat >"$CONF.new" <<EOF
$MARK
# One node that is its own controller: no cgroups (linuxproc, task/none), no accounting database.
ClusterName=fmnist
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
# A requeued job waits cred_expire + 1 s before it starts again (121 s by default).
AuthInfo=cred_expire=5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
# Look at pending jobs every 2 s (60 s by default), so a requeued job starts soon after its wait.
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# SIGKILL 2 s after SIGTERM (30 s by default). submitit ignores SIGTERM, so a job that SLURM requeues
# itself (scontrol requeue, preemption) runs on until then, and continues from its last checkpoint.
KillWait=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$NODE State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
if cmp -s "$CONF.new" "$CONF"; then
  rm "$CONF.new"
else
  say "writing $CONF ($NODE)"
  mv "$CONF.new" "$CONF"
fi

if ! running /run/slurmctld.pid; then
  say "starting slurmctld (with a clean state: -c)"
  slurmctld -c || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
fi
if ! running /run/slurmd.pid; then
  say "starting slurmd"
  slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"
fi

for _ in $(seq 30); do
  if node_up; then
    say "ready: $(sinfo --noheader --format='%P %n %T %c CPUs %m MB')"
    exit 0
  fi
  sleep 1
done
fail "no node became idle within 30 s: $(sinfo --noheader --format='%n %T %E' 2>&1) (see /var/log/slurm/)"
