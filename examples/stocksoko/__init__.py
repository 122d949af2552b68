"""What the Stock Soko backend needs to live with tickd in one database.

- `models`: SQLAlchemy 2.0 read models of what tickd writes (its ticks table and the candle views),
  on a MetaData of their own, never the backend's `Base.metadata`.
- `alembic_hook`: the `include_object` hook that keeps tickd's objects out of the backend's
  `alembic revision --autogenerate`.

`stocks.latest_price` and `stocks.previous_close` are the backend's own `Stock` columns: tickd
writes them (and `updated_at`), nothing else of `stocks`.
"""
