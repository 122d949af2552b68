import CoreMetrics
import Foundation
import LibPQ
import Logging
import TickModel

/// Keeps TimescaleDB's candle aggregates (`market_candles_1m/1h/1d`) materialised behind tickd's
/// commits, on a connection and a thread of its own, off the ingest path.
///
/// The candles are real-time aggregates: a bucket past the last materialised one is computed from
/// the ticks whenever it is read, so a live tick shows at once. A tick stored into an older bucket
/// (a late tick, a corrected trade, a replayed past day) is logged by TimescaleDB as an
/// invalidation; a refresh re-materialises exactly the invalidated buckets. Writers call
/// `noteCommit()` after each commit; the refresher then runs at most once per `interval`
/// (commits in between are coalesced into one refresh), minute candles first, then the hours
/// and days built on them, each up to the start of its current bucket, so open buckets stay
/// real-time. `flush()` refreshes now and waits (the end of a replay).
///
/// Transient database errors are retried with backoff on a new connection; a permanent one is
/// logged, counted, and thrown by the `flush()` waiting for it.
public final class CandleRefresher: @unchecked Sendable {
    private let conninfo: String
    private let statements: [String]
    private let interval: Duration
    private let retry: Backoff
    private let logger: Logger
    private let refreshes = Counter(label: "tickd_candle_refreshes_total")
    private let errors = Counter(label: "tickd_candle_refresh_errors_total")
    private let duration = Timer(label: "tickd_candle_refresh_duration_seconds")

    // Guarded by `condition`.
    private let condition = NSCondition()
    /// Bumped by every commit noted and every flush; a refresh that starts covers all up to it.
    private var wanted = 0
    /// The `wanted` value the last finished refresh started from.
    private var done = 0
    private var flushers = 0
    private var failure: (covering: Int, error: SinkError)?
    private var stopping = false
    private var running = true
    /// Only the refresher's thread uses it.
    private var connection: Connection?

    /// Starts a refresher for the candles of the database at `conninfo`, or returns nil when they
    /// are not continuous aggregates (plain PostgreSQL: views need no refresh). Transient
    /// failures are retried with backoff, as the sink retries them.
    public static func start(conninfo: String, options: SchemaOptions, interval: Duration, maxBackoff: Duration = .seconds(5),
                             logger: Logger = Logger(label: "tickd.candles")) throws(SinkError) -> CandleRefresher? {
        var db: Connection?
        var schema = ""
        var attempt = 0
        while db == nil {
            do throws(PostgresError) {
                let connection = try PostgresSink.session(conninfo)
                let extensions = try connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
                guard extensions.rowCount > 0 else { return nil }
                // The minute candle of tickd's own schema, found by name (casting every
                // aggregate's name to regclass fails when another schema is dropped meanwhile).
                let found = try connection.execute("""
                    SELECT current_schema(), count(*) FROM timescaledb_information.continuous_aggregates
                    WHERE view_schema = current_schema() AND view_name = 'market_candles_1m'
                    """)
                guard found.value(row: 0, column: 1) == "1", let current = found.value(row: 0, column: 0) else { return nil }
                schema = current
                // TimescaleDB refreshes an aggregate only for its owner. A least-privilege role
                // leaves it to the real-time part and the hourly policy (run as the owner).
                let owner = try connection.execute("""
                    SELECT pg_has_role(c.relowner, 'USAGE'), c.relowner::regrole::text, current_user
                    FROM pg_class c WHERE c.oid = to_regclass($1)
                    """, [SchemaSQL.candles(options)[0].name(in: current)])
                if owner.value(row: 0, column: 0) == "f" {
                    logger.notice("candles: this role does not own the candle aggregates, so tickd does not refresh them; buckets past the materialised ones are computed from the ticks when read, and a late tick into a materialised bucket shows after the aggregates' hourly policy runs", metadata: [
                        "role": "\(owner.value(row: 0, column: 2) ?? "")", "owner": "\(owner.value(row: 0, column: 1) ?? "")",
                        "fix": "GRANT \(owner.value(row: 0, column: 1) ?? "owner") TO \(owner.value(row: 0, column: 2) ?? "role") (tickd then refreshes after each commit)"])
                    return nil
                }
                db = connection
            } catch {
                guard error.isTransient else {
                    throw SinkError(table: "market_candles_1m", underlying: error.during("find candle aggregates"))
                }
                attempt += 1
                let pause = Self.retry(maxBackoff).pause(attempt: attempt)
                logger.warning("candles: database not reachable, retrying", metadata: [
                    "error": "\(error.message)", "retry_in_ms": "\(pause.milliseconds)"])
                Thread.sleep(forTimeInterval: pause.seconds)
            }
        }
        let refresher = CandleRefresher(conninfo: conninfo, statements: SchemaSQL.refreshCandles(options, schema: schema), interval: interval,
                                        maxBackoff: maxBackoff, logger: logger)
        refresher.connection = db
        let thread = Thread { refresher.loop() }
        thread.name = "tickd-candles"
        thread.start()
        return refresher
    }

