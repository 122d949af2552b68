#!/usr/bin/env python3
"""Generates the recorded sample feeds in Seeds/feeds/ for one NSE trading day.

Deterministic (fixed seed): running it again gives the same files. Uses only the standard
library plus the `zstd` command (Debian package zstd) for the compressed bar feed.

Prices follow the NSE's rules: the tick grid of each price band, and a daily limit of 10% around
the previous close (the seed price for day one, day one's official close for day two).

Outputs, for 2026-01-05 (a Monday; NSE trades 09:00-15:00 Africa/Nairobi = 06:00-12:00 UTC):
  feeds/nse-2026-01-05.trades.csv        trade ticks, headered CSV with aliases
                                         (timestamp,ticker,last,size,trade_id), RFC 3339 +03:00
  feeds/nse-2026-01-05.bars-1m.ndjson.zst  1-minute OHLCV bars built from the same trades, NDJSON
                                         ({"ts": epoch ms, "sym", "open", ... "vol"}), zstd
  feeds/nse-2026-01-06.open.ndjson.gz    the next day's first trading hour (09:00-10:00), trade ticks
                                         as NDJSON (gzip), continuing from day one's closing prices
                                         within 10% of its official closes, with three planted bad
                                         prints: the sample a publisher streams into `tickd run` over TCP
  feeds/nse-2026-01-05.expected.json     what a replay must give: the deliberately bad lines
                                         with their reject reason, and per-symbol totals of the
                                         good ticks computed here, independently of tickd
"""
import csv
import json
import os
import random
import subprocess
from decimal import Decimal
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDS = os.path.join(HERE, "feeds")
DAY = "2026-01-05"
EAT = timezone(timedelta(hours=3))
OPEN = datetime(2026, 1, 5, 9, 0, 0, tzinfo=EAT)
SESSION_SECONDS = 6 * 3600
TARGET_TRADES = 104_000

# Relative trading activity (Safaricom and the big banks dominate NSE turnover).
ACTIVITY = {"SCOM": 30, "EQTY": 12, "KCB": 10, "COOP": 6, "EABL": 5, "NCBA": 4, "KPLC": 4,
            "SCBK": 3, "BAT": 2, "BAMB": 2, "UMME": 3, "NMG": 2, "UCHM": 2, "ARM": 1,
            "CRWN": 1, "UNGA": 1, "KNRE": 2, "JUB": 1, "SLAM": 1, "BOC": 1}


# NSE tick sizes by price band (KES): from each bound up to the next, prices move in these steps.
TICK_SIZES = [(Decimal("1000"), Decimal("5")), (Decimal("500"), Decimal("1")), (Decimal("50"), Decimal("0.25")),
              (Decimal("10"), Decimal("0.05")), (Decimal("5"), Decimal("0.02")), (Decimal("0"), Decimal("0.01"))]


def tick_size(price):
    return next(tick for bound, tick in TICK_SIZES if price >= bound)


def on_grid(price, rounding="ROUND_HALF_UP"):
    step = tick_size(price)
    return ((price / step).to_integral_value(rounding=rounding) * step).quantize(step)


def limit_band(reference):
    """NSE: a trade may move at most 10% from the previous close; the band's on-grid ends."""
    return on_grid(reference * Decimal("0.9"), "ROUND_CEILING"), on_grid(reference * Decimal("1.1"), "ROUND_FLOOR")


def walk(price, move, floor, ceiling):
    """`move` ticks from `price` (ticks of the band it is in), kept on the grid and in the band."""
    return min(ceiling, max(floor, on_grid(price + move * tick_size(price))))


def official_close(rows):
    """NSE official close: the day's VWAP rounded to the nearest tick (rows: (price, size))."""
    volume = sum(size for _, size in rows)
    return on_grid(sum(price * size for price, size in rows) / volume)


def load_instruments():
    with open(os.path.join(HERE, "stocks.csv"), newline="") as f:
        return {row["symbol"]: Decimal(row["price"]) for row in csv.DictReader(f)}


def rfc3339_eat(ms):
    t = OPEN + timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+03:00"


