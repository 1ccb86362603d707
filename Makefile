# Entry points of learnhpc.cluster; README.md explains them.
EVENT ?= demo

.PHONY: setup demo teardown test
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
