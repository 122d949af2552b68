import Blocking
import Foundation
import LibPQ
import Synchronization
import Testing
import TestSupport
import TickDaemon
import TickSinks

@Suite(.ownThreads) struct SchemaTests {
    /// Everything migrate could change, as text: columns, indexes, views, migration rows.
    static func snapshot(_ db: TestDatabase) throws -> [[String?]] {
        try db.rows("""
            SELECT 'col', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
              FROM information_schema.columns WHERE table_schema = '\(db.schema)'
            UNION ALL SELECT 'idx', indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = '\(db.schema)'
            UNION ALL SELECT 'view', viewname || ' ' || definition FROM pg_views WHERE schemaname = '\(db.schema)'
            UNION ALL SELECT 'step', version || ' ' || coalesce(storage_mode, '') || ' ' || applied_at FROM tickd_schema_migrations
            ORDER BY 1, 2
            """)
    }

    @Test func migrateTwiceChangesNothing() throws {
        let db = try TestDatabase()
        let first = try DatabaseCommands.migrate(config: db.config())
        #expect(first.applied == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        let before = try Self.snapshot(db)
        let second = try DatabaseCommands.migrate(config: db.config())
        #expect(second.applied == [])
        #expect(second.mode == first.mode)
        #expect(try Self.snapshot(db) == before)
        // What SPEC.md names exists.
        let tables = try db.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = '\(db.schema)' ORDER BY 1")
            .compactMap { $0[0] }
        for name in ["stocks", "market_ticks", "tickd_symbol_seq", "tickd_latest", "tickd_source_offsets", "tickd_schema_migrations", "tickd_database",
                     "market_candles_1m", "market_candles_1h", "market_candles_1d"] {
            #expect(tables.contains(name), "\(name)")
        }
    }

    /// A migration that PostgreSQL picks as a deadlock victim (a running tickd or another
    /// installation taking the same locks in the other order) was rolled back: it runs again.
    @Test func aMigrationChosenAsDeadlockVictimRunsAgain() async throws {
        let db = try TestDatabase()
        _ = try DatabaseCommands.migrate(config: db.config())
        let config = db.config(), url = db.url, table = "\(db.schema).tickd_schema_migrations"
        let migrating = BlockingExecutor(name: "test-migration")
        // The other session lives on a thread of its own: while the migration holds tickd's
        // advisory lock (one for the whole database), other tests' migrations wait for it, and
        // they may hold every thread of the cooperative pool meanwhile.
        let otherSide = BlockingExecutor(name: "test-other")
        defer {
            migrating.shutdown()
            otherSide.shutdown()
        }
        let other = try await otherSide.run { Exclusive(try Connection(conninfo: url)) }
        // PostgreSQL's deadlock check runs once, deadlock_timeout (1 s) after a wait starts, in the
        // backend that waits: the migration is the victim when the other session asks for the
        // advisory lock within that second. A busy machine may take longer to see the wait; then
        // the other session is the victim, and the scenario runs again.
        for _ in 1...5 {
            let capture = LogCapture()
            let migrated = Mutex<Result<SchemaMigrator.Outcome, any Error>?>(nil)
            // One job on the other session's thread, so that nothing in it waits for the pool:
            // lock the table, start the migration, and once it (holding tickd's advisory lock)
            // waits for the table, ask for its lock.
            let asked = try await otherSide.run { () throws -> Bool? in
                try other.withLock { other -> Bool? in
                    try other.execute("BEGIN")
                    try other.execute("LOCK TABLE tickd_schema_migrations IN ACCESS EXCLUSIVE MODE")
                    migrating.execute {
                        let outcome = Result { try DatabaseCommands.migrate(config: config, logger: capture.logger("tickd.migrate")) }
                        migrated.withLock { $0 = outcome }
                    }
                    var victim: Bool?
                    // Until the migration waits (or ends without waiting): its connect and first
                    // statements can take seconds on a busy machine.
                    for _ in 0..<6000 where victim == nil && migrated.withLock({ $0 == nil }) {
                        let waiting = try other.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '\(table)'::regclass")
                        if waiting.value(row: 0, column: 0) != "0" { victim = try Self.askForTheMigrationLock(on: other) } else {
                            try other.execute("SELECT pg_sleep(0.01)")
                        }
                    }
                    try other.execute(victim == true ? "COMMIT" : "ROLLBACK")
                    return victim
                }
            }
            // The migration's job is done once a job given after it has run.
            try await migrating.run {}
            let outcome = try #require(migrated.withLock { $0 }).get()
            let victim = try #require(asked, "the migration never waited for the locked table")
            // The other session was the victim: the migration went on without a deadlock; again.
            guard victim else { continue }
            #expect(outcome.applied == [])
            #expect(capture.records.contains { $0.message.contains("running it again") && $0.metadata["sqlstate"] == "40P01" })
            return
        }
        Issue.record("the other session was the deadlock's victim five times: the migration never was")
    }

    /// Asks for the migration's advisory lock on `other`: true when the migration was the
    /// deadlock's victim (the lock was granted), false when `other` was.
    static func askForTheMigrationLock(on other: Connection) throws(PostgresError) -> Bool {
        do {
            try other.execute("SELECT pg_advisory_xact_lock(\(SchemaMigrator.advisoryLock))")
            return true
        } catch where error.sqlState == .deadlockDetected {
            return false
        }
    }

