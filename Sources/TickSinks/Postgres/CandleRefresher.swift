import CoreMetrics
import Blocking
import LibPQ
import Logging
import Synchronization
import TickModel

/// Keeps TimescaleDB's candle aggregates (`market_candles_1m/1h/1d`) materialised behind tickd's
/// commits, on a connection and a `BlockingExecutor` of its own, off the ingest path.
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
public actor CandleRefresher {
    /// Owns the refresher's connection; the next refresh and every retry are its timers.
    private nonisolated let executor: BlockingExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let conninfo: String
    private let statements: [String]
    private nonisolated let interval: Duration
    private let retry: Backoff
    private let logger: Logger
    private let refreshes = Counter(label: "tickd_candle_refreshes_total")
    private let errors = Counter(label: "tickd_candle_refresh_errors_total")
    private let duration = Timer(label: "tickd_candle_refresh_duration_seconds")

    /// What writers, flushers and the refresher share.
    private struct Shared {
        /// Bumped by every commit noted and every flush; a refresh that starts covers all up to it.
        var wanted = 0
        /// The `wanted` value the last finished refresh started from.
        var done = 0
        var failure: (covering: Int, error: SinkError)?
        var stopping = false
        /// A refresh is queued or set on a timer (commits meanwhile are coalesced into it).
        var scheduled: BlockingExecutor.Scheduled?
        var queued = false
        /// A refresh is running (it schedules the next when it ends).
        var running = false
        /// Transient failures of the refresh being retried (0: not retrying).
        var attempt = 0
        var lastRun = ContinuousClock.now - .seconds(3600)
        /// Flushes waiting, each tagged with the `wanted` value it needs done.
        var flushers = SuspendedTasks<Int, Void>()
    }
    private nonisolated let shared = Mutex(Shared())
    /// Only the refresher's thread uses it.
    private var connection: Connection?

    /// Starts a refresher for the candles of the database at `conninfo`, or returns nil when they
    /// are not continuous aggregates (plain PostgreSQL: views need no refresh). Transient
    /// failures are retried with backoff, as the sink retries them; a permanent one throws
    /// `SinkError`.
    public static func start(conninfo: String, options: SchemaOptions, interval: Duration, maxBackoff: Duration = .seconds(5),
                             logger: Logger = Logger(label: "tickd.candles")) async throws -> CandleRefresher? {
        let executor = BlockingExecutor(name: "tickd-candles")
        var attempt = 0
        while true {
            let found: Aggregates
            do {
                found = try await executor.run { try Self.findAggregates(conninfo, options, logger) }
            } catch {
                executor.shutdown()
                throw error
            }
            switch found {
            case .none:
                executor.shutdown()
                return nil
            case .found(let connection, let schema):
                let refresher = CandleRefresher(executor: executor, conninfo: conninfo, statements: SchemaSQL.refreshCandles(options, schema: schema),
                                                interval: interval, maxBackoff: maxBackoff, logger: logger)
                refresher.executor.execute { refresher.assumeIsolated { $0.connection = connection.withLock { $0.take() } } }
                return refresher
            case .unreachable(let error):
                attempt += 1
                let pause = Self.retry(maxBackoff).pause(attempt: attempt)
                logger.warning("candles: database not reachable, retrying", metadata: [
                    "error": "\(error.message)", "retry_in_ms": "\(pause.milliseconds)"])
                do { try await Task.sleep(for: pause) } catch {
                    executor.shutdown()
                    throw error
                }
            }
        }
    }

    /// What `findAggregates` found.
    private enum Aggregates: Sendable {
        /// No candle aggregates of this role's to refresh.
        case none
        /// The connection it found them on, and their schema.
        case found(Exclusive<Connection?>, schema: String)
        /// A transient failure: try again after a pause.
        case unreachable(PostgresError)
    }

    /// One attempt at finding the candle aggregates tickd refreshes (on the refresher's executor).
    private static func findAggregates(_ conninfo: String, _ options: SchemaOptions, _ logger: Logger) throws(SinkError) -> Aggregates {
        do throws(PostgresError) {
            let connection = try PostgresSink.session(conninfo)
            let extensions = try connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
            guard extensions.rowCount > 0 else { return .none }
            // The minute candle of tickd's own schema, found by name (casting every
            // aggregate's name to regclass fails when another schema is dropped meanwhile).
            let found = try connection.execute("""
                SELECT current_schema(), count(*) FROM timescaledb_information.continuous_aggregates
                WHERE view_schema = current_schema() AND view_name = 'market_candles_1m'
                """)
            guard found.value(row: 0, column: 1) == "1", let current = found.value(row: 0, column: 0) else { return .none }
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
                return .none
            }
            return .found(Exclusive(connection), schema: current)
        } catch {
            guard error.isTransient else {
                throw SinkError(table: "market_candles_1m", underlying: error.during("find candle aggregates"))
            }
            return .unreachable(error)
        }
    }

    private init(executor: BlockingExecutor, conninfo: String, statements: [String], interval: Duration, maxBackoff: Duration, logger: Logger) {
        self.executor = executor
        self.conninfo = conninfo
        self.statements = statements
        self.interval = interval
        retry = Self.retry(maxBackoff)
        self.logger = logger
    }

    /// A batch with stored ticks committed: refresh within `interval`. Cheap; any thread.
    public nonisolated func noteCommit() {
        shared.withLock { shared in
            shared.wanted += 1
            scheduleLocked(&shared, now: false)
        }
    }

    /// Refreshes now and waits until every commit noted before this call is materialised.
    /// Returns false when `timeout` passed first or the task was cancelled; throws the refresh's
    /// permanent error.
    @discardableResult
    public nonisolated func flush(timeout: Duration? = nil) async throws(SinkError) -> Bool {
        let target = shared.withLock { shared in
            shared.wanted += 1
            return shared.wanted
        }
        await suspend(until: timeout.map { .now + $0 }, ready: (), timedOut: (), park: { [self] continuation in
            shared.withLock { shared in
                if shared.stopping { return nil }
                defer { scheduleLocked(&shared, now: true) }
                return shared.flushers.add(continuation, tag: target)
            }
        }, withdraw: { [self] id in
            shared.withLock { $0.flushers.remove(id) }
        })
        let (done, failure) = shared.withLock { ($0.done, $0.failure) }
        if let failure, failure.covering >= target { throw failure.error }
        return done >= target
    }

    /// Stops the refresher: a refresh under way finishes (then its thread ends), one waiting to
    /// retry gives up, and waiting flushes return.
    public nonisolated func stop() {
        let flushers = shared.withLock { shared in
            shared.stopping = true
            shared.scheduled?.cancel()
            return shared.flushers.removeAll()
        }
        executor.shutdown()
        flushers.forEach { $0.resume() }
    }

    /// Queues a refresh when one is wanted and none is queued: at once for a flush, else once
    /// `interval` has passed since the last one. A refresh that is retrying keeps its backoff.
    private nonisolated func scheduleLocked(_ shared: inout Shared, now: Bool) {
        guard !shared.stopping, shared.wanted > shared.done, !shared.queued, !shared.running else { return }
        if shared.attempt > 0 && shared.scheduled != nil { return }
        let wait = now ? Duration.zero : max(.zero, interval - (ContinuousClock.now - shared.lastRun))
        if let timer = shared.scheduled {
            // A flush does not wait for the interval's timer.
            guard wait == .zero else { return }
            timer.cancel()
        }
        shared.scheduled = nil
        if wait == .zero {
            shared.queued = true
            executor.execute { [self] in assumeIsolated { $0.refresh() } }
        } else {
            shared.scheduled = executor.schedule(after: wait) { [self] in assumeIsolated { $0.refresh() } }
        }
    }

    /// On the executor: one attempt at refreshing every candle. A transient failure is retried on
    /// a timer (backoff); success or a permanent failure settles what was wanted when it started.
    private func refresh() {
        let target: Int? = shared.withLock { shared in
            shared.queued = false
            shared.scheduled = nil
            if shared.stopping || shared.wanted <= shared.done { return nil }
            shared.running = true
            return shared.wanted
        }
        guard let target else { return }
        let outcome = refreshOnce()
        let flushers: [CheckedContinuation<Void, Never>] = shared.withLock { shared in
            shared.lastRun = .now
            shared.running = false
            switch outcome {
            case .retry(let pause):
                shared.attempt += 1
                guard !shared.stopping else { return [] }
                shared.scheduled = executor.schedule(after: pause) { [self] in assumeIsolated { $0.refresh() } }
                return []
            case .done(let failure):
                shared.attempt = 0
                shared.done = target
                shared.failure = failure.map { (target, $0) }
                let ready = shared.flushers.removeAll { $0 <= target }
                scheduleLocked(&shared, now: !shared.flushers.isEmpty)
                return ready
            }
        }
        flushers.forEach { $0.resume() }
    }

    private enum Outcome {
        case done(SinkError?)
        case retry(after: Duration)
    }

    /// One refresh of every candle: done, or a transient failure to retry after a pause.
    private func refreshOnce() -> Outcome {
        do throws(PostgresError) {
            let started = ContinuousClock.now
            let db = try connected()
            for statement in statements { try db.execute(statement) }
            duration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            refreshes.increment()
            return .done(nil)
        } catch {
            let failure = SinkError(table: "market_candles", underlying: error.during("refresh candles"))
            guard error.isTransient else {
                errors.increment()
                logger.error("candles: refresh failed", metadata: ["error": "\(failure)"])
                return .done(failure)
            }
            if connection?.isOpen != true { connection = nil }
            if Self.isConcurrentRefresh(error) {
                // Another tickd (a Kafka group shares one database) is refreshing the same
                // candles. Expected, not a fault: try again shortly, since its refresh may
                // have started before this instance's last commits.
                logger.debug("candles: another session is refreshing them; trying again", metadata: ["retry_in_ms": "200"])
                return .retry(after: .milliseconds(200))
            }
            let pause = retry.pause(attempt: shared.withLock { $0.attempt } + 1)
            logger.warning("candles: refresh failed, retrying", metadata: [
                "sqlstate": "\(error.sqlState ?? "none")", "error": "\(error.message)", "retry_in_ms": "\(pause.milliseconds)"])
            return .retry(after: pause)
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
