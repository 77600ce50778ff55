"""Conformance: judge any rkt with the spec, prove the spec can fail, publish the results.

- ``results``: one run's verdicts, read back from JUnit XML and cucumber JSON.
- ``document``: the source document, split into the sections the features follow.
- ``living_doc``: that document with each section's scenarios, verdicts and observations.
- ``diff``: where two runtimes behave differently, scenario by scenario.
- ``mutant``: deliberately broken copies of rkt_ref, built as runtime directories.
- ``plugin``: the pytest side (runtime and scenario facts on each test, the living document).
- ``session``: what the nox sessions run (``python -m conformance``).
"""
