"""Alembic environment: migrations run on the connection handed in by app.components.database
(upgrade_schema at start, app.ops.migrate on the command line), inside its transaction and lock."""

from __future__ import annotations

from alembic import context

from app.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if context.is_offline_mode():  # SQL script output (alembic --sql); needs sqlalchemy.url set
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
elif connection is None:
    raise RuntimeError("run migrations through `python -m app.ops.migrate`, which hands in a connection")
else:
    # SQLite alters tables by copying them ("batch" mode); compare_type lets autogenerate see type changes.
    context.configure(connection=connection, target_metadata=metadata, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")

with context.begin_transaction():
    context.run_migrations()
