#!/bin/sh
# Runs at every boot of the test cloud, after MariaDB and before Keystone
# (learnhpc-cloud-endpoints.service): point the *public* endpoints of the catalog at the
# address clients use. That is LEARNHPC_CLOUD_PUBLIC_HOST from the container's environment
# (`docker run -e`, e.g. 127.0.0.1 with published ports), or else the container's eth0
# address, which changes from one container to the next. Internal and admin endpoints
# always use 127.0.0.1: every service talks to the others inside the container.
set -eu
public_host=$(tr '\0' '\n' </proc/1/environ | sed -n 's/^LEARNHPC_CLOUD_PUBLIC_HOST=//p')
if [ -z "$public_host" ]; then
    public_host=$(ip -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }')
fi
case $public_host in
    *[!A-Za-z0-9.:-]* | '') echo "learnhpc-cloud-endpoints: bad public host '$public_host'" >&2; exit 1 ;;
esac
mysql keystone -e "UPDATE endpoint SET url = REGEXP_REPLACE(url, '^http://[^:/]+', 'http://$public_host')
                   WHERE interface = 'public'"
echo "public endpoints now use $public_host"
