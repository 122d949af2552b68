import Foundation
import LibPQ
import Testing
import TestSupport
import TickDaemon
import TickSinks

/// tickd inside the Stock Soko backend's database: the backend's `stocks` (a uuid made by the
/// ORM, nullable columns, unbounded varchars), its own `market_ticks` in the way, and tables
/// that are the application's, not tickd's. (The backend's SQLAlchemy and Alembic themselves
/// are in examples/tests/test_stocksoko.py.)
@Suite(.ownThreads) struct ApplicationDatabaseTests {
    /// `stocks` as SQLAlchemy creates the backend's `Stock` model (its id default is client-side).
    static let backendStocks = """
        CREATE TABLE stocks (
            id uuid NOT NULL PRIMARY KEY, symbol varchar NOT NULL, name varchar NOT NULL, exchange varchar,
            sector varchar, currency varchar, lot_size integer, market_cap numeric, latest_price numeric,
            previous_close numeric, pe_ratio numeric, dividend_yield numeric, metadata jsonb, updated_at timestamptz);
        CREATE UNIQUE INDEX ix_stocks_symbol ON stocks (symbol)
        """
    /// The backend's own `market_ticks`: rows by stock id, not tickd's shape.
    static let backendTicks = """
        CREATE TABLE market_ticks (
            id uuid NOT NULL PRIMARY KEY, stock_id uuid NOT NULL REFERENCES stocks (id), time timestamptz NOT NULL,
            open numeric, high numeric, low numeric, close numeric, volume bigint)
        """

    static let trades = ["time,symbol,price,volume,trade_id",
                         "2026-01-05T07:00:00Z,SCOM,23.10,1000,1", "2026-01-05T07:00:01Z,SCOM,23.15,500,2",
                         "2026-01-05T07:00:02Z,KCB,35.45,200,3"]

    @Test func seedAndReplayWorkOnTheBackendsStocksAndLeaveWhatItOwns() async throws {
        let db = try TestDatabase()
        try db.sql.execute(Self.backendStocks)
        // The backend's own seed: SCOM with its own name and metadata, and an id it made.
        try db.sql.execute("""
            INSERT INTO stocks (id, symbol, name, sector, metadata, latest_price)
            VALUES ('00000000-0000-4000-8000-000000000001', 'SCOM', 'Safaricom (backend)', 'Telecommunications', '{"isin":"KE1000001402"}', 22.00)
            """)
        let migrated = try DatabaseCommands.migrate(config: db.config())
        #expect(migrated.applied.contains(9))
        #expect(try db.value("SELECT stocks_owner FROM tickd_database") == "application")
        #expect(try db.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'stocks'::regclass AND attname = 'symbol'")
                == "character varying", "migrate left the backend's table as it is")

