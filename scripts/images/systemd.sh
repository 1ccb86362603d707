# shellcheck shell=bash
# Sourced by the image scripts: how a systemd container runs on these machines. --privileged
# fails here, so systemd gets what it needs one by one: the docker provider's set
# (roles/docker_provider/vars/main.yml) and the nova driver's (openstack-zed/learnhpc_nova).
# shellcheck disable=SC2034,SC2054  # used where sourced; the comma in exec,mode=1777 is tmpfs's
SYSTEMD_CONTAINER=(
    --stop-signal SIGRTMIN+3
    --cap-add SYS_ADMIN --cap-add NET_ADMIN
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec,mode=1777
)

# Waits (at most a minute) until the container's systemd has booted: systemd-tmpfiles
# empties /tmp while booting, and apt fails when its files there vanish.
wait_booted() {
    local state
    for _ in $(seq 60); do
        state=$(docker exec "$1" systemctl is-system-running 2>/dev/null || true)
        case $state in running | degraded) return 0 ;; esac
        sleep 1
    done
}
