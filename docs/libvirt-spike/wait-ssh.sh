#!/usr/bin/env bash
# shellcheck disable=SC2086  # the spike's script as it ran (README.md); not used by the collection
# wait-ssh.sh IP [TIMEOUT] [START_EPOCH] -- wait until ssh login with the spike key works.
# Polls the SSH banner with a cheap TCP check first: hammering a slow (TCG) guest
# with full ssh attempts + short ConnectTimeout piles up half-open sshd children
# and trips sshd MaxStartups ("kex_exchange_identification ... Exceeded MaxStartups").
IP=$1; TO=${2:-900}; s=${3:-$(date +%s.%N)}
SSH="ssh -i /work/libvirt-spike/keys/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=60 -o LogLevel=ERROR"
el() { echo "$(date +%s.%N) - $s" | bc; }
banner=""
while :; do
  if [ -z "$banner" ] && timeout 10 bash -c "exec 3<>/dev/tcp/$IP/22 && head -c 7 <&3" 2>/dev/null | grep -q SSH-2.0; then
    banner=$(el); fi
  if [ -n "$banner" ] && $SSH debian@$IP true 2>/dev/null; then
    echo "$IP banner@${banner}s login-ok@$(el)s"; exit 0; fi
  [ "$(el | cut -d. -f1)" -gt "$TO" ] && { echo "$IP TIMEOUT"; exit 1; }
  sleep 3
done
