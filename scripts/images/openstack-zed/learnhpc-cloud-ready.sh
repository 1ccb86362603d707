#!/bin/sh
# learnhpc-cloud-ready [TIMEOUT]: exit 0 once the test cloud can serve tests, waiting up to
# TIMEOUT seconds (default: answer at once); otherwise print what is missing and exit 1.
#
# Ready means: every API answers, Keystone issues a token, nova-compute, the three Neutron
# agents and cinder-volume have reported within their services' down times. The heartbeats
# are read from the databases: the same data the APIs judge "up" and "alive" from, without
# the ten seconds that loading a Python client takes on a busy two-core machine.
timeout=${1:-0}
deadline=$(($(date +%s) + timeout))

# TEST-ONLY admin credentials of this throwaway image (configure.sh).
token_request='{"auth": {"identity": {"methods": ["password"], "password": {"user":
  {"name": "admin", "domain": {"name": "Default"}, "password": "secret"}}}}}'

has() { # DATABASE TABLE CONDITION: true when some row matches
    [ "$(mysql -N -B "$1" -e "SELECT COUNT(*) FROM $2 WHERE $3" 2>/dev/null)" -ge 1 ] 2>/dev/null
}
seen() { # COLUMN SECONDS: a heartbeat column updated within SECONDS
    echo "$1 > UTC_TIMESTAMP() - INTERVAL $2 SECOND"
}

missing() {
    for port in 5000 9292 8778 8774 9696 8776; do
        code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$port/")
        case $code in [234]??) ;; *) echo "API on port $port not answering" ;; esac
    done
    curl -sf -o /dev/null -m 10 -H 'Content-Type: application/json' -d "$token_request" \
        http://127.0.0.1:5000/v3/auth/tokens || echo "keystone issues no token"
    has nova services "\`binary\` = 'nova-compute' AND disabled = 0 AND deleted = 0 AND $(seen updated_at 60)" ||
        echo "nova-compute not up"
    has nova_api host_mappings "host = 'learnhpc-compute'" || echo "compute host not mapped to a cell"
    for agent in 'Linux bridge agent' 'DHCP agent' 'L3 agent'; do
        has neutron agents "agent_type = '$agent' AND admin_state_up = 1 AND $(seen heartbeat_timestamp 75)" ||
            echo "neutron $agent not alive"
    done
    has cinder services "\`binary\` = 'cinder-volume' AND disabled = 0 AND deleted = 0 AND $(seen updated_at 60)" ||
        echo "cinder-volume not up"
}

while :; do
    what=$(missing)
    [ -z "$what" ] && exit 0
    [ "$(date +%s)" -ge "$deadline" ] && break
    sleep 2
done
echo "$what" | paste -sd ';' | sed 's/;/; /g'
exit 1
