"""trust.feature, a module of its own: one worker runs it (`--dist loadfile`)."""

from pytest_bdd import scenarios

scenarios("trust.feature")
