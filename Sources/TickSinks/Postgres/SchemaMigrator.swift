import Foundation
import LibPQ
import Logging
import TickModel

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
                        Step(version: 2, description: "storage: hypertable with compression and retention policies, or a plain table"),
                        Step(version: 3, description: "reliability: stream positions (tickd_positions), Redis outbox (published_seq)"),
                        Step(version: 4, description: "candles: open/close by (time, trade_seq), turnover and vwap; real-time hierarchical aggregates refreshed by tickd, or plain views"),
                        Step(version: 5, description: "identity: tickd_database, the id a journal is bound to"),
                        Step(version: 6, description: "official close: tickd_latest.previous_close_day, the trading day previous_close was set for"),
                        Step(version: 7, description: "price checks: tickd_quarantine (held-back trades), tickd_price_limits (per-symbol, per-day limit overrides)"),
                        Step(version: 8, description: "quarantine: one row per trade (symbol, time, trade_seq), so a replay holds nothing twice"),
                        Step(version: 9, description: "stocks owner: tickd_database.stocks_owner, tickd when migrate created stocks, else the application"),
                        Step(version: 10, description: "trade events: tickd_trade_events (corrections and cancels, under their seqs)"),
                        Step(version: 11, description: "trading status: tickd_trading_status (halted, suspended and resumed instruments; the market's phase)"),
                        Step(version: 12, description: "corporate actions: tickd_corporate_actions (splits, bonus issues, consolidations), candles in today's shares (market_candles_*_adjusted)")]

    /// The advisory lock key tickd's migrations take, so two `tickd migrate` never interleave.
    public static let advisoryLock = 0x7469_636B_6400  // "tickd"

    public init(options: SchemaOptions, logger: Logger = Logger(label: "tickd.migrate")) {
        self.options = options
        self.logger = logger
    }

    /// What a migration run did.
    public struct Outcome: Sendable, Equatable {
        /// Versions applied by this run (empty when already up to date).
        public var applied: [Int]
        public var mode: StorageMode
        /// True when this run turned a plain `market_ticks` into a hypertable.
        public var converted = false
        /// The schema tickd's tables and candles are in (the first of the search_path).
        public var schema = ""
    }

    /// Throws `TableConflict` when an existing table is in the way (nothing changed), and
    /// `PostgresError` for the server's refusals.
    public func migrate(_ db: Connection) throws -> Outcome {
        // DDL on a hypertable takes TimescaleDB catalog locks that a running tickd (chunk
        // creation, candle refresh) or another installation in the same database also takes, in
        // another order: PostgreSQL may pick this transaction as a deadlock victim. It was rolled
        // back whole, so running it again is safe, and at once: it holds no lock now, so the run
        // again waits on the server's locks (behind the winner) rather than on a timer.
        var attempt = 0
        while true {
            do {
                return try migrateOnce(db)
            } catch let error as PostgresError where error.sqlState?.sqlClass == .transactionRollback && db.isOpen && attempt < 5 {
                attempt += 1
                logger.warning("schema migration rolled back by the server; running it again",
                               metadata: ["sqlstate": "\(error.sqlState ?? "")", "attempt": "\(attempt)"])
            }
        }
    }

    private func migrateOnce(_ db: Connection) throws -> Outcome {
        try db.execute("BEGIN")
        var outcome: Outcome
        do {
            try db.execute("SELECT pg_advisory_xact_lock(\(Self.advisoryLock))")
            // The application's tables, before anything is created: a market_ticks of its own
            // is in the way; its stocks must have what tickd reads and writes.
            if let ticks = try TableShape.inspect(options.ticksTable, on: db) { try TicksTable.checkOwned(ticks) }
            let stocks = try TableShape.inspect(options.stocksTable, on: db)
            if let stocks { try StocksTable.checkLive(stocks) }
            try db.execute("""
                CREATE TABLE IF NOT EXISTS tickd_schema_migrations (
                    version integer PRIMARY KEY,
                    description text NOT NULL,
                    storage_mode text,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            guard let schema = try db.execute(SchemaSQL.currentSchema).value(row: 0, column: 0) else {
                throw PostgresError(sqlState: .invalidSchemaName, message: "no schema of the search_path exists to create tickd's tables in", operation: "migrate")
            }
            let done = try db.execute("SELECT version, storage_mode FROM tickd_schema_migrations ORDER BY version").rows
            let appliedVersions = Set(done.compactMap { $0[0].flatMap { Int($0) } })
            var mode = done.compactMap { $0[1] }.last.flatMap(StorageMode.init(rawValue:))
            outcome = Outcome(applied: [], mode: mode ?? .plain)
            // A plain table, now that TimescaleDB can be used: a hypertable, rows and all.
            if mode == .plain, options.timescale != .off, try chooseMode(db) == .timescale {
                try convertToHypertable(db, schema: schema, candlesExist: appliedVersions.contains(4))
                mode = .timescale
                outcome.converted = true
            }
            for step in Self.steps where !appliedVersions.contains(step.version) {
                var stepMode: StorageMode?
                switch step.version {
                case 1:
                    try db.execute(SchemaSQL.tables(options))
                case 2:
                    let chosen = try chooseMode(db)
                    try db.execute(chosen == .timescale ? SchemaSQL.hypertable(options) : SchemaSQL.plainStorage(options))
                    stepMode = chosen
                    mode = chosen
                case 3:
                    try db.execute(SchemaSQL.reliability)
                case 5:
                    try db.execute(SchemaSQL.identity)
                case 6:
                    try db.execute(SchemaSQL.officialClose)
                case 7:
                    try db.execute(SchemaSQL.priceChecks)
                case 8:
                    try db.execute(SchemaSQL.quarantineOncePerTrade)
                case 9:
                    let owner = outcome.applied.contains(1) ? (stocks == nil ? StocksOwner.tickd : .application) : StocksOwner.guess(stocks)
                    try db.execute(SchemaSQL.stocksOwner[0])
                    try db.execute(SchemaSQL.stocksOwner[1], [owner.rawValue])
                case 10:
                    try db.execute(SchemaSQL.tradeEvents)
                case 11:
                    try db.execute(SchemaSQL.tradingStatus)
                case 12:
                    try db.execute(SchemaSQL.corporateActions)
                case 4:
                    // Replaces the candles of earlier releases (views or aggregates: derived data only).
                    let storage = mode ?? .plain
                    try db.execute(SchemaSQL.dropCandles(options, mode: storage, schema: schema))
                    try db.execute(storage == .timescale ? SchemaSQL.candleAggregates(options, schema: schema)
                                                         : SchemaSQL.candleViews(options, schema: schema))
                    stepMode = storage
                default:
                    break
                }
                try db.execute("INSERT INTO tickd_schema_migrations (version, description, storage_mode) VALUES ($1, $2, $3)",
                               [String(step.version), step.description, stepMode?.rawValue])
                outcome.applied.append(step.version)
                logger.info("applied schema step", metadata: ["version": "\(step.version)", "step": "\(step.description)"])
            }
            // Over the candles as they are now (step 4 and a conversion drop and create them).
            if appliedVersions.contains(12) || outcome.applied.contains(12) {
                try db.execute(SchemaSQL.adjustedCandles(options, schema: schema))
            }
            try db.execute("COMMIT")
            outcome.mode = mode ?? .plain
            outcome.schema = schema
        } catch {
            if db.isOpen { _ = try? db.execute("ROLLBACK") }
            throw error
        }
        switch outcome.mode {
        case .timescale:
            logger.notice("storage mode: timescale — \(options.ticksTable) is a TimescaleDB hypertable with compression and retention policies; market_candles_1m/1h/1d are real-time continuous aggregates")
            if outcome.converted || outcome.applied.contains(4) { try materialiseCandles(db, schema: outcome.schema) }
        case .plain:
            logger.notice("storage mode: plain — TimescaleDB is not in use; \(options.ticksTable) is a plain PostgreSQL table and market_candles_1m/1h/1d are plain views")
        }
        if outcome.applied.isEmpty && !outcome.converted { logger.info("schema is up to date") }
        return outcome
    }

    /// Turns the plain `market_ticks` of an earlier `migrate` into a hypertable (its rows move into
    /// chunks; none is dropped or changed) and its plain candle views into continuous aggregates.
    private func convertToHypertable(_ db: Connection, schema: String, candlesExist: Bool) throws(PostgresError) {
        let rows = try db.execute("SELECT count(*) FROM \(options.ticksTable.sql)").value(row: 0, column: 0) ?? "0"
        logger.notice("converting the plain table to a TimescaleDB hypertable", metadata: ["table": "\(options.ticksTable)", "rows": "\(rows)"])
        try db.execute(SchemaSQL.hypertable(options))
        try db.execute(SchemaSQL.dropCandles(options, mode: .plain, schema: schema))
        // Before step 4, that step creates them.
        if candlesExist { try db.execute(SchemaSQL.candleAggregates(options, schema: schema)) }
        try db.execute("UPDATE tickd_schema_migrations SET storage_mode = 'timescale' WHERE storage_mode = 'plain'")
    }

    /// Materialises every candle bucket of the stored ticks (after the transaction: a refresh
    /// cannot run inside one). Takes a while on a long history; later refreshes are incremental.
    /// A refresh running elsewhere (a policy job, a running tickd) holds a lock: wait and retry.
    private func materialiseCandles(_ db: Connection, schema: String) throws(PostgresError) {
        let started = ContinuousClock.now
        for statement in SchemaSQL.refreshCandles(options, schema: schema) {
            var attempt = 0
            while true {
                do {
                    try db.execute(statement)
                    break
                } catch where error.isTransient && db.isOpen && attempt < 40 {
                    attempt += 1
                    // The server waits, on this connection, as it would for a lock: the other
                    // refresh is not a lock TimescaleDB lets a session queue on.
                    try db.execute("SELECT pg_sleep(0.25)")
                } catch {
                    throw error.during("refresh candles", table: "market_candles")
                }
            }
        }
        logger.info("candles materialised", metadata: ["seconds": "\((ContinuousClock.now - started).seconds)"])
    }

    /// Whether TimescaleDB can be used: `off` never; otherwise it must be installed on the server,
    /// preloaded (`shared_preload_libraries`: CREATE EXTENSION without it is a FATAL error that
    /// ends the connection, so it is checked first) and creatable by this role. `auto` falls back
    /// to plain tables with a notice that says why; `on` makes any of these an error.
    private func chooseMode(_ db: Connection) throws(PostgresError) -> StorageMode {
        if options.timescale == .off { return .plain }
        // The loader defines timescaledb.* settings in every database once preloaded; an
        // unprivileged role cannot read shared_preload_libraries itself.
        let probe = try db.execute("""
            SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
                   current_setting('timescaledb.disable_load', true) IS NOT NULL,
                   EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
            """)
        let installed = probe.value(row: 0, column: 0) == "t", preloaded = probe.value(row: 0, column: 1) == "t"
        if probe.value(row: 0, column: 2) == "t" && preloaded { return .timescale }
        guard installed else {
            return try fallBack("the timescaledb extension is not installed on the PostgreSQL server")
        }
        guard preloaded else {
            return try fallBack("TimescaleDB is installed on the server but not preloaded: add timescaledb to shared_preload_libraries in postgresql.conf, restart PostgreSQL, then run tickd migrate again (it converts market_ticks to a hypertable)")
        }
        try db.execute("SAVEPOINT tickd_timescaledb")
        do {
            try db.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            try db.execute("RELEASE SAVEPOINT tickd_timescaledb")
            return .timescale
        } catch {
            try db.execute("ROLLBACK TO SAVEPOINT tickd_timescaledb")
            return try fallBack("CREATE EXTENSION timescaledb failed: \(error.message)")
        }
    }

    /// Plain tables with a notice (`auto`), or the reason as an error (`on`).
    private func fallBack(_ reason: String) throws(PostgresError) -> StorageMode {
        if options.timescale == .on {
            throw PostgresError(sqlState: .objectNotInPrerequisiteState, message: "timescale.enabled is on: \(reason)", operation: "create extension timescaledb")
        }
        logger.notice("TimescaleDB is not used, storing in plain tables", metadata: ["reason": "\(reason)"])
        return .plain
    }
}
