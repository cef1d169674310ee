"""pytest fixtures: one PostgreSQL per test module, one broker per module
(tests that restart or break things make their own)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from harness import Broker, Postgres  # noqa: E402


@pytest.fixture(scope="module")
def postgres():
    pg = Postgres()
    yield pg
    pg.destroy()


@pytest.fixture(scope="module")
def broker(postgres):
    b = Broker(postgres)
    yield b
    b.assert_clean_exit()
    b.destroy()
