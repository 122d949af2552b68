"""Keeps tickd's objects out of the Stock Soko backend's `alembic revision --autogenerate`.

Without it, autogenerate against a database tickd migrated proposes dropping tickd's ticks table,
its indexes and every `tickd_` table: whoever runs that migration deletes every tick. In the
backend's `alembic/env.py`:

    from stocksoko.alembic_hook import include_object
    context.configure(connection=connection, target_metadata=Base.metadata,
                      include_object=include_object)

tickd's objects are its ticks table (`market_ticks`, or `database.ticks_table`), the candle views
`market_candles_1m/1h/1d`, every table whose name starts with `tickd_`, and their indexes and
constraints. `stocks` is the backend's: tickd only writes its `latest_price`, `previous_close` and
`updated_at`, so the backend's migrations manage it as before.
"""

from __future__ import annotations

from .models import CANDLE_VIEWS, TICKS_TABLE


def is_tickd_table(name: str | None, ticks_table: str = TICKS_TABLE) -> bool:
    """True for a table or view tickd creates and owns."""
    return name is not None and (name.startswith("tickd_") or name == ticks_table or name in CANDLE_VIEWS)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's `include_object`: False for tickd's tables and for anything on them."""
    if type_ == "table":
        return not is_tickd_table(name)
    table = getattr(obj, "table", None)
    return not is_tickd_table(getattr(table, "name", None))
