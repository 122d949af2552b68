import LibPQ
import Logging

/// Creates or upgrades tickd's schema, step by numbered step, recording each applied step in
/// `tickd_schema_migrations`. Idempotent: a second run finds every step applied and changes
/// nothing. Never drops or rewrites data; `stocks` is created only when absent.
public struct SchemaMigrator {
    public let options: SchemaOptions
    public var logger: Logger

    /// One numbered step. A release that needs more schema appends a step; applied steps never change.
    struct Step {
        let version: Int
        let description: String
    }

    static let steps = [Step(version: 1, description: "tables: stocks (if absent), market_ticks, tickd bookkeeping"),
                        Step(version: 2, description: "storage: hypertable + policies + continuous aggregates, or plain views"),
                        Step(version: 3, description: "reliability: stream positions (tickd_positions), Redis outbox (published_seq)")]

    /// A lock key only tickd's migrations take, so two `tickd migrate` never interleave.
    static let advisoryLock = 0x7469_636B_6400  // "tickd"

    public init(options: SchemaOptions, logger: Logger = Logger(label: "tickd.migrate")) {
        self.options = options
        self.logger = logger
    }

    /// What a migration run did.
    public struct Outcome: Sendable, Equatable {
        /// Versions applied by this run (empty when already up to date).
        public var applied: [Int]
        public var mode: StorageMode
    }

    public func migrate(_ db: Connection) throws(PostgresError) -> Outcome {
        try db.execute("BEGIN")
        do {
            try db.execute("SELECT pg_advisory_xact_lock(\(Self.advisoryLock))")
            try db.execute("""
                CREATE TABLE IF NOT EXISTS tickd_schema_migrations (
                    version integer PRIMARY KEY,
                    description text NOT NULL,
                    storage_mode text,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let done = try db.execute("SELECT version, storage_mode FROM tickd_schema_migrations ORDER BY version").rows
            let appliedVersions = Set(done.compactMap { $0[0].flatMap { Int($0) } })
            var mode = done.compactMap { $0[1] }.last.flatMap(StorageMode.init(rawValue:))
            var applied: [Int] = []
            for step in Self.steps where !appliedVersions.contains(step.version) {
                var stepMode: StorageMode?
                switch step.version {
                case 1:
                    try db.execute(SchemaSQL.tables(options))
                case 2:
                    let chosen = try chooseMode(db)
                    try db.execute(chosen == .timescale ? SchemaSQL.timescale(options) : SchemaSQL.plain(options))
                    stepMode = chosen
                    mode = chosen
                case 3:
                    try db.execute(SchemaSQL.reliability)
                default:
                    break
                }
                try db.execute("INSERT INTO tickd_schema_migrations (version, description, storage_mode) VALUES ($1, $2, $3)",
                               [String(step.version), step.description, stepMode?.rawValue])
                applied.append(step.version)
                logger.info("applied schema step", metadata: ["version": "\(step.version)", "step": "\(step.description)"])
            }
            try db.execute("COMMIT")
            let finalMode = mode ?? .plain
            switch finalMode {
            case .timescale:
                logger.notice("storage mode: timescale — \(options.ticksTable) is a TimescaleDB hypertable with compression, retention and continuous aggregates market_candles_1m/1h/1d")
            case .plain:
                logger.notice("storage mode: plain — TimescaleDB is not in use; \(options.ticksTable) is a plain PostgreSQL table and market_candles_1m/1h/1d are plain views")
            }
            if applied.isEmpty { logger.info("schema is up to date") }
            return Outcome(applied: applied, mode: finalMode)
        } catch {
            if db.isOpen { _ = try? db.execute("ROLLBACK") }
            throw error
        }
    }

    /// Tries to create the timescaledb extension (in a savepoint, so a failure leaves the
    /// transaction usable) unless the config says `off`; `on` makes its absence an error.
    private func chooseMode(_ db: Connection) throws(PostgresError) -> StorageMode {
        if options.timescale == .off { return .plain }
        try db.execute("SAVEPOINT tickd_timescaledb")
        do {
            try db.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            try db.execute("RELEASE SAVEPOINT tickd_timescaledb")
            return .timescale
        } catch {
            try db.execute("ROLLBACK TO SAVEPOINT tickd_timescaledb")
            if options.timescale == .on { throw error.during("create extension timescaledb (timescale: on)") }
            logger.notice("TimescaleDB is not available, using plain tables", metadata: ["reason": "\(error.message)"])
            return .plain
        }
    }
}