def generate_trades(rng, prices):
    symbols = list(ACTIVITY)
    weights = [ACTIVITY[s] for s in symbols]
    total_weight = sum(weights)
    trades = []  # (ms since open, symbol, price, size, trade_id)
    trade_id = 1_000_000
    for symbol, weight in zip(symbols, weights):
        count = TARGET_TRADES * weight // total_weight
        times = sorted(rng.randrange(0, SESSION_SECONDS * 1000) for _ in range(count))
        reference = prices[symbol]
        # NSE limits a day's move to 10% either side of the previous close; prices stay on the grid.
        floor, ceiling = limit_band(reference)
        price = min(ceiling, max(floor, on_grid(reference)))
        previous_ms = None
        for ms in times:
            # About 1% of trades print at the same instant as the previous one (a sweep of the book).
            if previous_ms is not None and rng.random() < 0.01:
                ms = previous_ms
            # Mean-reverting walk: the further from the reference, the likelier a move back.
            deviation = float((price - reference) / reference)
            if rng.random() < 0.55:
                move = 0
            else:
                down = 0.5 + max(-0.35, min(0.35, deviation * 6))
                move = rng.choice([1, 1, 1, 2]) * (-1 if rng.random() < down else 1)
            price = walk(price, move, floor, ceiling)
            lots = rng.choice([1, 1, 1, 2, 2, 3, 5, 10, 20, 50])
            trades.append((ms, symbol, price, lots * 100))
            previous_ms = ms
    trades.sort(key=lambda t: (t[0], t[1]))
    result = []
    for ms, symbol, price, size in trades:
        trade_id += 1
        result.append((ms, symbol, price, size, trade_id))
    return result


def symbol_as_sent(rng, symbol):
    """Feeds spell symbols in several ways; tickd normalises them all."""
    r = rng.random()
    if r < 0.02:
        return "NSE:" + symbol
    if r < 0.04:
        return symbol.lower() + ".NR"
    if r < 0.05 and symbol == "SCOM":
        return "Safaricom"
    return symbol


def write_trades(rng, trades):
    header = "timestamp,ticker,last,size,trade_id"
    lines = [header]
    for ms, symbol, price, size, trade_id in trades:
        lines.append(f"{rfc3339_eat(ms)},{symbol_as_sent(rng, symbol)},{price},{size},{trade_id}")
    bad = [  # (raw line, reason) — inserted at fixed places
        ("2026-01-05T09:30:00.000+03:00,SCOM,-23.10,100,9000001", "negative_price"),
        ("2026-01-05T09:45:00.000+03:00,KCB,35.4O,100,9000002", "bad_number"),
        ("2026-01-05T10:00:00.000+03:00,XXXX,10.00,100,9000003", "unknown_symbol"),
        ("2026-01-05T25:00:00.000+03:00,EQTY,52.30,100,9000004", "bad_time"),
        ("2026-01-05T10:30:00.000+03:00,EQTY,,100,9000005", "missing_field"),
        ("2026-01-05T11:00:00.000+03:00,COOP,11.20,-100,9000006", "negative_volume"),
        ("2026-01-05T11:15:00.000+03:00,EABL,NaN,100,9000007", "non_finite_price"),
        (b"2026-01-05T11:30:00.000+03:00,SC\xffOM,23.10,100,9000008", "invalid_utf8"),
        ("2099-01-05T11:45:00.000+03:00,SCOM,23.10,100,9000009", "future_time"),
        ('2026-01-05T12:00:00.000+03:00,"SCOM,23.10,100,9000010', "malformed_csv"),
        ("2026-01-05T12:15:00.000+03:00,SCOM,23.10,100," + "9" * 70_000, "line_too_long"),
        ("2026-01-05T12:30:00.000+03:00,');DROP TABLE stocks;--,23.10,100,9000012", "bad_symbol"),
    ]
    rejects = []
    step = (len(lines) - 1) // (len(bad) + 1)
    out = [lines[0].encode()]
    body = lines[1:]
    cursor = 0
    for k, (raw, reason) in enumerate(bad):
        stop = step * (k + 1)
        out.extend(line.encode() for line in body[cursor:stop])
        cursor = stop
        out.append(raw if isinstance(raw, bytes) else raw.encode())
        rejects.append({"line": len(out), "reason": reason})
    out.extend(line.encode() for line in body[cursor:])
    path = os.path.join(FEEDS, f"nse-{DAY}.trades.csv")
    with open(path, "wb") as f:
        f.write(b"\n".join(out) + b"\n")
    return rejects


