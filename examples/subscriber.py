"""Follow tickd's ticks on Redis, every tick exactly once and in seq order per symbol.

tickd publishes each stored tick on ``<prefix><SYMBOL>`` with a per-symbol ``seq`` that grows by
one per tick and continues across restarts (docs/redis.md). Redis pub/sub is fire and forget: a
subscriber that was disconnected (a Redis restart, a network blip) misses what was published
meanwhile, and delivery is at least once. This follower turns that into exactly once:

* a message whose seq is the next one for its symbol is delivered;
* a seq already seen is dropped (a redelivery);
* a seq past the next one is a gap: the missing messages are read first from the symbol's Redis
  stream (``<prefix>stream:<SYMBOL>``, entry IDs ``<seq>-0``, the same JSON), and only the seqs
  the stream no longer holds (trimmed, or Redis restarted empty) from the database by
  ``(symbol, seq)`` (trades from ``market_ticks``, corrections and cancels from
  ``tickd_trade_events``); then the message is delivered;
* after a reconnect, every symbol is caught up the same way (ticks published while it was away
  may be the last ones of their symbol, with no later message to reveal the gap).

Without a database (``--database`` left out: a relay that holds no database credentials), the
streams are all it has: a gap they cannot fill is logged and counted in ``unfilled``.

Run:  python examples/subscriber.py --redis redis://127.0.0.1:6379/0 [--database postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from decimal import Decimal
from typing import Callable

import psycopg
import redis

log = logging.getLogger("tickd.example.subscriber")

# The columns of a message as tickd sends it; numbers stay exact (Decimal). Corrections and
# cancels add action, trade_id and ref_seq (docs/redis.md).
FIELDS = ("symbol", "time", "open", "high", "low", "close", "volume", "seq", "action", "trade_id", "ref_seq")
# Trades come from market_ticks, corrections and cancels from tickd_trade_events, which holds
# what their messages said (docs/redis.md, the gap-fill query).
MESSAGES = """
    SELECT symbol, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           open, high, low, close, volume, seq, action, trade_id, ref_seq
    FROM (
        SELECT m.symbol, m.time, m.open, m.high, m.low, m.close, m.volume, m.seq,
               'trade' AS action, NULL::bigint AS trade_id, NULL::bigint AS ref_seq
        FROM market_ticks m
        WHERE m.symbol = %(symbol)s AND m.seq > %(after)s AND m.seq < %(before)s
          AND NOT EXISTS (SELECT 1 FROM tickd_trade_events e WHERE e.symbol = m.symbol AND e.seq = m.seq)
        UNION ALL
        SELECT e.symbol, e.time, e.open, e.high, e.low, e.close, e.volume, e.seq, e.action, e.trade_seq, e.ref_seq
        FROM tickd_trade_events e WHERE e.symbol = %(symbol)s AND e.seq > %(after)s AND e.seq < %(before)s
    ) g ORDER BY seq
