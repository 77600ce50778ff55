"""The document's etcd.service: each Background writes the unit (cgls, cgls --all and ps
also start it), so their scenarios are one module, run by one worker (`--dist loadfile`)
whose kept VM writes and starts the unit once (see features/conftest.py)."""

from pytest_bdd import scenarios

scenarios("simple_unit.feature", "cgls.feature", "cgls_all.feature", "ps.feature")