def build_bars(trades):
    bars = {}
    for ms, symbol, price, size, _ in trades:
        minute = ms // 60_000
        key = (minute, symbol)
        if key not in bars:
            bars[key] = [price, price, price, price, 0]
        bar = bars[key]
        bar[1] = max(bar[1], price)
        bar[2] = min(bar[2], price)
        bar[3] = price
        bar[4] += size
    return [(minute, symbol, *values) for (minute, symbol), values in sorted(bars.items())]


def write_bars(rng, bars):
    open_ms = int(OPEN.timestamp() * 1000)
    lines = []
    for minute, symbol, o, h, l, c, v in bars:
        ts = open_ms + minute * 60_000
        # Half the feed sends prices as numeric strings, as some vendors do.
        if rng.random() < 0.5:
            lines.append(json.dumps({"ts": ts, "sym": symbol, "open": str(o), "high": str(h),
                                     "low": str(l), "close": str(c), "vol": v}, separators=(",", ":")))
        else:
            lines.append(f'{{"ts":{ts},"sym":"{symbol}","open":{o},"high":{h},"low":{l},"close":{c},"vol":{v}}}')
    bad = [
        ('{"ts":%d,"sym":"SCOM","open":23.10,"high":23.20,"low":23.15,"close":23.12,"vol":100}' % (open_ms + 60_000),
         "low_above_open_close"),
        ('{"ts":%d,"sym":"KCB","open":35.40,"high":35.30,"low":35.20,"close":35.45,"vol":100}' % (open_ms + 120_000),
         "high_below_open_close"),
        ('{"ts":%d,"sym":"EQTY","open":52.30,"high":52.40' % (open_ms + 180_000), "malformed_json"),
        ('{"ts":%d,"sym":"COOP","open":11.20,"high":11.25,"low":11.15,"vol":100}' % (open_ms + 240_000),
         "missing_field"),
    ]
    rejects = []
    out = []
    step = len(lines) // (len(bad) + 1)
    cursor = 0
    for k, (raw, reason) in enumerate(bad):
        stop = step * (k + 1)
        out.extend(lines[cursor:stop])
        cursor = stop
        out.append(raw)
        rejects.append({"line": len(out), "reason": reason})
    out.extend(lines[cursor:])
    plain = os.path.join(FEEDS, f"nse-{DAY}.bars-1m.ndjson")
    with open(plain, "w") as f:
        f.write("\n".join(out) + "\n")
    subprocess.run(["zstd", "-q", "-f", "-19", "--rm", plain], check=True)
    return rejects


def totals(rows):
    """Per symbol: count, volume, first/last time (UTC ms), last price, high, low."""
    result = {}
    for ms, symbol, o, h, l, c, v in rows:
        t = result.setdefault(symbol, {"count": 0, "volume": 0, "high": h, "low": l})
        t["count"] += 1
        t["volume"] += v
        if Decimal(h) > Decimal(t["high"]): t["high"] = h
        if Decimal(l) < Decimal(t["low"]): t["low"] = l
        t["last_close"] = c
        t["last_time_ms"] = int(OPEN.timestamp() * 1000) + ms
    return {s: {k: (str(v) if isinstance(v, Decimal) else v) for k, v in t.items()} for s, t in sorted(result.items())}


# Bad prints planted in the second day's feed (index among its trades, what is wrong): tickd's
# price checks must hold them back (price_limit: quarantined by default) or flag them (off_tick).
PLANTED = [(3000, "SCOM", "shifted decimal (x100)", "price_limit"),
           (8000, "EQTY", "15% above the limit band's reference", "price_limit"),
           (12000, "KPLC", "half a tick off the grid", "off_tick")]


