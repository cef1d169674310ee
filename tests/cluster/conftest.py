"""pytest setup for the cluster suites: the integration harness (real
PostgreSQL clusters and brokers on free ports) and its one-PostgreSQL-per-
module fixture are shared."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from fixtures import postgres  # noqa: E402,F401
