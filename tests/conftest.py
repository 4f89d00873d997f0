"""Settings for the whole suite."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests check behaviour, not speed: on a shared two-core CI machine a first draw that
# builds Hypothesis' Unicode tables took 1.2 s (a "too slow" health check failure), and a busy
# core can push one example past the default 200 ms deadline. Speed is measured in bench/.
settings.register_profile("jirabucket", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("jirabucket")
