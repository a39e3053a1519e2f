"""Alembic environment: migrations run on a connection handed over by the label store.

`haptics.dataset.store` calls `alembic.command.upgrade` with the open connection in
`config.attributes["connection"]`; there is no alembic.ini and no URL here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
