"""Test support shared across test packages: JWTs and the PostgREST stand-in."""
