"""The examples against the real thing: tickd run, the test setup's PostgreSQL, a private Redis.

Run by the test command (scripts/test.sh) after the Swift tests, with DATABASE_URL set to the
test setup's PostgreSQL and TICKD_BIN to the tickd it built.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
from subscriber import TickFollower  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import eventually, free_port  # noqa: E402

SYMBOLS = [line.split(",")[0] for line in (ROOT / "Seeds/stocks.csv").read_text().splitlines()[1:] if line]


class PrivateRedis:
    """A redis-server of the test's own on a fixed port, so that it can be killed and restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        assert eventually(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                                 capture_output=True).stdout.strip() == b"PONG", 10)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class Stack:
    """A schema of its own, migrated and seeded, a private Redis and `tickd run` on both."""

    def __init__(self) -> None:
        base = os.environ["DATABASE_URL"]
        self.schema = "ex_" + uuid.uuid4().hex[:10]
        with psycopg.connect(base, autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {self.schema}")
        joiner = "&" if "?" in base else "?"
        self.database_url = f"{base}{joiner}options=-csearch_path%3D{self.schema}%2Cpublic"
        self.redis = PrivateRedis()
        self.prefix = f"{self.schema}:ticks:"
        self.candle_prefix = f"{self.schema}:candles:"
        self.work = Path(tempfile.mkdtemp(prefix="tickd-examples-"))
        self.tickd = os.environ.get("TICKD_BIN") or str(ROOT / ".build/debug/tickd")
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("TICKD_")},
                    "DATABASE_URL": self.database_url, "REDIS_URL": self.redis.url,
                    "TICKD_REDIS_PREFIX": self.prefix, "TICKD_REDIS_CANDLE_PREFIX": self.candle_prefix,
                    "TICKD_EXCHANGE_PROFILE": "plain",
                    "TICKD_DEAD_LETTER_PATH": str(self.work / "dead-letters.jsonl"),
                    "TICKD_JOURNAL_DIRECTORY": str(self.work / "journal"), "TICKD_LOG_FORMAT": "logfmt"}
        for command in (["migrate"], ["seed", "Seeds/stocks.csv"]):
            subprocess.run([self.tickd, *command], cwd=ROOT, env=self.env, check=True, capture_output=True)
        self.log = open(self.work / "tickd.log", "w+")
        self.daemon = subprocess.Popen([self.tickd, "run", "--listen", "127.0.0.1:0"], cwd=ROOT, env=self.env,
                                       stdout=self.log, stderr=subprocess.STDOUT)
        port = None

        def listening() -> bool:
            nonlocal port
            found = re.search(r"listening for feed publishers.*port=(\d+)", (self.work / "tickd.log").read_text())
            port = int(found.group(1)) if found else None
            return port is not None
        assert eventually(listening, 60), (self.work / "tickd.log").read_text()
        self.port = port

    def rows(self, query: str) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True) as db:
            return db.execute(query).fetchall()

    def stop(self) -> None:
        if self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(60)

    def close(self) -> None:
        self.stop()
        self.redis.kill()
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
            db.execute(f"DROP SCHEMA {self.schema} CASCADE")
        shutil.rmtree(self.work, ignore_errors=True)


def tick_lines(start: int, count: int) -> bytes:
    """Trades of the 20 instruments in turn, one second apart, each with its own trade_id; a
    symbol's price moves with every trade of it (no short cycle)."""
    lines = []
    for i in range(start, start + count):
        t = 6 * 3600 + i
        lines.append(f"2026-01-05T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z,{SYMBOLS[i % 20]},"
                     f"{20 + i % 20 + i // 20 % 7}.{i * 7 % 100:02d},{100 * (1 + i % 9)},{i + 1}\n")
    return "".join(lines).encode()


@pytest.fixture
def stack():
    stack = Stack()
    yield stack
    stack.close()


