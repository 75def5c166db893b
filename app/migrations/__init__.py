"""Alembic migrations of the SQL schema (configured in code by app.components.database.alembic_config).

versions/ holds one file per revision; ``python -m app.ops.migrate`` runs, lists and creates them.
"""
