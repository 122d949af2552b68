"""tickd inside the Stock Soko backend's database, end to end: the backend's SQLAlchemy 2.0 models
and Alembic (PyPI), tickd's migrate, seed, a replay and a `tickd run` TCP stream, then the backend
reading through its ORM and autogenerating again. Both orders: the backend first (its own
`market_ticks` in the way, so tickd's ticks go to `tickd_market_ticks`), and tickd first.

Each test makes a database of its own on the test setup's PostgreSQL (the superuser over the
socket of scripts/test.sh), with TimescaleDB where the server preloads it.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import alembic
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path[:0] = [str(EXAMPLES), str(EXAMPLES / "tests")]
import stocksoko.models as tickd_models  # noqa: E402
from stocksoko_backend.models import Holding, Order, Stock, User  # noqa: E402
from support import eventually  # noqa: E402

NEXT_DAY = ROOT / "Seeds/feeds/nse-2026-01-06.open.ndjson.gz"
NSE_TICKS = [(Decimal("1000.00"), Decimal("5.00")), (Decimal("500.00"), Decimal("1.00")), (Decimal("50.00"), Decimal("0.25")),
             (Decimal("10.00"), Decimal("0.05")), (Decimal("5.00"), Decimal("0.02")), (Decimal("0"), Decimal("0.01"))]


class AppDatabase:
    """A database of the test's own, owned by the test setup's role, as the backend's would be;
    the backend's Alembic in a folder of its own; tickd's environment for it."""

    def __init__(self, ticks_table: str = "market_ticks") -> None:
        base = conninfo_to_dict(os.environ["DATABASE_URL"])
        self.name = "stocksoko_" + uuid.uuid4().hex[:10]
        self.admin = make_conninfo(host=os.environ["TICKD_PG_SOCKET_DIR"], port=base.get("port", "5432"), user="postgres",
                                   dbname="postgres")
        with psycopg.connect(self.admin, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {self.name} OWNER {base['user']}")
            timescale = "timescaledb" in db.execute("SHOW shared_preload_libraries").fetchone()[0]
        if timescale:
            with psycopg.connect(make_conninfo(self.admin, dbname=self.name), autocommit=True) as db:
                db.execute("CREATE EXTENSION timescaledb")
        self.timescale = timescale
        self.url = make_conninfo(**{**base, "dbname": self.name})
        self.sqlalchemy_url = (f"postgresql+psycopg://{base['user']}:{base['password']}@{base.get('host', '127.0.0.1')}:"
                               f"{base.get('port', '5432')}/{self.name}")
        self.engine = create_engine(self.sqlalchemy_url)
        self.work = Path(tempfile.mkdtemp(prefix="tickd-stocksoko-"))
        self.ticks_table = ticks_table
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("TICKD_")},
                    "DATABASE_URL": self.url, "TICKD_REDIS_PREFIX": f"{self.name}:ticks:",
                    "TICKD_DEAD_LETTER_PATH": str(self.work / "dead-letters.jsonl"),
                    "TICKD_JOURNAL_DIRECTORY": str(self.work / "journal"), "TICKD_LOG_FORMAT": "logfmt",
                    "TICKD_SYMBOLS_RELOAD_INTERVAL_MS": "300"}
        if ticks_table != "market_ticks":
            self.env["TICKD_DATABASE_TICKS_TABLE"] = ticks_table
        # The read models take tickd's ticks table from the variable tickd reads.
        os.environ["TICKD_DATABASE_TICKS_TABLE"] = ticks_table
        self.models = importlib.reload(tickd_models)
        self.alembic_dir = self.work / "alembic"
        (self.alembic_dir / "versions").mkdir(parents=True)
        shutil.copy(EXAMPLES / "tests/stocksoko_backend/env.py", self.alembic_dir / "env.py")
        shutil.copy(Path(alembic.__file__).parent / "templates/generic/script.py.mako", self.alembic_dir / "script.py.mako")
        (self.work / "alembic.ini").write_text(f"[alembic]\nscript_location = {self.alembic_dir}\n")
        self.tickd_bin = os.environ.get("TICKD_BIN") or str(ROOT / ".build/debug/tickd")

    def tickd(self, *args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([self.tickd_bin, *args], cwd=ROOT, env=self.env, capture_output=True, input=stdin)
        if check:
            assert result.returncode == 0, result.stderr.decode()
        return result

    def alembic(self, *args: str, own_market_ticks: bool, hook: bool = True) -> str:
        env = {**os.environ, "STOCKSOKO_DATABASE_URL": self.sqlalchemy_url, "STOCKSOKO_EXAMPLES": str(EXAMPLES),
               "STOCKSOKO_OWN_MARKET_TICKS": "1" if own_market_ticks else "0", "STOCKSOKO_TICKD_HOOK": "1" if hook else "0",
               "TICKD_DATABASE_TICKS_TABLE": self.ticks_table}
        result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(self.work / "alembic.ini"), *args], env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def autogenerate(self, own_market_ticks: bool, hook: bool = True, keep: bool = False) -> str:
        """`alembic revision --autogenerate`: the script it wrote (removed again unless `keep`)."""
        before = set((self.alembic_dir / "versions").glob("*.py"))
        self.alembic("revision", "--autogenerate", "-m", "check", own_market_ticks=own_market_ticks, hook=hook)
        (script,) = set((self.alembic_dir / "versions").glob("*.py")) - before
        text = script.read_text()
        if not keep:
            script.unlink()
        return text

    def close(self) -> None:
        self.engine.dispose()
        with psycopg.connect(self.admin, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        shutil.rmtree(self.work, ignore_errors=True)


def operations(script: str) -> list[str]:
    """The Alembic operations of a revision script's upgrade()."""
    upgrade = script.split("def upgrade()", 1)[1].split("def downgrade()", 1)[0]
    return re.findall(r"op\.\w+\([^\n]*", upgrade)


