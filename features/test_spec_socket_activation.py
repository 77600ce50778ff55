"""socket_activation.feature, a module of its own: one worker runs it (`--dist loadfile`)."""

from pytest_bdd import scenarios

scenarios("socket_activation.feature")
