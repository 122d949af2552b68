"""A WebSocket relay of tickd's Redis ticks, with a page of live prices (Starlette + uvicorn).

"Redis PubSub broadcasts to WebSocket subscribers": one Redis subscription for the whole
process; each WebSocket client first gets the latest tick of every instrument (the
``<prefix>last:<SYMBOL>`` keys tickd keeps), then every tick as it is published. A client that
cannot keep up loses its oldest queued messages, never slows the others. Prices travel as the
exact decimal text tickd wrote.

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
CLIENT_QUEUE = 1000          # messages a slow client may have pending before its oldest go
log = logging.getLogger("tickd.example.relay")


class Hub:
    """The one Redis subscription and the connected clients' queues."""

    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[str]] = set()
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.task: asyncio.Task | None = None

    async def snapshot(self) -> list[str]:
        """The newest message of every instrument, for a client that just joined."""
        keys = sorted([key async for key in self.redis.scan_iter(match=f"{PREFIX}last:*")])
        values = await self.redis.mget(keys) if keys else []
        return [value.decode() for value in values if value]

    async def follow(self) -> None:
        """Relays every message of ``PREFIX*`` to every client; reconnects when Redis goes away."""
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.psubscribe(f"{PREFIX}*")
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
</style></head>
<body>
<h1>Nairobi Securities Exchange — live prices</h1>
<p>From tickd over Redis and this relay's WebSocket. <span id="status">connecting…</span> · <span id="count">0</span> ticks</p>
<table><thead><tr><th>Symbol</th><th>Last</th><th>Change</th><th>Volume</th><th>Time (UTC)</th><th>Seq</th></tr></thead>
<tbody id="rows"></tbody></table>
<script>
const rows = new Map(); const first = new Map(); let count = 0;
function row(symbol) {
  if (rows.has(symbol)) return rows.get(symbol);
  const tr = document.createElement("tr"); tr.id = "row-" + symbol;
  tr.innerHTML = `<td>${symbol}</td><td class="last"></td><td class="change"></td><td class="volume"></td><td class="time"></td><td class="seq"></td>`;
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
    tr.className = Number(price) > Number(previous) ? "flash-up" : "flash-down";
    clearTimeout(tr.flash); tr.flash = setTimeout(() => tr.className = "", 1500);
  }
  document.getElementById("count").textContent = ++count;
}
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => document.getElementById("status").textContent = "live";
  ws.onmessage = event => show(event.data);
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