def backend_seed(db: AppDatabase) -> None:
    """`python -m scripts.seed_stocks`: the 20 NSE stocks through the ORM, ids made by uuid.uuid4."""
    with Session(db.engine) as session, open(ROOT / "Seeds/stocks.csv") as listing:
        for row in csv.DictReader(listing):
            session.add(Stock(symbol=row["symbol"], name=row["name"], sector=row["sector"], latest_price=Decimal(row["price"]),
                              market_cap=Decimal(row["market_cap"]), metadata_={"seeded_by": "backend"}))
        session.commit()


def stream_next_day(db: AppDatabase, new_listing: bool) -> None:
    """`tickd run` with a TCP listener; a publisher streams 2026-01-06's opening hour into it. With
    `new_listing`, the backend lists NEWCO through its ORM while tickd runs, and NEWCO's trade is
    stored without a restart."""
    log_path = db.work / "run.log"
    with open(log_path, "w+") as log:
        daemon = subprocess.Popen([db.tickd_bin, "run", "--listen", "127.0.0.1:0"], cwd=ROOT, env=db.env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            port = None

            def listening() -> bool:
                nonlocal port
                found = re.search(r"listening for feed publishers.*port=(\d+)", log_path.read_text())
                port = int(found.group(1)) if found else None
                return port is not None
            assert eventually(listening, 60), log_path.read_text()
            lines = gzip.decompress(NEXT_DAY.read_bytes())
            expected = lines.count(b"\n")
            with psycopg.connect(db.url, autocommit=True) as sql:
                def stored() -> int:
                    return sql.execute(f"SELECT (SELECT count(*) FROM {db.ticks_table} WHERE time >= '2026-01-06')"
                                       " + (SELECT count(*) FROM tickd_quarantine)").fetchone()[0]
                with socket.create_connection(("127.0.0.1", port)) as publisher:
                    publisher.sendall(lines)
                assert eventually(lambda: stored() >= expected, 120), (stored(), expected, log_path.read_text()[-3000:])
                if new_listing:
                    with Session(db.engine) as session:
                        session.add(Stock(symbol="NEWCO", name="New Listing PLC", sector="Banking"))
                        session.commit()
                    assert eventually(lambda: "instruments: the listing changed" in log_path.read_text(), 30), log_path.read_text()[-3000:]
                    trade = json.dumps({"time": "2026-01-06T07:30:00Z", "symbol": "NEWCO", "price": "10.00", "volume": 100,
                                        "trade_id": 9_000_001})
                    with socket.create_connection(("127.0.0.1", port)) as publisher:
                        publisher.sendall(trade.encode() + b"\n")
                    assert eventually(lambda: sql.execute(f"SELECT count(*) FROM {db.ticks_table} WHERE symbol = 'NEWCO'")
                                      .fetchone()[0] == 1, 30), log_path.read_text()[-3000:]
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0, log_path.read_text()[-3000:]


def official_close(vwap: Decimal) -> Decimal:
    """The NSE's official close: the day's VWAP rounded to the nearest tick of its price band."""
    tick = next(step for lower, step in NSE_TICKS if vwap >= lower)
    return (vwap / tick).quantize(Decimal(1), rounding=ROUND_HALF_UP) * tick


def check_through_the_orm(db: AppDatabase, started: datetime) -> None:
    """What the backend reads: exact prices on its Stock, the candle views, and its own writes."""
    MarketTick, Candle1d, Candle1m = db.models.MarketTick, db.models.Candle1d, db.models.Candle1m
    day5 = (datetime(2026, 1, 4, 21, tzinfo=timezone.utc), datetime(2026, 1, 5, 21, tzinfo=timezone.utc))
    with Session(db.engine) as session:
        listed = session.scalars(select(Stock).where(Stock.symbol != "NEWCO").order_by(Stock.symbol)).all()
        assert len(listed) == 20
        for stock in listed:
            newest = session.scalars(select(MarketTick).where(MarketTick.symbol == stock.symbol)
                                     .order_by(MarketTick.time.desc(), MarketTick.trade_seq.desc()).limit(1)).one()
            assert isinstance(stock.latest_price, Decimal) and stock.latest_price == newest.close, stock.symbol
            turnover, volume = session.execute(
                select(func.sum(MarketTick.close * MarketTick.volume), func.sum(MarketTick.volume))
                .where(MarketTick.symbol == stock.symbol, MarketTick.time >= day5[0], MarketTick.time < day5[1])).one()
            assert volume >= 100
            assert isinstance(stock.previous_close, Decimal) and stock.previous_close == official_close(turnover / volume), stock.symbol
            assert stock.updated_at is not None and stock.updated_at >= started, stock.symbol
            days = session.scalars(select(Candle1d).where(Candle1d.symbol == stock.symbol).order_by(Candle1d.bucket)).all()
            assert [d.bucket for d in days] == [day5[0], day5[1]], stock.symbol
            assert days[0].volume == volume and days[0].turnover == turnover and days[-1].close == newest.close
        assert session.scalar(select(func.count()).select_from(Candle1m)) > 700

        # The backend's own flow on the stocks tickd prices: an order and a holding commit.
        scom = session.scalars(select(Stock).where(Stock.symbol == "SCOM")).one()
        user = User(email=f"alice+{db.name}@stocksoko.test")
        session.add(user)
        session.flush()
        order = Order(user_id=user.id, stock_id=scom.id, side="buy", order_type="limit", quantity=100, limit_price=scom.latest_price)
        session.add_all([order, Holding(user_id=user.id, stock_id=scom.id, quantity=100, avg_price=scom.latest_price)])
        session.commit()
        assert order.id is not None and order.status == "pending"
        assert [o.limit_price for o in scom.orders] == [scom.latest_price]


@pytest.fixture
def backend_first():
    db = AppDatabase(ticks_table="tickd_market_ticks")
    yield db
    db.close()


@pytest.fixture
def tickd_first():
    db = AppDatabase()
    yield db
    db.close()


def test_backend_first_then_tickd_beside_its_own_market_ticks(backend_first: AppDatabase) -> None:
    db = backend_first
    db.autogenerate(own_market_ticks=True, keep=True)
    db.alembic("upgrade", "head", own_market_ticks=True)
    backend_seed(db)
    started = datetime.now(timezone.utc)

    # The backend's market_ticks is in the way: found before anything is created, with the fix.
    env = db.env.pop("TICKD_DATABASE_TICKS_TABLE")
    refused = db.tickd("migrate", check=False)
    assert refused.returncode == 1
    assert refused.stderr.decode().splitlines()[-1].startswith(
        "tickd: table market_ticks exists and is not tickd's (it has id, stock_id, time, open, high, low, close, volume;"), refused.stderr
    assert "set database.ticks_table (TICKD_DATABASE_TICKS_TABLE)" in refused.stderr.decode()
    db.env["TICKD_DATABASE_TICKS_TABLE"] = env

    migrated = db.tickd("migrate").stdout.decode()
    assert ("storage mode timescale" if db.timescale else "storage mode plain") in migrated
    seeded = db.tickd("seed").stdout.decode()
    assert seeded.startswith("seed: 0 inserted, 0 updated, 0 unchanged, 20 kept"), seeded
    report = json.loads(db.tickd("replay", "Seeds/feeds/nse-2026-01-05.trades.csv", "--report", "json").stdout)
    assert report["inserted"] == 103991
    stream_next_day(db, new_listing=True)
    check_through_the_orm(db, started)
    with Session(db.engine) as session:
        assert session.scalars(select(Stock.metadata_).where(Stock.symbol == "SCOM")).one() == {"seeded_by": "backend"}
        assert session.scalar(select(func.count()).select_from(db.models.MarketTick)) > 100_000
    with psycopg.connect(db.url) as sql:
        assert sql.execute("SELECT count(*) FROM market_ticks").fetchone()[0] == 0, "the backend's own table is untouched"

    # Autogenerate with the hook: nothing on tickd's objects, nor anything else. Without it: tickd's tables dropped.
    assert operations(db.autogenerate(own_market_ticks=True)) == []
    unhooked = operations(db.autogenerate(own_market_ticks=True, hook=False))
    assert "op.drop_table('tickd_symbol_seq')" in unhooked and "op.drop_table('tickd_market_ticks')" in unhooked, unhooked


def test_tickd_first_then_the_backends_alembic(tickd_first: AppDatabase) -> None:
    db = tickd_first
    db.tickd("migrate")
    assert db.tickd("seed").stdout.decode().startswith("seed: 20 inserted")

    # The backend adopts the database: its first revision creates its own tables, leaves tickd's alone.
    initial = operations(db.autogenerate(own_market_ticks=False, keep=True))
    created = {re.search(r"'(\w+)'", op).group(1) for op in initial if op.startswith("op.create_table(")}
    assert created == {"users", "holdings", "orders"}, initial
    assert not [op for op in initial if "tickd_" in op or "market_ticks" in op or "drop_table" in op], initial
    db.alembic("upgrade", "head", own_market_ticks=False)

    started = datetime.now(timezone.utc)
    report = json.loads(db.tickd("replay", "Seeds/feeds/nse-2026-01-05.trades.csv", "--report", "json").stdout)
    assert report["inserted"] == 103991
    stream_next_day(db, new_listing=False)
    check_through_the_orm(db, started)
    assert operations(db.autogenerate(own_market_ticks=False)) == []