def test_the_subscriber_ends_with_every_tick_exactly_once_across_a_redis_restart(stack):
    delivered: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def on_tick(tick: dict, source: str) -> None:
        with lock:
            delivered.append((tick["symbol"], tick["seq"], source))

    # Three seconds before each reconnect: ticks published meanwhile are missed.
    follower = TickFollower(stack.redis.url, stack.database_url, on_tick, prefix=stack.prefix, symbols=SYMBOLS,
                            retry_delay=3.0)
    ready = threading.Event()
    thread = threading.Thread(target=follower.run, args=(ready,), daemon=True)
    thread.start()
    assert ready.wait(30)
    total, third = 6000, 2000

    def stored_count() -> int:
        return stack.rows("SELECT count(*) FROM market_ticks")[0][0]

    with socket.create_connection(("127.0.0.1", stack.port)) as feed:
        def send(start: int) -> None:
            for chunk in range(start, start + third, 100):
                feed.sendall(tick_lines(chunk, 100))
                time.sleep(0.01)                   # about 10,000 ticks/s
        feed.sendall(b"time,symbol,price,volume,trade_id\n")
        send(0)
        assert eventually(lambda: stored_count() == third and len(delivered) == third, 60)
        # Redis drops the subscriber while it stays up: the next third is stored and published
        # before the subscriber is back, so it reads those ticks from the database.
        subprocess.run(["redis-cli", "-p", str(stack.redis.port), "CLIENT", "KILL", "TYPE", "pubsub"],
                       check=True, capture_output=True)
        send(third)
        assert eventually(lambda: stored_count() == 2 * third, 60)
        # Redis dies mid-stream and comes back empty: tickd keeps its messages and sends them when
        # it reconnects; the subscriber may miss some, or get some twice.
        stack.redis.kill()
        time.sleep(1.0)
        stack.redis.start()
        send(2 * third)
    assert eventually(lambda: stored_count() == total, 60)
    stack.stop()
    stored = {(symbol, seq) for symbol, seq in stack.rows("SELECT symbol, seq FROM market_ticks")}
    assert eventually(lambda: len(delivered) >= len(stored), 30), f"{len(delivered)} of {len(stored)} delivered"
    follower.stop()
    thread.join(10)
    keys = [(symbol, seq) for symbol, seq, _ in delivered]
    assert len(keys) == len(set(keys)), "a tick was delivered twice"
    assert set(keys) == stored, f"missing {len(stored - set(keys))}, unexpected {len(set(keys) - stored)}"
    # In seq order per symbol, with no hole.
    for symbol in SYMBOLS:
        seqs = [seq for s, seq, _ in delivered if s == symbol]
        assert seqs == list(range(1, len(seqs) + 1)), symbol
    from_database = sum(1 for *_, source in delivered if source == "database")
    from_stream = sum(1 for *_, source in delivered if source == "stream")
    print(f"\nsubscriber: {len(delivered)} ticks exactly once; {from_stream} read back from the Redis streams and "
          f"{from_database} from the database after being dropped and the Redis restart, {follower.redelivered} "
          f"redeliveries dropped, {follower.reconnects} reconnect(s)")
    assert follower.reconnects >= 1
    assert from_stream + from_database > 0, "no gap: the test did not exercise the fill"


def test_a_gap_is_read_from_the_stream_and_from_the_database_only_where_the_stream_no_longer_reaches(stack):
    with socket.create_connection(("127.0.0.1", stack.port)) as feed:
        feed.sendall(b"time,symbol,price,volume,trade_id\n" + tick_lines(0, 2000))
    assert eventually(lambda: stack.rows("SELECT count(*) FROM market_ticks")[0][0] == 2000, 60)
    client = redis.Redis.from_url(stack.redis.url)
    stream = f"{stack.prefix}stream:{SYMBOLS[0]}"
    assert eventually(lambda: client.xlen(stream) == 100, 30)
    # The stream keeps seqs 61-100 of the first symbol: 1-60 must come from the database.
    client.xtrim(stream, minid="61-0")
    follower = TickFollower(stack.redis.url, stack.database_url, lambda tick, source: None, prefix=stack.prefix)
    missed = follower._missed(SYMBOLS[0], 0, 101)
    assert [int(tick["seq"]) for tick, _ in missed] == list(range(1, 101))
    assert [source for _, source in missed] == ["database"] * 60 + ["stream"] * 40
    # The same ticks either way: the stream's JSON and the database's rows agree.
    by_seq = {int(tick["seq"]): tick for tick, _ in follower._missed(SYMBOLS[0], 60, 101)}
    rows = {int(tick["seq"]): tick for tick in follower._rows(SYMBOLS[0], 60, 101)}
    assert {seq: (t["close"], t["volume"], t["time"]) for seq, t in by_seq.items()} == \
           {seq: (t["close"], t["volume"], t["time"]) for seq, t in rows.items()}
    # Without a database, the seqs the stream lost are counted, not invented.
    blind = TickFollower(stack.redis.url, None, lambda tick, source: None, prefix=stack.prefix)
    assert [int(tick["seq"]) for tick, _ in blind._missed(SYMBOLS[0], 0, 101)] == list(range(61, 101))
    assert blind.unfilled == 60