        let seeded = try DatabaseCommands.seed(config: db.config(), file: nil)
        #expect(seeded == InstrumentSeeder.Outcome(inserted: 19, updated: 0, unchanged: 0, kept: 1))
        #expect(try db.value("SELECT count(*) FROM stocks WHERE id IS NULL") == "0")
        #expect(try db.value("SELECT count(DISTINCT id) FROM stocks") == "20", "tickd made a uuid for each new row")
        #expect(try db.rows("SELECT name, sector, metadata->>'isin', latest_price FROM stocks WHERE symbol = 'SCOM'")
                == [["Safaricom (backend)", "Telecommunications", "KE1000001402", "22.00"]])
        #expect(try db.value("SELECT name FROM stocks WHERE symbol = 'KCB'") == "KCB Group")

        let before = try db.value("SELECT coalesce(updated_at::text, 'never') FROM stocks WHERE symbol = 'SCOM'") ?? ""
        let report = try await db.replay(Self.trades)
        #expect(report.inserted == 3)
        #expect(try db.rows("SELECT latest_price, previous_close, updated_at::text <> '\(before)' FROM stocks WHERE symbol = 'SCOM'")
                == [["23.15", "22.00", "t"]])
        #expect(try db.value("SELECT name FROM stocks WHERE symbol = 'SCOM'") == "Safaricom (backend)", "a run never touches the backend's names")

        // Asked to, seed takes the list's names; the backend's metadata and prices stay.
        let overwritten = try DatabaseCommands.seed(config: db.config(), file: nil, overwrite: true)
        #expect(overwritten.updated == 1 && overwritten.unchanged == 19)
        #expect(try db.rows("SELECT name, sector, metadata->>'isin', latest_price FROM stocks WHERE symbol = 'SCOM'")
                == [["Safaricom PLC", "Telecom", "KE1000001402", "23.15"]])
    }

    @Test func aStocksTableWithoutWhatTickdNeedsStopsMigrateNamingTheColumn() throws {
        let cases: [(change: String, message: String)] = [
            ("ALTER TABLE stocks ALTER COLUMN latest_price TYPE double precision",
             "table stocks: column latest_price is double precision, and tickd run needs numeric (exact decimals)"),
            ("ALTER TABLE stocks DROP COLUMN previous_close",
             "table stocks has no column previous_close, which tickd run needs (numeric (exact decimals)); fix: ALTER TABLE \"stocks\" ADD COLUMN previous_close numeric"),
            ("DROP INDEX ix_stocks_symbol",
             "table stocks: column symbol has no unique constraint, which tickd needs to find an instrument by its symbol; fix: ALTER TABLE \"stocks\" ADD UNIQUE (symbol)"),
        ]
        for (change, message) in cases {
            let db = try TestDatabase()
            try db.sql.execute(Self.backendStocks)
            try db.sql.execute(change)
            #expect {
                try DatabaseCommands.migrate(config: db.config())
            } throws: { error in
                (error as? TableConflict)?.description == message
            }
            #expect(try db.value("SELECT to_regclass('\(db.schema).tickd_schema_migrations') IS NULL AND to_regclass('\(db.schema).market_ticks') IS NULL") == "t",
                    "nothing was created: \(change)")
        }
        // seed needs more of the table than run: a NOT NULL column it has no value for.
        let db = try TestDatabase()
        try db.sql.execute(Self.backendStocks)
        try db.sql.execute("ALTER TABLE stocks ADD COLUMN isin varchar NOT NULL")
        _ = try DatabaseCommands.migrate(config: db.config())
        let seed = try TickdProcess.run(["seed"], environment: ["DATABASE_URL": db.url])
        #expect(seed.status == 1)
        #expect(seed.stderr.contains("tickd: table stocks: column isin is NOT NULL without a default, and tickd seed has no value for it"), "\(seed.stderr)")
    }

    @Test func anApplicationsMarketTicksIsFoundBeforeAnythingIsCreatedAndLivesBesideTickds() async throws {
        let db = try TestDatabase()
        try db.sql.execute(Self.backendStocks)
        try db.sql.execute(Self.backendTicks)
        let migrate = try TickdProcess.run(["migrate"], environment: ["DATABASE_URL": db.url])
        #expect(migrate.status == 1)
        let lines = migrate.stderr.split(separator: "\n")
        #expect(lines.last == """
            tickd: table market_ticks exists and is not tickd's (it has id, stock_id, time, open, high, low, close, volume; \
            no symbol text, no trade_seq bigint, no seq bigint); nothing was changed. Fix: set database.ticks_table \
            (TICKD_DATABASE_TICKS_TABLE) to a table of tickd's own, e.g. tickd_market_ticks, or let tickd own market_ticks by renaming the application's
            """, "\(migrate.stderr)")
        #expect(try db.value("SELECT count(*) FROM pg_class WHERE relnamespace = '\(db.schema)'::regnamespace AND relname LIKE 'tickd%'") == "0")

        // Side by side: tickd's ticks in a table of its own; candles, prices and the official close on it.
        let config = db.config { $0.ticksTable = TableName("tickd_market_ticks")! }
        try db.migrateAndSeed(config)
        try await db.replay(Self.trades + ["2026-01-06T07:00:00Z,SCOM,23.20,100,4"], config: config)
        #expect(try db.value("SELECT count(*) FROM tickd_market_ticks") == "4")
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "0", "the backend's table is untouched")
        #expect(try db.rows("SELECT latest_price, previous_close FROM stocks WHERE symbol = 'SCOM'") == [["23.20", "23.15"]],
                "previous_close is the official close of 5 January (the plain profile's: its last trade)")
        #expect(try db.rows("SELECT open, close, volume FROM market_candles_1d WHERE symbol = 'SCOM' ORDER BY bucket")
                == [["23.10", "23.15", "1500"], ["23.20", "23.20", "100"]])
    }
}
