# Entry points of learnhpc.cluster; README.md explains them.
EVENT ?= demo

.PHONY: setup demo teardown test test-interrupted test-libvirt
setup:
	scripts/setup.sh

# The main job: a whole training cluster for events/$(EVENT).yml, set-up included.
demo: setup
	.venv/bin/ansible-playbook site.yml -e event=$(EVENT)

teardown: setup
	.venv/bin/ansible-playbook teardown.yml -e event=$(EVENT)

# Every test, set-up included (.ci/run calls this).
test:
	scripts/test.sh

# About 13 minutes: site.yml killed at each of five points of a first deploy, run again to
# ready, torn down to nothing, each time (tests/integration/docker). `make test` runs the
# shorter case that kills one run at each point in turn.
test-interrupted: setup
	.venv/bin/pytest -v -s tests/integration/docker/test_interrupted_deploy.py -k 'not again_and_again'

# An event of three VMs through libvirt and QEMU on this machine, site.yml to ready (a guest's
# job on the compute node, /home over kernel NFS), then torn down to nothing
# (tests/integration/libvirt). LEARNHPC_TEST_LIBVIRT=1 make test runs the shorter part: the VMs
# provisioned, kernel NFS between them, the event reaped.
test-libvirt:
	LEARNHPC_SETUP_LIBVIRT=1 scripts/setup.sh
	LEARNHPC_LIBVIRT_SITE=1 .venv/bin/pytest -v -s tests/integration/libvirt
