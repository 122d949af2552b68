"""The backend's own `market_ticks` ("TimescaleDB ready" in the document): OHLCV rows by stock
id. Imported only where the backend made it before tickd came (STOCKSOKO_OWN_MARKET_TICKS=1):
tickd then keeps its ticks in `tickd_market_ticks` beside it."""

import uuid

from sqlalchemy import UUID, BigInteger, Column, DateTime, ForeignKey, Numeric

from .models import Base


class MarketTick(Base):
    __tablename__ = "market_ticks"

    id = Column(UUID, primary_key=True, default=uuid.uuid4)
    stock_id = Column(UUID, ForeignKey("stocks.id"), nullable=False)
    time = Column(DateTime(timezone=True), nullable=False, index=True)
    open = Column(Numeric)
    high = Column(Numeric)
    low = Column(Numeric)
    close = Column(Numeric)
    volume = Column(BigInteger)
