"""The backend's alembic/env.py, online mode: its metadata, and tickd's `include_object` hook
(STOCKSOKO_TICKD_HOOK=0 leaves the hook out, to show what autogenerate proposes without it)."""

import os
import sys
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine

EXAMPLES = Path(os.environ["STOCKSOKO_EXAMPLES"])
sys.path[:0] = [str(EXAMPLES), str(EXAMPLES / "tests")]

from stocksoko.alembic_hook import include_object  # noqa: E402
from stocksoko_backend.models import Base  # noqa: E402

if os.environ.get("STOCKSOKO_OWN_MARKET_TICKS") == "1":
    import stocksoko_backend.market_ticks  # noqa: E402,F401

hook = include_object if os.environ.get("STOCKSOKO_TICKD_HOOK", "1") == "1" else None
engine = create_engine(os.environ["STOCKSOKO_DATABASE_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, include_object=hook)
    with context.begin_transaction():
        context.run_migrations()
