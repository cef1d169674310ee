"""pytest setup for the integration suites: the harness and the shared
fixtures (fixtures.py: one PostgreSQL and one broker per test module)."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from fixtures import broker, postgres  # noqa: E402,F401
