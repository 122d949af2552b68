"""A WebSocket relay of tickd's Redis ticks and live candles, with a page of live prices and a
1-minute candle chart (Starlette + uvicorn).

"Redis PubSub broadcasts to WebSocket subscribers": one Redis subscription for the whole
process; each WebSocket client first gets the latest tick of every instrument and its newest
minute candle (the ``<prefix>last:<SYMBOL>`` and ``<candles>1m:last:<SYMBOL>`` keys tickd keeps),
then every tick and every revised minute candle as it is published. A client that cannot keep
up loses its oldest queued messages, never slows the others. Prices travel as the exact decimal
text tickd wrote. The relay holds no state and no database credentials: killed and started
again, it subscribes again and its clients, reconnecting, get the snapshot again.

Run:  REDIS_URL=redis://127.0.0.1:6379/0 uvicorn relay:app --app-dir examples --port 8000 --timeout-graceful-shutdown 5
      (open WebSockets never end by themselves: the timeout closes them on SIGTERM)
      then open http://127.0.0.1:8000/
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import redis.asyncio as redis
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("TICKS_PREFIX", "ticks:")
CANDLES = os.environ.get("CANDLES_PREFIX", "candles:")
CLIENT_QUEUE = 1000          # messages a slow client may have pending before its oldest go
log = logging.getLogger("tickd.example.relay")


class Hub:
    """The one Redis subscription and the connected clients' queues."""

    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[str]] = set()
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.task: asyncio.Task | None = None

    async def snapshot(self) -> list[str]:
        """The newest tick and minute candle of every instrument, for a client that just joined.
        Subscribed first (``follow``), read second: nothing published in between is missed."""
        keys = sorted([key async for key in self.redis.scan_iter(match=f"{PREFIX}last:*")])
        keys += sorted([key async for key in self.redis.scan_iter(match=f"{CANDLES}1m:last:*")])
        values = await self.redis.mget(keys) if keys else []
        return [value.decode() for value in values if value]

    async def follow(self) -> None:
        """Relays every message of ``PREFIX*`` to every client; reconnects when Redis goes away."""
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.psubscribe(f"{PREFIX}*", f"{CANDLES}1m:*")
                async for message in pubsub.listen():
                    if message["type"] != "pmessage" or message["channel"].decode().startswith(f"{PREFIX}last:"):
                        continue
                    payload = message["data"].decode()
                    for queue in list(self.clients):
                        if queue.full():
                            queue.get_nowait()   # drop this client's oldest, not everyone's speed
                        queue.put_nowait(payload)
            except (redis.ConnectionError, OSError) as error:
                log.warning("Redis connection lost (%s); retrying", error)
                await asyncio.sleep(0.5)


hub = Hub()


