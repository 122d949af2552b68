import CoreMetrics
import LibPQ
import Logging
import ServiceLifecycle
import Synchronization
import TickEngine
import TickModel
import TickNormalisation
import TickSinks

/// Follows the trading status every `interval`: moves the market's phase with the exchange's
/// session clock, and publishes every change recorded (from a feed, an operator or the clock) on
/// Redis, `<status prefix><SYMBOL>` and `<status prefix>market`, in the order recorded, setting
/// the key of the same name to the current status. At start it publishes every current status
/// once, so a change committed just before a crash (or while no tickd ran) still goes out.
///
/// The clock: at each boundary of the session (pre-open, open, close, a new day) the market
/// becomes `pre_open`, `open` or `closed`; a phase sent by a feed or set by an operator holds
/// until the next boundary (and is left as it is when tickd starts in the middle of a period).
/// Its own database connection and Redis connection, on a `BlockingIO` thread.
final class TradingStatusService: Service, Sendable, CustomStringConvertible {
    private let interval: Duration
    private let io: BlockingIO
    /// The follower's state, one step at a time (on an I/O thread; the lock is never contended).
    private let follower: Mutex<TradingStatusFollower>

    var description: String { "trading status" }

    /// Publishes on Redis with `redis` (nil: publishing off) under `prefix`.
    init(url: String, redis: PublisherOptions?, prefix: String, session: TradingSession?, zone: ExchangeZone, interval: Duration,
         io: BlockingIO, logger: Logger) {
        self.interval = interval
        self.io = io
        follower = Mutex(TradingStatusFollower(url: url, publisher: redis.map { StatusPublisher(options: $0, prefix: prefix) },
                                               session: session, zone: zone, logger: logger))
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            while true {
                try await io.run { self.follower.withLock { $0.step(wall: .now()) } }
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// What `TradingStatusService` does at each look, with what it remembers between looks.
final class TradingStatusFollower {
    private let url: String
    private let publisher: StatusPublisher?
    private let session: TradingSession?
    private let zone: ExchangeZone
    private let logger: Logger

    private var db: Connection?
    /// Changes recorded up to here (µs since 1970) were published; nil before the first step.
    private var publishedThrough: Int64?
    /// Changes published lately, so the overlap each look re-reads sends none twice.
    private var recent: [ChangeKey: Int64] = [:]
    private var clockPhase: TradingStatus?
    private var failing = false

    private struct ChangeKey: Hashable {
        let symbol: Symbol
        let since: Timestamp
        let status: TradingStatus
    }
    /// How far back each look re-reads: a transaction that recorded a change at one instant may
    /// commit after another recorded later was already read.
    private static let overlapMicros: Int64 = 10_000_000

    init(url: String, publisher: StatusPublisher?, session: TradingSession?, zone: ExchangeZone, logger: Logger) {
        self.url = url
        self.publisher = publisher
        self.session = session
        self.zone = zone
        self.logger = logger
    }

    /// One look: the clock, then the changes, then Redis. A failure is logged once until it
    /// clears, and the next step tries again from where the last one published.
    func step(wall: Timestamp) {
        do {
            let db = try connected()
            guard let through = publishedThrough else {
                // The first look: every current status, then changes from the newest on (the
                // clock's first among them).
                let last = try TradingStatusStore.lastRecorded(on: db)
                let current = try TradingStatusStore.all(on: db)
                for entry in current { log(entry, "trading status") }
                try publisher?.publish(changes: current, current: current)
                // Their changes, recorded before `last`, may be read again by the overlap.
                for entry in current { recent[ChangeKey(symbol: entry.symbol, since: entry.since, status: entry.status)] = last }
                publishedThrough = last
                recover()
                return
            }
            if let session { try followClock(session, wall: wall, on: db) }
            let changes = try TradingStatusStore.changes(recordedAfter: through - Self.overlapMicros, on: db)
                .filter { recent[ChangeKey(symbol: $0.symbol, since: $0.since, status: $0.status)] == nil }
            guard !changes.isEmpty else { return recover() }
            let touched = Set(changes.map(\.symbol))
            let current = try TradingStatusStore.all(on: db).filter { touched.contains($0.symbol) }
            try publisher?.publish(changes: changes, current: current)
            for change in changes {
                log(change, "trading status changed")
                Counter(label: "tickd_trading_status_changes_total", dimensions: [("status", change.status.description)]).increment()
                recent[ChangeKey(symbol: change.symbol, since: change.since, status: change.status)] = change.recordedMicros
            }
            let newest = max(through, changes.map(\.recordedMicros).max() ?? through)
            publishedThrough = newest
            recent = recent.filter { $0.value > newest - 2 * Self.overlapMicros }
            recover()
        } catch {
            if db?.isOpen != true { db = nil }
            if !failing { logger.warning("trading status: cannot follow or publish, trying again", metadata: ["error": "\(error)"]) }
            failing = true
        }
    }

    private func recover() {
        if failing { logger.notice("trading status: following again") }
        failing = false
    }

    private func log(_ entry: TradingStatusStore.Entry, _ message: Logger.Message) {
        logger.notice(message, metadata: ["symbol": "\(entry.symbol == TradingStatus.market ? "market" : entry.symbol.rawValue)",
                                          "status": "\(entry.status)", "since": "\(entry.since)", "source": "\(entry.source)",
                                          "reason": "\(entry.reason ?? "")"])
    }

    private func followClock(_ session: TradingSession, wall: Timestamp, on db: Connection) throws {
        let phase = TradingStatus.phase(of: session, atLocalSeconds: wall.secondsSinceEpoch + zone.offsetSeconds(at: wall))
        guard phase != clockPhase else { return }
        if clockPhase == nil, let market = try TradingStatusStore.all(on: db).first(where: { $0.symbol == TradingStatus.market }),
           market.source != "clock" || market.status == phase {
            // Started within a period whose phase a feed or an operator set (theirs holds), or
            // whose phase is recorded already (a restart records no change).
            clockPhase = phase
            return
        }
        try TradingStatusStore.set(phase, of: TradingStatus.market, since: wall, reason: nil, source: "clock", on: db)
        clockPhase = phase
    }

    private func connected() throws(PostgresError) -> Connection {
        if let db, db.isOpen { return db }
        // A short connect timeout: a step holds up a stopping tickd for as long as it blocks.
        var defaults = PostgresSink.connectionDefaults
        defaults["connect_timeout"] = "2"
        let fresh = try Connection(conninfo: url, defaults: defaults)
        db = fresh
        return fresh
    }
}
