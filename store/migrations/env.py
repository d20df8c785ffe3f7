"""Alembic environment: runs on the connection `store.migrate` hands over (never reads a URL itself)."""

from __future__ import annotations

from alembic import context

import store.records  # noqa: F401  (registers the service tables on the metadata)
from store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through store.migrate.upgrade(), which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
