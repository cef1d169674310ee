"""The pytest fixtures the integration and cluster suites share: one
PostgreSQL per test module, and one broker on it per module (tests that
restart or break things make their own). Each conftest imports what its
suite uses."""

import pytest

from harness import Broker, Postgres


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
