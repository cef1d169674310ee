"""pytest setup for the cluster suites: the integration harness (real
PostgreSQL clusters and brokers on free ports) is shared."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
