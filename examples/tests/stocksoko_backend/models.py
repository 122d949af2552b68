"""The backend's models, as the Stock Soko database document writes them (SQLAlchemy 2.0,
classic `Column` style). `Stock` is the document's model word for word, but for one line:
`metadata` is a name the declarative API reserves, so the attribute is `metadata_` on the column
`metadata`. Users, holdings and orders are kept to the columns the document's flows use."""

import uuid

from sqlalchemy import UUID, Column, DateTime, ForeignKey, Integer, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class User(Base):
    __tablename__ = "users"

    id = Column(UUID, primary_key=True, default=uuid.uuid4)
    email = Column(String, unique=True, nullable=False, index=True)
    phone = Column(String, nullable=True, index=True)
    created_at = Column(DateTime(timezone=True), server_default=func.now())


class Stock(Base):
    __tablename__ = "stocks"

    id = Column(UUID, primary_key=True, default=uuid.uuid4)
    symbol = Column(String, unique=True, nullable=False, index=True)
    name = Column(String, nullable=False)
    exchange = Column(String, default="NSE")
    sector = Column(String, nullable=True)
    currency = Column(String, default="KES")
    lot_size = Column(Integer, default=1)
    market_cap = Column(Numeric, nullable=True)
    latest_price = Column(Numeric, nullable=True)
    previous_close = Column(Numeric, nullable=True)
    pe_ratio = Column(Numeric, nullable=True)
    dividend_yield = Column(Numeric, nullable=True)
    metadata_ = Column("metadata", JSONB, nullable=True)
    updated_at = Column(DateTime(timezone=True), onupdate=func.now())

    holdings = relationship("Holding", back_populates="stock")
    orders = relationship("Order", back_populates="stock")


class Holding(Base):
    __tablename__ = "holdings"

    id = Column(UUID, primary_key=True, default=uuid.uuid4)
    user_id = Column(UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    stock_id = Column(UUID, ForeignKey("stocks.id"), nullable=False)
    quantity = Column(Integer, nullable=False, default=0)
    avg_price = Column(Numeric, nullable=True)

    stock = relationship("Stock", back_populates="holdings")


class Order(Base):
    __tablename__ = "orders"

    id = Column(UUID, primary_key=True, default=uuid.uuid4)
    user_id = Column(UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    stock_id = Column(UUID, ForeignKey("stocks.id"), nullable=False)
    side = Column(String, nullable=False)
    order_type = Column(String, nullable=False)
    quantity = Column(Integer, nullable=False)
    limit_price = Column(Numeric, nullable=True)
    status = Column(String, nullable=False, default="pending")
    broker_order_id = Column(String, nullable=True)
    created_at = Column(DateTime(timezone=True), server_default=func.now())

    stock = relationship("Stock", back_populates="orders")
