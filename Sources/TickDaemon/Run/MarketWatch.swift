import CoreMetrics
import Logging
import ServiceLifecycle
import Synchronization
import TickEngine
import TickModel
import TickNormalisation
import TickSinks

/// Watches the market against the exchange's session, every `interval`:
/// `tickd_symbol_last_trade_age_seconds{symbol}` for every instrument that traded; during the
/// session, an instrument without a trade for `staleAfter` (counted from the later of its last
/// trade and today's pre-open) is logged once and shown by `tickd_symbol_stale{symbol}`; and no
/// tick at all for `feedSilentAfter` makes `/readyz` say so (degraded, still 200) and sets
/// `tickd_feed_silent`.
final class MarketWatch: Service, Sendable, CustomStringConvertible, TradeWatch {
    let session: TradingSession
    let zone: ExchangeZone
    let staleAfter: Duration
    let feedSilentAfter: Duration
    let interval: Duration
    private let readiness: Readiness
    private let logger: Logger

    private struct State {
        var lastTrade: [Symbol: Timestamp] = [:]
        var stale: Set<Symbol> = []
        var lastReceived = ContinuousClock.now
        var silent = false
    }
    private let state = Mutex(State())
    private let feedSilent = Gauge(label: "tickd_feed_silent")

    var description: String { "market watch" }

    init(session: TradingSession, zone: ExchangeZone, staleAfter: Duration, feedSilentAfter: Duration, interval: Duration = .seconds(5),
         lastTrades: [Symbol: Timestamp], readiness: Readiness, logger: Logger) {
        self.session = session
        self.zone = zone
        self.staleAfter = staleAfter
        self.feedSilentAfter = feedSilentAfter
        self.interval = interval
        self.readiness = readiness
        self.logger = logger
        state.withLock { $0.lastTrade = lastTrades }
    }

    /// A chunk of ticks arrived from a source.
    func received() { state.withLock { $0.lastReceived = .now } }

    /// A batch committed: the newest trade of each symbol in it.
    func committed(_ result: BatchResult) {
        guard !result.stored.isEmpty else { return }
        state.withLock { s in
            for stored in result.stored where stored.keyed.tick.action != .cancel {
                let tick = stored.keyed.tick
                if s.lastTrade[tick.symbol].map({ $0 < tick.time }) ?? true { s.lastTrade[tick.symbol] = tick.time }
            }
        }
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            while true {
                check(wall: .now(), now: .now)
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One look at the market at wall-clock `wall` (monotonic `now`).
    func check(wall: Timestamp, now: ContinuousClock.Instant) {
        let local = wall.secondsSinceEpoch + zone.offsetSeconds(at: wall)
        let open = session.isOpen(atLocalSeconds: local)
        // Today's pre-open as an instant: staleness counts from there at the earliest.
        let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let preOpen = Timestamp(secondsSinceEpoch: wall.secondsSinceEpoch - (local - day * 86_400) + Int64(session.preOpen))
        let (newlyStale, trading, silentNow, silentFor) = state.withLock { s -> ([Symbol], [Symbol], Bool?, Duration) in
            var newlyStale: [Symbol] = [], trading: [Symbol] = []
            for (symbol, last) in s.lastTrade {
                Gauge(label: "tickd_symbol_last_trade_age_seconds", dimensions: [("symbol", symbol.rawValue)])
                    .record(Double(wall.nanosecondsSinceEpoch - last.nanosecondsSinceEpoch) / 1e9)
                let quietSince = max(last, preOpen)
                let isStale = open && Duration.nanoseconds(wall.nanosecondsSinceEpoch - quietSince.nanosecondsSinceEpoch) >= staleAfter
                if isStale && s.stale.insert(symbol).inserted { newlyStale.append(symbol) }
                if !isStale && s.stale.remove(symbol) != nil { trading.append(symbol) }
            }
            let silentFor = now - s.lastReceived
            let silent = open && silentFor >= feedSilentAfter
            let changed: Bool? = silent != s.silent ? silent : nil
            s.silent = silent
            return (newlyStale, trading, changed, silentFor)
        }
        for symbol in newlyStale.sorted(by: { $0.rawValue < $1.rawValue }) {
            Gauge(label: "tickd_symbol_stale", dimensions: [("symbol", symbol.rawValue)]).record(1)
            logger.warning("instrument stale: no trade during the session", metadata: ["symbol": "\(symbol)", "stale_after": "\(staleAfter)"])
        }
        for symbol in trading {
            Gauge(label: "tickd_symbol_stale", dimensions: [("symbol", symbol.rawValue)]).record(0)
            logger.notice("instrument trading again", metadata: ["symbol": "\(symbol)"])
        }
        if let silentNow {
            feedSilent.record(silentNow ? 1 : 0)
            let note = "feed silent: no tick for \(Int(silentFor.seconds)) s during the trading session"
            readiness.setDegraded(silentNow ? note : nil, key: "feed")
            if silentNow { logger.warning("feed silent during the trading session", metadata: ["seconds": "\(Int(silentFor.seconds))"]) }
            else { logger.notice("feed: ticks arriving again") }
        }
    }
}