    @Test func plainModeWhenTimescaleIsOffOrMissing() throws {
        let db = try TestDatabase()
        let outcome = try DatabaseCommands.migrate(config: db.config { $0.timescale = .off })
        #expect(outcome.mode == .plain)
        #expect(try db.rows("SELECT viewname::text FROM pg_views WHERE schemaname = '\(db.schema)' AND viewname LIKE 'market_candles_%' ORDER BY 1")
                == [["market_candles_1d"], ["market_candles_1d_adjusted"], ["market_candles_1h"], ["market_candles_1h_adjusted"],
                    ["market_candles_1m"], ["market_candles_1m_adjusted"]])
    }

    @Test func migrateKeepsAnApplicationOwnedStocksTable() throws {
        let db = try TestDatabase()
        try db.sql.execute("""
            CREATE TABLE stocks (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), symbol varchar(32) UNIQUE NOT NULL,
              name varchar(255) NOT NULL, exchange varchar(16) DEFAULT 'NSE', sector varchar(64), currency varchar(3) DEFAULT 'KES',
              lot_size integer DEFAULT 100, market_cap numeric, latest_price numeric, previous_close numeric, pe_ratio numeric,
              dividend_yield numeric, metadata jsonb DEFAULT '{}', updated_at timestamptz DEFAULT now(), app_only text);
            INSERT INTO stocks (symbol, name, pe_ratio, app_only) VALUES ('SCOM', 'Safaricom PLC', 12.5, 'owned by the app');
            """)
        _ = try DatabaseCommands.migrate(config: db.config())
        #expect(try db.rows("SELECT symbol, pe_ratio, app_only FROM stocks") == [["SCOM", "12.5", "owned by the app"]])
        let seeded = try DatabaseCommands.seed(config: db.config(), file: nil)
        #expect(seeded.inserted == 19)
        #expect(try db.value("SELECT pe_ratio || ' ' || app_only FROM stocks WHERE symbol = 'SCOM'") == "12.5 owned by the app")
    }

    @Test func seedUpsertsBySymbol() throws {
        let db = try TestDatabase()
        _ = try DatabaseCommands.migrate(config: db.config())
        #expect(try DatabaseCommands.seed(config: db.config(), file: nil) == InstrumentSeeder.Outcome(inserted: 20, updated: 0, unchanged: 0))
        #expect(try DatabaseCommands.seed(config: db.config(), file: nil) == InstrumentSeeder.Outcome(inserted: 0, updated: 0, unchanged: 20))
        #expect(try db.value("SELECT count(*) FROM stocks") == "20")
        #expect(try db.rows("SELECT name, sector, latest_price, market_cap FROM stocks WHERE symbol = 'SCOM'")
                == [["Safaricom PLC", "Telecom", "23.10", "900000000000"]])
        let renamed = FileManager.default.temporaryDirectory.appendingPathComponent("\(db.schema)-stocks.csv").path
        try "symbol,name,sector,price\nSCOM,Safaricom,Telecoms,99.00\n".write(toFile: renamed, atomically: true, encoding: .utf8)
        #expect(try DatabaseCommands.seed(config: db.config(), file: renamed).updated == 1)
        // Descriptive columns follow the list; the live price does not go back to the list's.
        #expect(try db.rows("SELECT name, sector, latest_price FROM stocks WHERE symbol = 'SCOM'") == [["Safaricom", "Telecoms", "23.10"]])
    }

    @Test(.enabled(if: TimescaleProbe.available, "SKIP: TimescaleDB is not preloaded on the test server; the hypertable path was not exercised"))
    func timescaleHypertablePoliciesAndAggregates() async throws {
        let db = try TestDatabase()
        let outcome = try DatabaseCommands.migrate(config: db.config { $0.timescale = .on; $0.retentionDays = 3650 })
        #expect(outcome.mode == .timescale)
        #expect(try db.value("SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_schema = '\(db.schema)' AND hypertable_name = 'market_ticks'") == "1")
        #expect(try db.value("SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_schema = '\(db.schema)' AND proc_name IN ('policy_compression', 'policy_retention')") == "2")
        #expect(try db.value("SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_schema = '\(db.schema)'") == "3")
        try db.migrateAndSeed()
        try await db.replay(["time,symbol,price,volume", "2026-01-05T06:00:00Z,SCOM,23.10,100", "2026-01-05T06:00:30Z,SCOM,23.20,50"])
        #expect(try db.rows("SELECT open, high, low, close, volume FROM market_candles_1m WHERE symbol = 'SCOM'")
                == [["23.10", "23.20", "23.10", "23.20", "150"]])
        // Compression can run on the chunk.
        try db.sql.execute("SELECT compress_chunk(c) FROM show_chunks('market_ticks') c")
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "2")
    }
}

/// Whether the test server can create the timescaledb extension. When it cannot, the TimescaleDB
/// test is skipped and says so (Swift Testing prints the skip with this reason).
enum TimescaleProbe {
    static let available: Bool = {
        guard let url = TestDatabase.baseURL, let db = try? Connection(conninfo: url) else { return false }
        do throws(PostgresError) {
            // Not preloaded, CREATE EXTENSION would end the connection with a FATAL error.
            guard try db.execute("SELECT current_setting('timescaledb.disable_load', true) IS NOT NULL").value(row: 0, column: 0) == "t" else {
                print("SKIP: TimescaleDB tests: the test server has no TimescaleDB preloaded (it is in no Debian package; scripts/test.sh preloads it where it is installed)")
                return false
            }
            try db.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            return true
        } catch {
            print("SKIP: TimescaleDB tests: \(error.message)")
            return false
        }
    }()
}