"""


def parse(payload: bytes | str) -> dict:
    """A tick message, its decimals as Decimal (never through a float)."""
    return json.loads(payload, parse_float=Decimal)


class TickFollower:
    """Delivers every tick of ``prefix*`` to ``on_tick`` once, in seq order per symbol."""

    def __init__(self, redis_url: str, database_url: str | None, on_tick: Callable[[dict, str], None],
                 prefix: str = "ticks:", symbols: list[str] | None = None, retry_delay: float = 0.2):
        self.redis_url = redis_url
        self.database_url = database_url
        self.on_tick = on_tick
        self.prefix = prefix
        self.retry_delay = retry_delay
        self.from_stream = 0     # ticks read from the Redis streams (gaps and catch-ups)
        self.filled = 0          # ticks read from the database: what the streams no longer held
        self.unfilled = 0        # seqs neither held (no database given)
        self.redelivered = 0     # messages dropped as already seen
        self.reconnects = 0
        self._stop = threading.Event()
        self._db: psycopg.Connection | None = None
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5.0, socket_connect_timeout=2.0)
        self.last_seq: dict[str, int] = {s: self._start_after(s) for s in symbols or []}

    # -- the database side ---------------------------------------------------------------
    def _database(self) -> psycopg.Connection:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.database_url, autocommit=True)
        return self._db

    def _start_after(self, symbol: str) -> int:
        """Where to start a symbol: what is already published counts as seen (a fresh follower
        does not replay history): the stream's last entry, else what the database stores."""
        newest = self._redis.xrevrange(f"{self.prefix}stream:{symbol}", count=1)
        if newest:
            return int(newest[0][0].decode().split("-")[0])
        if self.database_url is None:
            return 0
        row = self._database().execute(
            "SELECT greatest((SELECT max(seq) FROM market_ticks WHERE symbol = %(s)s),"
            " (SELECT max(seq) FROM tickd_trade_events WHERE symbol = %(s)s), 0)", {"s": symbol}).fetchone()
        return int(row[0])

    def _missed(self, symbol: str, after: int, before: int | None = None) -> list[tuple[dict, str]]:
        """The messages of ``symbol`` with after < seq < before: from its stream, and from the
        database for the seqs before the stream's first (docs/redis.md, "Streams")."""
        upper = f"({before}-0" if before is not None else "+"
        streamed = [(parse(fields[b"tick"]), "stream")
                    for _, fields in self._redis.xrange(f"{self.prefix}stream:{symbol}", f"({after}-0", upper)]
        first = int(streamed[0][0]["seq"]) if streamed else (before if before is not None else None)
        if first is not None and first <= after + 1:
            return streamed
        if self.database_url is None:
            missing = (first - after - 1) if first is not None else 0
            if missing > 0:
                self.unfilled += missing
                log.warning("gap in %s: seq %d-%d are in no stream and there is no database", symbol, after + 1, first - 1)
            return streamed
        return [(row, "database") for row in self._rows(symbol, after, first)] + streamed

    def _rows(self, symbol: str, after: int, before: int | None = None) -> list[dict]:
        """The messages of ``symbol`` with after < seq < before, as tickd sent them."""
        rows = self._database().execute(MESSAGES, {"symbol": symbol, "after": after,
                                                   "before": before if before is not None else 2**62}).fetchall()
        out = []
        for r in rows:
            tick = dict(zip(FIELDS[:8], (r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]))))
            if r[8] != "trade":
                tick.update(action=r[8], trade_id=int(r[9]), ref_seq=int(r[10]))
            out.append(tick)
        return out

    # -- delivery -----------------------------------------------------------------------
    def _deliver(self, tick: dict, source: str) -> None:
        self.last_seq[tick["symbol"]] = tick["seq"]
        self.on_tick(tick, source)

    def handle(self, tick: dict) -> None:
        """One message from Redis."""
        symbol, seq = tick["symbol"], int(tick["seq"])
        tick["seq"] = seq
        if symbol not in self.last_seq:
            # A symbol first seen now: start after what was stored before this message.
            self.last_seq[symbol] = seq - 1
        last = self.last_seq[symbol]
        if seq <= last:
            self.redelivered += 1
            return
        if seq > last + 1:
            missing = self._missed(symbol, last, seq)
            log.info("gap in %s: seq %d-%d, %d read back", symbol, last + 1, seq - 1, len(missing))
            self._deliver_missed(missing)
        self._deliver(tick, "redis")

    def _deliver_missed(self, missed: list[tuple[dict, str]]) -> None:
        for row, source in missed:
            if source == "stream":
                self.from_stream += 1
            else:
                self.filled += 1
            row["seq"] = int(row["seq"])
            self._deliver(row, source)

    def catch_up(self) -> None:
        """After a (re)connect: whatever was published past each symbol's last seq."""
        for symbol, last in list(self.last_seq.items()):
            self._deliver_missed(self._missed(symbol, last))

    # -- the Redis side -----------------------------------------------------------------
    def run(self, ready: threading.Event | None = None) -> None:
        """Follows until ``stop()``; reconnects (with a catch-up) whenever Redis goes away."""
        first = True
        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe(f"{self.prefix}*")
                if not first:
                    self.reconnects += 1
                    log.info("reconnected to Redis; catching up from the streams")
                # Subscribed first, then caught up: nothing falls between the two.
                self.catch_up()
                first = False
                if ready is not None:
                    ready.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    channel = message["channel"].decode()
                    if channel.startswith(f"{self.prefix}last:"):
                        continue
                    self.handle(parse(message["data"]))
                pubsub.close()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                log.info("Redis connection lost (%s); retrying", error)
                time.sleep(self.retry_delay)

    def stop(self) -> None:
        self._stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database", help="the PostgreSQL tickd writes to, for what the streams no longer hold")
    parser.add_argument("--prefix", default="ticks:")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def show(tick: dict, source: str) -> None:
        print(f"{tick['symbol']:<6} seq {tick['seq']:>8} {tick['time']} close {tick['close']} ({source})", flush=True)

    follower = TickFollower(args.redis, args.database, show, prefix=args.prefix)
    try:
        follower.run()
    except KeyboardInterrupt:
        follower.stop()


if __name__ == "__main__":
    main()
