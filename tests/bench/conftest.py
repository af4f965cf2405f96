"""Bench fixtures: the worker tests' PostgresBackend over this test's fresh database."""

from tests.worker.conftest import backend

__all__ = ["backend"]  # a fixture, used by name