def stream_lines(start: int, count: int) -> bytes:
    """Trades of the 20 instruments in turn, ten per second of feed time from 2026-01-06 00:00 UTC
    (days of them fit), trade ids from 1,000,001."""
    lines = []
    for i in range(start, start + count):
        tenths = i
        t, tenth = tenths // 10, tenths % 10
        day, t = 6 + t // 86400, t % 86400
        lines.append(f"2026-01-{day:02d}T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}.{tenth}Z,{SYMBOLS[i % 20]},"
                     f"{20 + i % 20 + i // 20 % 7}.{i * 7 % 100:02d},{100 * (1 + i % 9)},{1_000_001 + i}\n")
    return "".join(lines).encode()


def test_a_subscriber_cut_off_for_ten_seconds_recovers_every_tick_from_the_streams_without_a_database(stack):
    # The replay rate of this machine, now: a replay of 20,000 trades of another day.
    feed = stack.work / "rate.csv"
    feed.write_bytes(b"time,symbol,price,volume,trade_id\n" + tick_lines(30_000, 20_000))
    replayed = subprocess.run([stack.tickd, "replay", str(feed), "--report", "json"], cwd=ROOT, env=stack.env,
                              check=True, capture_output=True, text=True)
    rate = float(re.search(r'"ticks_per_second":([0-9.]+)', replayed.stdout).group(1))
    target = 0.4 * rate
    delivered: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def on_tick(tick: dict, source: str) -> None:
        with lock:
            delivered.append((tick["symbol"], tick["seq"], source))

    # No database: the relay that holds no credentials. Ten seconds between losing Redis and
    # coming back.
    follower = TickFollower(stack.redis.url, None, on_tick, prefix=stack.prefix, symbols=SYMBOLS, retry_delay=10.0)
    start = {symbol: seq for symbol, seq in follower.last_seq.items()}
    ready = threading.Event()
    thread = threading.Thread(target=follower.run, args=(ready,), daemon=True)
    thread.start()
    assert ready.wait(30)
    sent = 0
    began = time.monotonic()
    killed = False
    with socket.create_connection(("127.0.0.1", stack.port)) as connection:
        connection.sendall(b"time,symbol,price,volume,trade_id\n")
        while time.monotonic() - began < 16:
            due = int((time.monotonic() - began) * target)
            if due > sent:
                connection.sendall(stream_lines(sent, due - sent))
                sent = due
            if not killed and time.monotonic() - began > 2:
                subprocess.run(["redis-cli", "-p", str(stack.redis.port), "CLIENT", "KILL", "TYPE", "pubsub"],
                               check=True, capture_output=True)
                killed = True
            time.sleep(0.01)
    expected = 20_000 + sent
    assert eventually(lambda: stack.rows("SELECT count(*) FROM market_ticks")[0][0] == expected, 120)
    assert eventually(lambda: len(delivered) >= sent, 60), f"{len(delivered)} of {sent} delivered"
    follower.stop()
    thread.join(10)
    keys = [(symbol, seq) for symbol, seq, _ in delivered]
    assert len(keys) == len(set(keys)), "a tick was delivered twice"
    assert len(keys) == sent
    for symbol in SYMBOLS:
        seqs = [seq for s, seq, _ in delivered if s == symbol]
        assert seqs == list(range(start[symbol] + 1, start[symbol] + 1 + len(seqs))), symbol
    from_stream = sum(1 for *_, source in delivered if source == "stream")
    print(f"\nsubscriber without a database: replay {rate:.0f} ticks/s, streamed at {target:.0f}/s for 16 s; cut off "
          f"10 s, {from_stream} of {sent} ticks read back from the streams, {follower.unfilled} lost, exactly once, in order")
    assert from_stream > 0 and follower.unfilled == 0 and follower.reconnects >= 1
    assert follower._db is None, "the follower opened a database connection"


def start_relay(stack, port: int) -> subprocess.Popen:
    relay = subprocess.Popen([sys.executable, "-m", "uvicorn", "relay:app", "--app-dir", str(ROOT / "examples"),
                              "--port", str(port), "--log-level", "warning", "--timeout-graceful-shutdown", "2"],
                             env={**os.environ, "REDIS_URL": stack.redis.url, "TICKS_PREFIX": stack.prefix,
                                  "CANDLES_PREFIX": stack.candle_prefix})

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    assert eventually(up, 30)
    return relay


