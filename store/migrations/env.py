"""Alembic environment: runs on the connection `store.migrate` hands over (never reads a URL itself)."""

from __future__ import annotations

from alembic import context

import store.records  # noqa: F401  (registers the service tables on the metadata)
from engine.registries import REGISTRIES
from store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through store.migrate.upgrade(), which supplies the connection")


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """The tables of registries declared outside the built-ins are kept by store/schema.py, not by
    the migrations: autogenerate leaves them alone."""
    return not (type_ == "table" and reflected and compare_to is None and name in REGISTRIES)


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=_include_object,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
