"""A stand-in for the Stock Soko backend: its SQLAlchemy models as
shared/stocksoko-DATABASE-ARCHITECTURE.md writes them, and its Alembic environment."""