def test_the_relay_page_shows_prices_and_candles_and_outlives_a_relay_killed_and_restarted(stack, tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    port = free_port()
    relay = start_relay(stack, port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 760, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=30000)
            feed = socket.create_connection(("127.0.0.1", stack.port))
            # Ticks 0-1199 (06:00:00-06:19:59 UTC) while the relay runs.
            feed.sendall(b"time,symbol,price,volume,trade_id\n" + tick_lines(0, 400))
            page.wait_for_function("document.querySelectorAll('#rows tr').length === 20", timeout=30000)
            before = page.eval_on_selector_all("#rows .last", "cells => cells.map(c => c.textContent)")
            for chunk in range(400, 1200, 40):
                feed.sendall(tick_lines(chunk, 40))
                time.sleep(0.05)
            page.wait_for_function("Number(document.getElementById('count').textContent) >= 1200", timeout=30000)
            shot = Path(os.environ.get("EXAMPLES_SCREENSHOT", tmp_path / "relay.png"))
            page.screenshot(path=str(shot))
            charted = page.eval_on_selector("#chart-symbol", "e => e.textContent")

            # The relay is killed; ticks 1200-1399 (06:20:00-06:23:19) go out while it is down.
            relay.kill()
            relay.wait()
            page.wait_for_function("document.getElementById('status').textContent === 'reconnecting…'", timeout=30000)
            feed.sendall(tick_lines(1200, 200))
            assert eventually(lambda: stack.rows("SELECT count(*) FROM market_ticks")[0][0] == 1400, 60)
            relay = start_relay(stack, port)
            page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=30000)
            # Ticks 1400-1999 (to 06:33:19) after it is back.
            for chunk in range(1400, 2000, 40):
                feed.sendall(tick_lines(chunk, 40))
                time.sleep(0.05)
            assert eventually(lambda: stack.rows("SELECT count(*) FROM market_ticks")[0][0] == 2000, 60)
            latest = dict(stack.rows("SELECT DISTINCT ON (symbol) symbol, close::text FROM market_ticks "
                                     "ORDER BY symbol, time DESC, trade_seq DESC"))
            page.wait_for_function("expected => [...document.querySelectorAll('#rows tr')].every("
                                   "tr => tr.querySelector('.last').textContent === expected[tr.id.slice(4)])", arg=latest,
                                   timeout=30000)
            after = page.eval_on_selector_all("#rows .last", "cells => cells.map(c => c.textContent)")
            # The candle definition over the stored ticks (the TimescaleDB aggregate itself is
            # refreshed within timescale.refresh_interval_ms of a commit, so it may lag here).
            views = stack.rows("SELECT to_char(date_trunc('minute', time) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
                               "(array_agg(open ORDER BY time, trade_seq))[1], max(high), min(low), "
                               "(array_agg(close ORDER BY time DESC, trade_seq DESC))[1], "
                               "round(sum(close * volume) / sum(volume), 4) "
                               f"FROM market_ticks WHERE symbol = '{charted}' GROUP BY 1 ORDER BY 1")
            newest = views[-1][0]
            page.wait_for_function("([s, b, c]) => (window.candleOf(s, b) || {}).close === c", arg=[charted, newest, str(views[-1][4])],
                                   timeout=30000)
            drawn = {bucket: page.evaluate("([s, b]) => window.candleOf(s, b)", [charted, bucket]) for bucket, *_ in views}
            feed.close()
            browser.close()
        changed = sum(1 for a, b in zip(before, after) if a != b)
        # Every bar the page drew equals the candle of its minute; the minutes that began and ended while
        # the relay was down (06:20-06:22) are not drawn: a relay without database credentials
        # has only the newest candle of each symbol to give a client that comes back.
        agreed, missing = 0, []
        for bucket, *values in views:
            bar = drawn[bucket]
            if bar is None:
                missing.append(bucket[11:16])
                continue
            assert [Decimal(bar[f]) for f in ("open", "high", "low", "close", "vwap")] == list(values), (bucket, bar, values)
            agreed += 1
        print(f"\nrelay: 20 instruments on the page, {changed} prices changed while ticks flowed; {charted}: {agreed} minute "
              f"bars equal to their candle over market_ticks, not drawn {missing} (the relay was down); killed and restarted once; "
              f"screenshot {shot}")
        assert changed >= 10 and agreed >= 25 and set(missing) <= {"06:20", "06:21", "06:22"}
    finally:
        relay.terminate()
        try:
            relay.wait(10)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait()