async def websocket(ws: WebSocket) -> None:
    await ws.accept()
    queue: asyncio.Queue[str] = asyncio.Queue(CLIENT_QUEUE)
    hub.clients.add(queue)
    try:
        for payload in await hub.snapshot():
            await ws.send_text(payload)
        while True:
            await ws.send_text(await queue.get())
    except WebSocketDisconnect:
        pass
    except asyncio.CancelledError:
        # uvicorn cancels the sockets still open when its graceful-shutdown timeout ends: the
        # way this relay stops (SIGTERM), not an error to report with a traceback.
        pass
    finally:
        hub.clients.discard(queue)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NSE live prices · tickd</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 24px; color: #1d2a33; background: #f6f8fa; }
  h1 { font-size: 20px; margin: 0 0 4px; } p { margin: 0 0 16px; color: #5b6b77; }
  table { border-collapse: collapse; background: white; min-width: 560px; box-shadow: 0 1px 3px #0002; }
  th, td { padding: 6px 14px; text-align: right; border-bottom: 1px solid #e6eaee; }
  th:first-child, td:first-child { text-align: left; font-weight: 600; }
  th { background: #1d2a33; color: white; font-weight: 500; }
  .up { color: #0a7d32; } .down { color: #c0262d; }
  tr.flash-up td { background: #dff5e6; } tr.flash-down td { background: #fbe3e4; }
  tbody tr { cursor: pointer; } tr.charted td:first-child { text-decoration: underline; }
  h2 { font-size: 16px; margin: 20px 0 6px; }
  canvas { background: white; box-shadow: 0 1px 3px #0002; }
</style></head>
<body>
<h1>Nairobi Securities Exchange — live prices</h1>
<p>From tickd over Redis and this relay's WebSocket. <span id="status">connecting…</span> · <span id="count">0</span> ticks</p>
<table><thead><tr><th>Symbol</th><th>Last</th><th>Change</th><th>Volume</th><th>Time (UTC)</th><th>Seq</th></tr></thead>
<tbody id="rows"></tbody></table>
<h2>1-minute candles · <span id="chart-symbol">—</span> · <span id="bars">0</span> bars <small>(click a row to chart it)</small></h2>
<canvas id="chart" width="660" height="220"></canvas>
<script>
const rows = new Map(); const first = new Map(); let count = 0;
// Per symbol, its minute candles by bucket: each message is the whole candle, replacing the bar.
const candles = new Map(); let charted = null;
function exact(text, field) { const m = new RegExp(`"${field}":([-0-9.]+|null)`).exec(text); return m ? m[1] : null; }
function candle(text) {
  const c = JSON.parse(text);
  c.exact = Object.fromEntries(["open", "high", "low", "close", "vwap"].map(f => [f, exact(text, f)]));
  if (!candles.has(c.symbol)) candles.set(c.symbol, new Map());
  if (c.ticks === 0) candles.get(c.symbol).delete(c.bucket); else candles.get(c.symbol).set(c.bucket, c);
  if (charted === null) chart(c.symbol); else if (c.symbol === charted) draw();
}
function chart(symbol) {
  if (charted && rows.has(charted)) rows.get(charted).classList.remove("charted");
  charted = symbol; if (rows.has(symbol)) rows.get(symbol).classList.add("charted");
  document.getElementById("chart-symbol").textContent = symbol; draw();
}
function draw() {
  const canvas = document.getElementById("chart"), g = canvas.getContext("2d"), slots = 40;
  g.clearRect(0, 0, canvas.width, canvas.height);
  const bars = [...(candles.get(charted) || new Map()).values()].sort((a, b) => a.bucket < b.bucket ? -1 : 1).slice(-slots);
  document.getElementById("bars").textContent = bars.length;
  if (!bars.length) return;
  const n = v => Number(v), hi = Math.max(...bars.map(b => n(b.exact.high))), lo = Math.min(...bars.map(b => n(b.exact.low)));
  const pad = (hi - lo) * 0.1 || 0.5, top = hi + pad, bottom = lo - pad;
  const y = v => 8 + (top - v) / (top - bottom) * (canvas.height - 30), w = (canvas.width - 60) / slots;
  bars.forEach((b, i) => {
    const x = 52 + i * w + w / 2, o = n(b.exact.open), c = n(b.exact.close);
    g.strokeStyle = g.fillStyle = c >= o ? "#0a7d32" : "#c0262d";
    g.beginPath(); g.moveTo(x, y(n(b.exact.high))); g.lineTo(x, y(n(b.exact.low))); g.stroke();
    g.fillRect(x - w * 0.35, y(Math.max(o, c)), w * 0.7, Math.max(1, y(Math.min(o, c)) - y(Math.max(o, c))));
  });
  g.fillStyle = "#5b6b77"; g.font = "11px system-ui";
  g.fillText(top.toFixed(2), 4, 16); g.fillText(bottom.toFixed(2), 4, canvas.height - 24);
  g.fillText(bars[0].bucket.slice(11, 16), 52, canvas.height - 6);
  g.fillText(bars[bars.length - 1].bucket.slice(11, 16) + " UTC", canvas.width - 64, canvas.height - 6);
}
// For a test, or a console: the exact decimals of a drawn bar.
window.candleOf = (symbol, bucket) => candles.get(symbol)?.get(bucket)?.exact ?? null;
function row(symbol) {
  if (rows.has(symbol)) return rows.get(symbol);
  const tr = document.createElement("tr"); tr.id = "row-" + symbol;
  tr.innerHTML = `<td>${symbol}</td><td class="last"></td><td class="change"></td><td class="volume"></td><td class="time"></td><td class="seq"></td>`;
  tr.onclick = () => chart(symbol); if (symbol === charted) tr.classList.add("charted");
  const body = document.getElementById("rows");
  const after = [...body.children].find(r => r.id > tr.id); body.insertBefore(tr, after || null);
  rows.set(symbol, tr); return tr;
}
function show(text) {
  // Prices stay text: the exact decimals tickd wrote.
  const price = /"close":([-0-9.]+)/.exec(text)[1], tick = JSON.parse(text);
  const tr = row(tick.symbol), previous = tr.querySelector(".last").textContent;
  if (!first.has(tick.symbol)) first.set(tick.symbol, Number(price));
  const change = Number(price) - first.get(tick.symbol);
  tr.querySelector(".last").textContent = price;
  const cell = tr.querySelector(".change");
  cell.textContent = (change >= 0 ? "+" : "") + change.toFixed(2); cell.className = "change " + (change > 0 ? "up" : change < 0 ? "down" : "");
  tr.querySelector(".volume").textContent = tick.volume;
  tr.querySelector(".time").textContent = tick.time.slice(11, 23);
  tr.querySelector(".seq").textContent = tick.seq;
  if (previous && previous !== price) {
    tr.classList.remove("flash-up", "flash-down"); tr.classList.add(Number(price) > Number(previous) ? "flash-up" : "flash-down");
    clearTimeout(tr.flash); tr.flash = setTimeout(() => tr.classList.remove("flash-up", "flash-down"), 1500);
  }
  document.getElementById("count").textContent = ++count;
}
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => document.getElementById("status").textContent = "live";
  ws.onmessage = event => event.data.includes('"interval":') ? candle(event.data) : show(event.data);
  ws.onclose = () => { document.getElementById("status").textContent = "reconnecting…"; setTimeout(connect, 1000); };
}
connect();
</script></body></html>"""


async def page(request) -> HTMLResponse:
    return HTMLResponse(PAGE)


@contextlib.asynccontextmanager
async def lifespan(app):
    hub.task = asyncio.create_task(hub.follow())
    yield
    hub.task.cancel()


app = Starlette(routes=[Route("/", page), WebSocketRoute("/ws", websocket)], lifespan=lifespan)
