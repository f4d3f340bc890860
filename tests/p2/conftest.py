"""The p2 layer's tests use the Phase 2 world of tests/observations (an approved proposal of
``astronomer`` with an SM run A and a VM run B on FORS2, template signatures at "130.0")."""

from tests.observations.conftest import coi, phase2  # noqa: F401 (fixtures)
