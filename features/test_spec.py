"""Every feature under features/ is a test module's worth of scenarios."""

from pytest_bdd import scenarios

scenarios(".")
