"""Alembic migrations: the schema, one revision per change (`connector db upgrade`)."""
