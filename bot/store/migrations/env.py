"""Alembic environment: runs against the engine the caller passes in (see session.upgrade)."""

from alembic import context
from sqlalchemy import create_engine

from bot.store.database import normalise_url
from bot.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line, e.g. for autogenerate
        engine = create_engine(normalise_url(config.get_main_option("sqlalchemy.url")))
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
