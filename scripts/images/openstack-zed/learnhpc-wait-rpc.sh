#!/bin/sh
# learnhpc-neutron-rpc.service, which the Neutron agents start after (agent-wait-rpc.conf):
# wait until neutron-rpc-server has declared its queues in RabbitMQ. An agent that starts
# earlier sends its first RPC into nothing, waits for the 60 s RPC timeout and backs off,
# and then needs about two minutes to come alive. One waiter for all three agents:
# every rabbitmqctl call starts an Erlang VM, which is not cheap on two cores.
for _ in $(seq 100); do
    if rabbitmqctl -q list_queues name 2>/dev/null | grep -qx 'q-l3-plugin'; then
        exit 0
    fi
    sleep 3
done
echo "learnhpc-wait-rpc: queue q-l3-plugin not declared after 300 s; starting the agents anyway" >&2
exit 0