def write_next_open(last_prices, closes):
    """The first hour of 2026-01-06, NDJSON trade ticks, from a generator of its own (seed),
    within 10% of day one's official closes and on the grid, but for the PLANTED bad prints."""
    rng = random.Random(20260106)
    next_open = datetime(2026, 1, 6, 9, 0, 0, tzinfo=EAT)
    lines = []
    trade_id = 2_000_000
    for symbol, weight in ACTIVITY.items():
        floor, ceiling = limit_band(closes[symbol])
        price = min(ceiling, max(floor, last_prices[symbol]))
        times = sorted(rng.randrange(0, 3600 * 1000) for _ in range(TARGET_TRADES * weight // sum(ACTIVITY.values()) // 6))
        for ms in times:
            move = rng.choice([-1, 0, 0, 0, 1]) if rng.random() < 0.5 else 0
            price = walk(price, move, floor, ceiling)
            lines.append((ms, symbol, price, rng.choice([1, 1, 2, 5, 10]) * 100))
    lines.sort(key=lambda t: (t[0], t[1]))
    planted = []
    for index, symbol, what, violation in PLANTED:
        ms = lines[index][0]
        good = next(price for t, s, price, _ in reversed(lines[:index]) if s == symbol)
        bad = {"shifted decimal (x100)": good * 100,
               "15% above the limit band's reference": on_grid(closes[symbol] * Decimal("1.15")),
               "half a tick off the grid": good + tick_size(good) / 2}[what]
        lines.insert(index, (ms, symbol, bad, 100))
        planted.append({"index": index, "symbol": symbol, "price": str(bad), "what": what, "violation": violation})
    out = []
    for position, (ms, symbol, price, size) in enumerate(lines):
        trade_id += 1
        for p in planted:
            if p["index"] == position:
                p["trade_id"] = trade_id
        t = next_open + timedelta(milliseconds=ms)
        out.append(json.dumps({"ts": t.isoformat(timespec="milliseconds"), "symbol": symbol, "px": str(price),
                               "qty": size, "trade_id": trade_id}, separators=(",", ":")))
    path = os.path.join(FEEDS, "nse-2026-01-06.open.ndjson")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    subprocess.run(["gzip", "-9", "-n", "-f", path], check=True)
    for p in planted:
        del p["index"]
    return len(out), planted


def main():
    os.makedirs(FEEDS, exist_ok=True)
    rng = random.Random(20260105)
    trades = generate_trades(rng, load_instruments())
    trade_rejects = write_trades(rng, trades)
    bars = build_bars(trades)
    bar_rejects = write_bars(rng, bars)
    trade_rows = [(ms, s, p, p, p, p, size) for ms, s, p, size, _ in trades]
    bar_rows = [(minute * 60_000, s, o, h, l, c, v) for minute, s, o, h, l, c, v in bars]
    expected = {
        "day": DAY,
        "files": {
            f"nse-{DAY}.trades.csv": {
                "format": "csv", "records": len(trades) + len(trade_rejects),
                "accepted": len(trades), "rejects": trade_rejects, "symbols": totals(trade_rows)},
            f"nse-{DAY}.bars-1m.ndjson.zst": {
                "format": "ndjson", "records": len(bars) + len(bar_rejects),
                "accepted": len(bars), "rejects": bar_rejects, "symbols": totals(bar_rows)},
        },
    }
    by_symbol = {}
    for _, symbol, price, size, _ in trades:
        by_symbol.setdefault(symbol, []).append((price, size))
    closes = {symbol: official_close(rows) for symbol, rows in by_symbol.items()}
    day_two, planted = write_next_open({s: Decimal(t["last_close"]) for s, t in totals(trade_rows).items()}, closes)
    expected["files"]["nse-2026-01-06.open.ndjson.gz"] = {"format": "ndjson", "records": day_two, "accepted": day_two, "rejects": [],
                                                          "planted_bad_prints": planted}
    expected["official_close"] = {"day": DAY, "rule": "VWAP rounded to the NSE tick grid",
                                  "closes": {symbol: str(close) for symbol, close in sorted(closes.items())}}
    with open(os.path.join(FEEDS, f"nse-{DAY}.expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(trades)} trades, {len(bars)} bars, {len(trade_rejects) + len(bar_rejects)} bad lines")


if __name__ == "__main__":
    main()
