"""The spec's pytest wiring: the VM fixtures and the step vocabulary."""

pytest_plugins = [
    "vm.pytest_plugin",
    "steps.harness",
]
