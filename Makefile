# Thin entry points; the logic lives in tests/utils/. `make test` is the test command (CI runs it via .ci/run).
# Variables: ETCD_VERSIONS (e.g. 3.5.1,latest) and TARGETS for etcd/integration, ARGS for extra ansible-test options,
# ANSIBLE_CORE (2.17 or 2.21: that ansible-core cell's venv instead of .venv) for venv/sanity/integration.
.PHONY: demo test venv etcd lint sanity units integration clean distclean

test:
	tests/utils/run-all.sh

# The one-command demo: a local 3-member etcd cluster run out of space (NOSPACE), repaired by the role
# etcdops.etcd.maintenance, then stopped. ETCD_VERSION: 3.6 (default), 3.7, latest (the newest 3.5), 3.5.1 or 3.4.
demo:
	ETCD_VERSION="$(ETCD_VERSION)" demo/run.sh

venv:
	tests/utils/bootstrap.sh

etcd:
	tests/utils/fetch-etcd.sh

lint:
	tests/utils/run-lint.sh

sanity:
	tests/utils/run-sanity.sh $(ARGS)

units:
	tests/utils/run-units.sh $(ARGS)

integration:
	tests/utils/run-integration.sh $(ARGS)

# The collection copy and test output; keeps the venvs and the etcd binaries in .cache.
clean:
	rm -rf .build tests/output

distclean: clean
	rm -rf .venv .venv-* .cache
