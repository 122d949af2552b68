import Blocking
import CoreMetrics

import LibPQ
import Logging
import Synchronization
import TickSources

/// Whether tickd is ready to take ticks: the database answers, and its sources are open
/// (every listener bound, every upstream connected). `/readyz` and systemd's READY=1 use it.
public final class Readiness: Sendable {
    private let database = Mutex(false)
    private let listeners: [TCPFeedServer]
    private let upstreams: [TCPFeedClient]
    private let databaseGauge = Gauge(label: "tickd_database_up")

    init(listeners: [TCPFeedServer], upstreams: [TCPFeedClient]) {
        self.listeners = listeners
        self.upstreams = upstreams
    }

    var databaseUp: Bool {
        get { database.withLock { $0 } }
    }

    func setDatabase(_ up: Bool) {
        database.withLock { $0 = up }
        databaseGauge.record(up ? 1 : 0)
    }

    /// What is not ready, empty when all is.
    public var problems: [String] {
        var problems: [String] = []
        if !databaseUp { problems.append("database unreachable") }
        for listener in listeners where listener.boundPort == nil { problems.append("\(listener.options.name) not listening") }
        for upstream in upstreams where upstream.state != .connected { problems.append("\(upstream.options.name) not connected") }
        return problems
    }

    public var isReady: Bool { problems.isEmpty }

    /// What works but not as it should (a feed silent during the session): said by `/readyz`,
    /// which stays 200.
    private let degradedNotes = Mutex([String: String]())

    func setDegraded(_ note: String?, key: String) {
        degradedNotes.withLock { $0[key] = note }
    }

    public var degraded: [String] { degradedNotes.withLock { notes in notes.keys.sorted().compactMap { notes[$0] } } }
}

/// Checks the database once a second with a connection of its own (`SELECT 1`, 2 s timeouts) on
/// a `BlockingExecutor` of its own (a libpq connect blocks), so a hung server turns tickd unready
/// even while a batch is stuck. The next check is a timer of that executor, not a sleeping loop.
actor DatabaseProbe {
    private nonisolated let executor = BlockingExecutor(name: "tickd-database-probe")
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let url: String
    private let readiness: Readiness
    private let interval: Duration
    private let logger: Logger
    private var connection: Connection?

    init(url: String, readiness: Readiness, interval: Duration = .seconds(1), logger: Logger) {
        self.url = url
        self.readiness = readiness
        self.interval = interval
        self.logger = logger
    }

    /// Checks at once, then every `interval` until `stop()`. Readiness stays false until the
    /// first check.
    nonisolated func start() {
        executor.execute { [self] in assumeIsolated { $0.checkAndSchedule() } }
    }

    /// No more checks (one under way finishes).
    nonisolated func stop() { executor.shutdown() }

    private func checkAndSchedule() {
        connection = check(connection)
        executor.schedule(after: interval) { [self] in assumeIsolated { $0.checkAndSchedule() } }
    }

    private func check(_ existing: Connection?) -> Connection? {
        let was = readiness.databaseUp
        var connection = existing
        do {
            if connection == nil || connection?.isOpen == false {
                connection = try Connection(conninfo: url, defaults: ["fallback_application_name": "tickd-probe", "connect_timeout": "2"])
                try connection?.execute("SET statement_timeout = 2000")
            }
            try connection?.execute("SELECT 1")
            readiness.setDatabase(true)
            if !was { logger.notice("database reachable") }
        } catch {
            connection = nil
            readiness.setDatabase(false)
            if was { logger.error("database unreachable", metadata: ["sqlstate": "\(error.sqlState ?? "none")", "error": "\(error.message)"]) }
        }
        return connection
    }
}
