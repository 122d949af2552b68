"""SQLAlchemy 2.0 read models of what tickd writes, for the Stock Soko backend.

They live on `TickdBase.metadata`, apart from the backend's `Base.metadata`: Alembic compares the
backend's metadata with the database, so these tables are never the backend's to create, alter or
drop (`alembic_hook.include_object` keeps tickd's objects out of autogenerate as well). Read them,
never write them: tickd owns the rows.

The ticks table is `market_ticks` unless tickd's `database.ticks_table` names another (where the
backend has a `market_ticks` of its own, tickd's is `tickd_market_ticks`); set
`TICKD_DATABASE_TICKS_TABLE`, the variable tickd itself reads, before importing this module.
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, MetaData, Numeric, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: The ticks table tickd writes (`database.ticks_table`).
TICKS_TABLE = os.environ.get("TICKD_DATABASE_TICKS_TABLE", "market_ticks")

#: The candle views tickd keeps (TimescaleDB continuous aggregates, or plain views).
CANDLE_VIEWS = ("market_candles_1m", "market_candles_1h", "market_candles_1d")


class TickdBase(DeclarativeBase):
    """tickd's objects, on a MetaData of their own."""

    metadata = MetaData(info={"owner": "tickd"})


class _Prices:
    """Open, high, low and close: exact decimals, as the feed sent them."""

    open: Mapped[Decimal] = mapped_column(Numeric)
    high: Mapped[Decimal] = mapped_column(Numeric)
    low: Mapped[Decimal] = mapped_column(Numeric)
    close: Mapped[Decimal] = mapped_column(Numeric)


class MarketTick(_Prices, TickdBase):
    """One stored trade or bar, `seq` per symbol as published on Redis."""

    __tablename__ = TICKS_TABLE

    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    symbol: Mapped[str] = mapped_column(Text, primary_key=True)
    trade_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    volume: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)


class _Candle(_Prices):
    """A candle view's columns: open/close by (time, trade_seq), turnover = sum(close * volume)."""

    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    symbol: Mapped[str] = mapped_column(Text, primary_key=True)
    volume: Mapped[Decimal] = mapped_column(Numeric)
    ticks: Mapped[int] = mapped_column(BigInteger)
    turnover: Mapped[Decimal] = mapped_column(Numeric)
    vwap: Mapped[Decimal] = mapped_column(Numeric)


class Candle1m(_Candle, TickdBase):
    __tablename__ = "market_candles_1m"


class Candle1h(_Candle, TickdBase):
    __tablename__ = "market_candles_1h"


class Candle1d(_Candle, TickdBase):
    """One trading day (midnight to midnight, Africa/Nairobi)."""

    __tablename__ = "market_candles_1d"
