#!/usr/bin/env bash
# Runs inside the build container after packages.sh: configure MariaDB, RabbitMQ, memcached
# and every OpenStack service, create the databases and the Keystone catalog, map the cells.
#
# TEST-ONLY CREDENTIALS: every password below is the fixed word "secret" (RabbitMQ keeps
# guest/guest). They exist only inside this throwaway image, whose services listen on
# 127.0.0.1 inside the container (the API ports are published on the host's 127.0.0.1 only).
# Never reuse them, and never copy them into anything but the test cloud.
set -euo pipefail

pw=secret                 # test-only, see above
region=RegionOne
# One fixed service host name, so the state committed into the image (compute node,
# agents, cinder-volume host) matches every container made from it, whatever its name.
host=learnhpc-compute
rabbit="rabbit://guest:guest@127.0.0.1:5672/"
keystone=http://127.0.0.1:5000
here=$(cd "$(dirname "$0")" && pwd)

ini() { crudini --set "$@"; }
db() { echo "mysql+pymysql://$1:$pw@127.0.0.1/$2"; }

# [keystone_authtoken] of a service, and any other section holding a service user's
# password authentication (nova's [neutron], [placement], [service_user], ...).
auth_section() {
    local file=$1 section=$2 user=$3
    ini "$file" "$section" auth_url "$keystone"
    ini "$file" "$section" auth_type password
    ini "$file" "$section" project_domain_name Default
    ini "$file" "$section" user_domain_name Default
    ini "$file" "$section" project_name service
    ini "$file" "$section" username "$user"
    ini "$file" "$section" password "$pw"
    ini "$file" "$section" region_name "$region"
}
# service_type is the service's type in the catalog: keystonemiddleware matches the access
# rules of an application credential against it, and without it refuses (401) every token of
# a credential that has access rules.
authtoken() {
    local file=$1 user=$2 type=$3
    auth_section "$file" keystone_authtoken "$user"
    ini "$file" keystone_authtoken www_authenticate_uri "$keystone"
    ini "$file" keystone_authtoken memcached_servers 127.0.0.1:11211
    ini "$file" keystone_authtoken service_token_roles_required true
    ini "$file" keystone_authtoken service_type "$type"
}
# Debian runs keystone, placement, nova-api, neutron-api and cinder-api under uwsgi with
# 8-16 processes of 32 threads each: far too much for a test cloud on two cores. One thread
# per process: these services import eventlet, and with several uwsgi threads a request now
# and then dies with "greenlet.error: cannot switch to a different thread" and leaves its
# worker hung (seen in keystone, nova-api and neutron-api: the cloud never became ready, or
# a server DELETE never reached nova-compute and teardown waited out its time-out).
uwsgi_small() {
    local file=$1 processes=$2 threads=1
    [ -f "$file" ] || { echo "configure: $file missing" >&2; exit 1; }
    ini "$file" uwsgi processes "$processes"
    ini "$file" uwsgi threads "$threads"
    # Without keep-alive on uwsgi's bare --http-socket, the 2nd request of a pooled client
    # connection is reset; keystone's and nova-api's inis lack this header.
    grep -q '^add-header *= *Connection: close' "$file" || sed -i '/^\[uwsgi\]/a add-header = Connection: close' "$file"
}
# Runs a command as a service user. The *-manage commands are chatty (and end with a
# harmless eventlet traceback at interpreter exit): their output goes to a log that is
# shown only when the command fails.
log=/var/log/learnhpc-configure.log
as() {
    local user=$1
    shift
    su -s /bin/sh -c "$*" "$user" >>"$log" 2>&1 || {
        echo "configure: '$*' failed; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    }
}

echo "configure: infrastructure"
cat >/etc/mysql/mariadb.conf.d/99-learnhpc.cnf <<'CNF'
[mysqld]
bind-address = 127.0.0.1
max_connections = 1024
innodb_buffer_pool_size = 64M
skip-name-resolve
CNF
# The node name must not depend on the container's host name.
cat >/etc/rabbitmq/rabbitmq-env.conf <<'ENV'
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
ENV
sed -i 's/^-l .*/-l 127.0.0.1/' /etc/memcached.conf
systemctl start mariadb rabbitmq-server memcached

for pair in keystone:keystone glance:glance placement:placement nova:nova_api nova:nova nova:nova_cell0 \
    neutron:neutron cinder:cinder; do
    user=${pair%%:*} name=${pair#*:}
    mysql -e "CREATE DATABASE IF NOT EXISTS $name;
              CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$pw';
              GRANT ALL PRIVILEGES ON $name.* TO '$user'@'127.0.0.1';"
done

echo "configure: keystone"
conf=/etc/keystone/keystone.conf
ini $conf database connection "$(db keystone keystone)"
ini $conf token provider fernet
ini $conf cache enabled true
ini $conf cache backend oslo_cache.memcache_pool
ini $conf cache memcache_servers 127.0.0.1:11211
# Every password and application credential secret is checked with bcrypt: at its default cost
# (12) that is 0.33 s of CPU per authentication here, and the tests authenticate hundreds of
# times (each module, inventory and CLI call). bcrypt's lowest cost (4) suits this throwaway
# cloud's TEST-ONLY credentials and nothing else. Set before any user exists: a hash keeps the cost
# it was made with.
ini $conf identity password_hash_rounds 4
uwsgi_small /etc/keystone/keystone-uwsgi.ini 3
as keystone keystone-manage db_sync
as root keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
as root keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
as root keystone-manage bootstrap --bootstrap-password "$pw" --bootstrap-region-id "$region" \
    --bootstrap-admin-url "$keystone/v3/" --bootstrap-internal-url "$keystone/v3/" \
    --bootstrap-public-url "$keystone/v3/"

echo "configure: glance"
conf=/etc/glance/glance-api.conf
ini $conf DEFAULT workers 1
ini $conf database connection "$(db glance glance)"
authtoken $conf glance image
ini $conf paste_deploy flavor keystone
ini $conf glance_store stores file,http
ini $conf glance_store default_store file
ini $conf glance_store filesystem_store_datadir /var/lib/glance/images/
as glance glance-manage db_sync

echo "configure: placement"
conf=/etc/placement/placement.conf
ini $conf placement_database connection "$(db placement placement)"
ini $conf api auth_strategy keystone
authtoken $conf placement placement
uwsgi_small /etc/placement/placement-api-uwsgi.ini 2
as placement placement-manage db sync

echo "configure: nova"
conf=/etc/nova/nova.conf
ini $conf DEFAULT transport_url "$rabbit"
ini $conf DEFAULT host $host
ini $conf DEFAULT my_ip 127.0.0.1
ini $conf DEFAULT enabled_apis osapi_compute
ini $conf DEFAULT osapi_compute_workers 1
ini $conf DEFAULT vif_plugging_is_fatal false
ini $conf DEFAULT vif_plugging_timeout 0
ini $conf api_database connection "$(db nova nova_api)"
ini $conf database connection "$(db nova nova)"
ini $conf api auth_strategy keystone
authtoken $conf nova compute
for section in placement neutron service_user; do
    auth_section $conf $section nova
done
ini $conf placement valid_interfaces internal
ini $conf neutron valid_interfaces internal
ini $conf service_user send_service_user_token true
ini $conf glance valid_interfaces internal
ini $conf cinder catalog_info volumev3:cinderv3:internalURL
ini $conf cinder os_region_name "$region"
ini $conf conductor workers 1
ini $conf scheduler workers 1
ini $conf vnc enabled false
ini $conf spice enabled false
ini $conf oslo_concurrency lock_path /var/lib/nova/tmp
for quota in instances:1000 cores:10000 ram:10240000; do
    ini $conf quota "${quota%%:*}" "${quota#*:}"
done
# Servers are systemd containers on the machine's Docker engine, plugged into Neutron's
# bridges (learnhpc_nova/driver.py; Debian's nova-compute-ironic set this file to the ironic
# driver). The servers of one event share a Docker volume for each of these directories: the
# stand-in for a site's shared file system.
ini /etc/nova/nova-compute.conf DEFAULT compute_driver learnhpc_nova.driver.ContainerDriver
ini /etc/nova/nova-compute.conf learnhpc shared_dirs /home,/project,/scratch
# The AMQP heartbeat as a green thread, not a native one (heartbeat_in_pthread), as for
# neutron and cinder below.
uwsgi_small /etc/nova/nova-api-uwsgi.ini 3
ini /etc/nova/nova.conf oslo_messaging_rabbit heartbeat_in_pthread false
as nova "nova-manage api_db sync"
as nova "nova-manage cell_v2 map_cell0"
as nova "nova-manage cell_v2 create_cell --name=cell1"
as nova "nova-manage db sync"

echo "configure: neutron"
conf=/etc/neutron/neutron.conf
ini $conf DEFAULT core_plugin ml2
ini $conf DEFAULT service_plugins router,qos,trunk
ini $conf DEFAULT transport_url "$rabbit"
ini $conf DEFAULT auth_strategy keystone
ini $conf DEFAULT host $host
ini $conf DEFAULT rpc_workers 1
ini $conf DEFAULT rpc_state_report_workers 1
ini $conf DEFAULT api_workers 1
ini $conf DEFAULT notify_nova_on_port_status_changes true
ini $conf DEFAULT notify_nova_on_port_data_changes true
# Zed marks ML2/linuxbridge experimental; without this neutron-server refuses to start.
ini $conf experimental linuxbridge true
ini $conf database connection "$(db neutron neutron)"
authtoken $conf neutron network
auth_section $conf nova nova
ini $conf oslo_concurrency lock_path /var/lib/neutron/tmp
conf=/etc/neutron/plugins/ml2/ml2_conf.ini
ini $conf ml2 type_drivers flat,vlan,vxlan,local
ini $conf ml2 tenant_network_types vxlan
ini $conf ml2 mechanism_drivers linuxbridge
ini $conf ml2 extension_drivers port_security,qos
ini $conf ml2_type_flat flat_networks public
ini $conf ml2_type_vxlan vni_ranges 1:1000
# No OVS module in this kernel: linuxbridge, with veth pairs made at boot
# (learnhpc-cloud-net.sh) as the external interface and the VXLAN endpoint.
conf=/etc/neutron/plugins/ml2/linuxbridge_agent.ini
ini $conf linux_bridge physical_interface_mappings public:ext0
ini $conf vxlan enable_vxlan true
ini $conf vxlan local_ip 10.255.255.1
ini $conf vxlan l2_population false
ini $conf securitygroup enable_security_group true
ini $conf securitygroup firewall_driver iptables
ini /etc/neutron/dhcp_agent.ini DEFAULT interface_driver linuxbridge
ini /etc/neutron/dhcp_agent.ini DEFAULT enable_isolated_metadata false
ini /etc/neutron/l3_agent.ini DEFAULT interface_driver linuxbridge
uwsgi_small /etc/neutron/neutron-api-uwsgi.ini 2
ini /etc/neutron/neutron.conf oslo_messaging_rabbit heartbeat_in_pthread false
as neutron "neutron-db-manage --config-file /etc/neutron/neutron.conf \
    --config-file /etc/neutron/plugins/ml2/ml2_conf.ini upgrade head"

echo "configure: cinder"
conf=/etc/cinder/cinder.conf
ini $conf DEFAULT transport_url "$rabbit"
ini $conf DEFAULT auth_strategy keystone
ini $conf DEFAULT host $host
ini $conf DEFAULT my_ip 127.0.0.1
ini $conf DEFAULT osapi_volume_workers 1
# Volumes are not real either: cinder's fake driver (Debian ships cinder/tests).
ini $conf DEFAULT enabled_backends fake
ini $conf fake volume_driver cinder.tests.fake_driver.FakeLoggingVolumeDriver
ini $conf fake volume_backend_name fake
ini $conf database connection "$(db cinder cinder)"
authtoken $conf cinder volumev3
auth_section $conf service_user cinder
ini $conf service_user send_service_user_token true
auth_section $conf nova cinder
ini $conf nova interface internal
ini $conf oslo_concurrency lock_path /var/lib/cinder/tmp
uwsgi_small /etc/cinder/cinder-api-uwsgi.ini 2
ini /etc/cinder/cinder.conf oslo_messaging_rabbit heartbeat_in_pthread false
as cinder "cinder-manage db sync"

echo "configure: catalog"
systemctl start keystone
for _ in $(seq 60); do curl -sf -o /dev/null $keystone/v3 && break; sleep 1; done
python3 "$here/cloud_setup.py" identity
