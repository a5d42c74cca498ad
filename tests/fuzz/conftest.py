"""One fixed Hypothesis profile for the parser fuzz tests: the same inputs every run.

``derandomize=True`` draws the inputs from a seed fixed by each test's name, so a run tries the
same inputs on every machine and CI cannot pass by luck; no example database is kept, no
deadline applies (a shared CI machine is slow by moments), and ``max_examples`` is bounded so that
each file runs in a few seconds. Each test asserts how many inputs it tried (see COUNTS).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=300,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