    private init(conninfo: String, statements: [String], interval: Duration, maxBackoff: Duration, logger: Logger) {
        self.conninfo = conninfo
        self.statements = statements
        self.interval = interval
        retry = Self.retry(maxBackoff)
        self.logger = logger
    }

    /// A batch with stored ticks committed: refresh within `interval`. Cheap; any thread.
    public func noteCommit() {
        condition.lock()
        wanted += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Refreshes now and waits until every commit noted before this call is materialised.
    /// Returns false when `timeout` passed first; throws the refresh's permanent error.
    @discardableResult
    public func flush(timeout: Duration? = nil) throws(SinkError) -> Bool {
        let deadline = timeout.map { Date(timeIntervalSinceNow: $0.seconds) }
        condition.lock()
        defer { condition.unlock() }
        wanted += 1
        let target = wanted
        flushers += 1
        defer { flushers -= 1 }
        condition.broadcast()
        while done < target && running {
            if let deadline { if !condition.wait(until: deadline) { return false } } else { condition.wait() }
        }
        if let failure, failure.covering >= target { throw failure.error }
        return done >= target
    }

    /// Stops the thread (a refresh under way finishes; one retrying gives up).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        var lastRun = ContinuousClock.now - interval
        condition.lock()
        while true {
            while !stopping && !(wanted > done && (flushers > 0 || ContinuousClock.now - lastRun >= interval)) {
                if wanted > done {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: (interval - (ContinuousClock.now - lastRun)).seconds))
                } else {
                    condition.wait()
                }
            }
            if stopping { break }
            let target = wanted
            condition.unlock()
            let outcome = refreshOnce()
            lastRun = .now
            condition.lock()
            done = target
            if case .failure(let error) = outcome { failure = (target, error) } else { failure = nil }
            condition.broadcast()
        }
        connection = nil
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// One refresh of every candle, retrying transient failures until it succeeds or `stop()`.
    private func refreshOnce() -> Result<Void, SinkError> {
        var attempt = 0
        while true {
            do throws(PostgresError) {
                let started = ContinuousClock.now
                let db = try connected()
                for statement in statements { try db.execute(statement) }
                duration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
                refreshes.increment()
                return .success(())
            } catch {
                let failure = SinkError(table: "market_candles", underlying: error.during("refresh candles"))
                guard error.isTransient else {
                    errors.increment()
                    logger.error("candles: refresh failed", metadata: ["error": "\(failure)"])
                    return .failure(failure)
                }
                if connection?.isOpen != true { connection = nil }
                let pause: Duration
                if Self.isConcurrentRefresh(error) {
                    // Another tickd (a Kafka group shares one database) is refreshing the same
                    // candles. Expected, not a fault: try again shortly, since its refresh may
                    // have started before this instance's last commits.
                    pause = .milliseconds(200)
                    logger.debug("candles: another session is refreshing them; trying again", metadata: ["retry_in_ms": "200"])
                } else {
                    attempt += 1
                    pause = retry.pause(attempt: attempt)
                    logger.warning("candles: refresh failed, retrying", metadata: [
                        "sqlstate": "\(error.sqlState ?? "none")", "error": "\(error.message)", "retry_in_ms": "\(pause.milliseconds)"])
                }
                condition.lock()
                if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: pause.seconds)) }
                let stop = stopping
                condition.unlock()
                if stop { return .failure(failure) }
            }
        }
    }

    private func connected() throws(PostgresError) -> Connection {
        if let connection, connection.isOpen { return connection }
        let db = try PostgresSink.session(conninfo)
        connection = db
        return db
    }

    /// TimescaleDB refuses a refresh of an aggregate another session is refreshing (it has no
    /// SQLSTATE of its own for it: the message tells).
    static func isConcurrentRefresh(_ error: PostgresError) -> Bool {
        error.message.contains("due to a concurrent refresh")
    }

    /// The pauses between retries: 200 ms doubling, capped at `max`.
    private static func retry(_ max: Duration) -> Backoff { Backoff(initial: .milliseconds(200), cap: max) }
}
