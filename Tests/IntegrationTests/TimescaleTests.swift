import Foundation
import LibPQ
import Testing
import TestSupport
import TickDaemon
import TickSinks

/// TimescaleDB for real: candles that equal their definition as soon as a replay returns, late
/// ticks and corrections that revise them, replays over compressed chunks, the plain fallback of a
/// server that has TimescaleDB installed but not preloaded, and the conversion of a plain table.
/// Runs wherever the test server can create the extension (scripts/test.sh preloads it when it is
/// installed); prints one SKIP line elsewhere.
@Suite(.ownThreads, .enabled(if: TimescaleProbe.available, "SKIP: TimescaleDB is not preloaded on the test server; the hypertable path was not exercised"))
struct TimescaleTests {
    static let sampleDay = TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds/nse-2026-01-05.trades.csv").path

    /// The candle definition, written independently of the schema: per bucket and symbol, open
    /// and close are the first and last trade by (time, trade_seq); the day is the Nairobi date.
    static let buckets = [("market_candles_1m", "date_trunc('minute', time)"), ("market_candles_1h", "date_trunc('hour', time)"),
                          ("market_candles_1d", "((time AT TIME ZONE 'Africa/Nairobi')::date)::timestamp AT TIME ZONE 'Africa/Nairobi'")]

    /// A test schema migrated and seeded on TimescaleDB, with the sample day replayed into it.
    static func sampleDayReplayed() async throws -> TestDatabase {
        let db = try TestDatabase()
        try db.migrateAndSeed(db.config { $0.timescale = .on })
        try await db.replay(files: [sampleDay])
        return db
    }

    struct Comparison: Equatable, CustomStringConvertible {
        var buckets = 0, missing = 0, differ = 0, extra = 0
        var description: String { "buckets \(buckets), missing \(missing), differ \(differ), extra \(extra)" }
    }

    /// Compares every bucket of `view`, materialised data only (real-time aggregation off for the
    /// check, so what tickd refreshed is what is compared), with the definition over market_ticks.
    static func compare(_ db: TestDatabase, _ view: String, bucket: String) throws -> Comparison {
        try db.sql.execute("ALTER MATERIALIZED VIEW \(view) SET (timescaledb.materialized_only = true)")
        defer { _ = try? db.sql.execute("ALTER MATERIALIZED VIEW \(view) SET (timescaledb.materialized_only = false)") }
        let row = try db.rows("""
            WITH d AS (
                SELECT \(bucket) AS bucket, symbol, (array_agg(open ORDER BY time, trade_seq))[1] AS open, max(high) AS high,
                       min(low) AS low, (array_agg(close ORDER BY time DESC, trade_seq DESC))[1] AS close,
                       sum(volume) AS volume, count(*) AS ticks, sum(close * volume) AS turnover
                FROM market_ticks GROUP BY 1, 2)
            SELECT count(d.bucket), count(d.bucket) FILTER (WHERE c.bucket IS NULL),
                   count(*) FILTER (WHERE d.bucket IS NOT NULL AND c.bucket IS NOT NULL
                       AND (d.open, d.high, d.low, d.close, d.volume, d.ticks, d.turnover)
                           IS DISTINCT FROM (c.open, c.high, c.low, c.close, c.volume, c.ticks, c.turnover)),
                   count(c.bucket) FILTER (WHERE d.bucket IS NULL)
            FROM d FULL JOIN \(view) c ON c.bucket = d.bucket AND c.symbol = d.symbol
            """)[0]
        let n = row.map { Int($0 ?? "") ?? -1 }
        return Comparison(buckets: n[0], missing: n[1], differ: n[2], extra: n[3])
    }

    /// Every candle equals the definition, bucket by bucket; returns the minute buckets.
    @discardableResult
    static func expectCandlesMatch(_ db: TestDatabase, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        var minutes = 0
        for (view, bucket) in buckets {
            let result = try compare(db, view, bucket: bucket)
            #expect(result.buckets > 0 && result.missing == 0 && result.differ == 0 && result.extra == 0,
                    "\(context): \(view): \(result)", sourceLocation: sourceLocation)
            if view == "market_candles_1m" { minutes = result.buckets }
        }
        return minutes
    }

    @Test func candlesOfAReplayedPastDayEqualTheDefinitionWhenTheReplayReturns() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed(db.config { $0.timescale = .on })
        #expect(try db.value("SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_schema = '\(db.schema)' AND NOT materialized_only") == "3")
        let report = try await db.replay(files: [Self.sampleDay])
        #expect(report.inserted == 103_991)
        #expect(try Self.expectCandlesMatch(db, "after the replay") == 7_089)
        // The daily candle is the Nairobi trading day, with the day's vwap.
        #expect(try db.rows("SELECT bucket AT TIME ZONE 'Africa/Nairobi', ticks, vwap = round(turnover / volume, 4) FROM market_candles_1d WHERE symbol = 'SCOM'")
                == [["2026-01-05 00:00:00", try db.value("SELECT count(*) FROM market_ticks WHERE symbol = 'SCOM'"), "t"]])
    }

    @Test func migrateReplacesTheCandlesOfAnEarlierReleaseAndKeepsEveryTick() async throws {
        let db = try TestDatabase()
        let config = db.config { $0.timescale = .on }
        try db.migrateAndSeed(config)
        try await db.replay(files: [Self.sampleDay])
        let ticks = "SELECT count(*), md5(string_agg(symbol || time || trade_seq || close || volume || seq, ',' ORDER BY symbol, time, trade_seq)) FROM market_ticks"
        let stored = try db.rows(ticks)
        // What an earlier release left: materialised-only aggregates ordered by time alone,
        // never refreshed for a past day, and no step 4 (nor the adjusted views over the candles).
        var old = "DROP VIEW market_candles_1d_adjusted, market_candles_1h_adjusted, market_candles_1m_adjusted;\n"
        old += "DROP MATERIALIZED VIEW market_candles_1d; DROP MATERIALIZED VIEW market_candles_1h; DROP MATERIALIZED VIEW market_candles_1m;\n"
        for (view, bucket) in [("market_candles_1m", "time_bucket(INTERVAL '1 minute', time)"), ("market_candles_1h", "time_bucket(INTERVAL '1 hour', time)"),
                               ("market_candles_1d", "time_bucket(INTERVAL '1 day', time, 'Africa/Nairobi')")] {
            old += """
                CREATE MATERIALIZED VIEW \(view) WITH (timescaledb.continuous) AS
                    SELECT \(bucket) AS bucket, symbol, first(open, time) AS open, max(high) AS high, min(low) AS low,
                           last(close, time) AS close, sum(volume) AS volume, count(*) AS ticks
                    FROM market_ticks GROUP BY bucket, symbol WITH NO DATA;

                """
        }
        try db.sql.execute(old + "DELETE FROM tickd_schema_migrations WHERE version = 4")
        #expect(try db.value("SELECT count(*) FROM market_candles_1m") == "0")
        let outcome = try DatabaseCommands.migrate(config: config)
        #expect(outcome.applied == [4] && outcome.mode == .timescale)
        #expect(try db.rows(ticks) == stored)
        try Self.expectCandlesMatch(db, "after the upgrade")
        #expect(try db.value("SELECT count(*) FROM market_candles_1d_adjusted") == db.value("SELECT count(*) FROM market_candles_1d"))
    }

    @Test func migrateAndRefreshesTouchOnlyTheCandlesOfTheirOwnSchema() async throws {
        let other = try await Self.sampleDayReplayed()
        let candles = "SELECT count(*), sum(volume), max(high) FROM market_candles_1m"
        let before = try other.rows(candles)
        // A second installation whose search_path has the first one's schema after its own:
        // until it has candles of its own, an unqualified name would resolve to the other's.
        let db = try TestDatabase()
        let url = db.url.replacingOccurrences(of: "search_path%3D\(db.schema)%2Cpublic",
                                              with: "search_path%3D\(db.schema)%2C\(other.schema)%2Cpublic")
        let config = db.config { $0.timescale = .on; $0.databaseURL = url }
        try db.migrateAndSeed(config)
        try await db.replay(["time,symbol,price,volume,trade_id", "2026-01-05T07:15:30Z,SCOM,99.00,7,1"], config: config)
        #expect(try other.rows(candles) == before)
        #expect(try db.value("SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_schema = '\(db.schema)'") == "3")
        #expect(try db.rows("SELECT high, volume FROM \(db.schema).market_candles_1d") == [["99.00", "7"]])
    }

    @Test func sameInstantTradesOpenAndCloseByTradeSeqNotByArrival() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed(db.config { $0.timescale = .on })
        // Three trades at one instant, sent out of trade_id order: open is trade 4, close trade 6.
        try await db.replay(["time,symbol,price,volume,trade_id",
                       "2026-01-05T06:00:00.5Z,SCOM,23.30,100,5", "2026-01-05T06:00:00.5Z,SCOM,23.50,100,4",
                       "2026-01-05T06:00:00.5Z,SCOM,23.10,100,6"])
        for (view, _) in Self.buckets {
            #expect(try db.rows("SELECT open, high, low, close, volume, ticks FROM \(view) WHERE symbol = 'SCOM'")
                    == [["23.50", "23.50", "23.10", "23.10", "300", "3"]], "\(view)")
        }
        try Self.expectCandlesMatch(db, "same-instant trades")
    }

    @Test func aLateTickAndACorrectedTradeReviseEveryCandle() async throws {
        let db = try await Self.sampleDayReplayed()
        let before = try db.rows("SELECT high, volume FROM market_candles_1m WHERE symbol = 'SCOM' AND bucket = '2026-01-05T07:15:00Z'")
        // A late trade far into the past of everything materialised, and a correction of the
        // day's first SCOM trade (trade_id 1000001: same key, new price and size).
        try await db.replay(["time,symbol,price,volume,trade_id",
                       "2026-01-05T07:15:30Z,SCOM,99.00,7,9000001",
                       "2026-01-05T09:00:00.055+03:00,SCOM,23.25,301,1000001"])
        let after = try db.rows("SELECT high, volume FROM market_candles_1m WHERE symbol = 'SCOM' AND bucket = '2026-01-05T07:15:00Z'")
        #expect(after[0][0] == "99.00")
        #expect(Int(after[0][1] ?? "") == Int(before[0][1] ?? "")! + 7)
        #expect(try db.value("SELECT open || ' ' || high FROM market_candles_1d WHERE symbol = 'SCOM'")?.hasPrefix("23.25 99.00") == true)
        try Self.expectCandlesMatch(db, "after a late tick and a correction")
    }

    @Test func aRunningDaemonRevisesOldCandlesWithinSeconds() async throws {
        let db = try await Self.sampleDayReplayed()
        let config = try DaemonTests.configFile(db, "timescale:\n  refresh_interval_ms: 500\n")
        let daemon = try DaemonProcess(["run", "--config", config, "--listen", "127.0.0.1:0"], environment: ["DATABASE_URL": db.url])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let socket = try LineSocket(port: port)
        socket.send("time,symbol,price,volume,trade_id\n2026-01-05T08:00:10Z,KCB,77.00,5,9100001\n")
        let sent = ContinuousClock.now
        try db.sql.execute("ALTER MATERIALIZED VIEW market_candles_1h SET (timescaledb.materialized_only = true)")
        let revised = eventually(timeout: .seconds(20)) {
            (try? db.value("SELECT high FROM market_candles_1h WHERE symbol = 'KCB' AND bucket = '2026-01-05T08:00:00Z'")) == "77.00"
        }
        let seconds = (ContinuousClock.now - sent).seconds
        try db.sql.execute("ALTER MATERIALIZED VIEW market_candles_1h SET (timescaledb.materialized_only = false)")
        print("candles: a late tick into a materialised hour was in the materialised candles \(String(format: "%.2f", seconds)) s after it was sent")
        #expect(revised, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
        try Self.expectCandlesMatch(db, "after the daemon's late tick")
    }

    @Test func cancelsAndCorrectionsOverACompressedChunkReviseEveryCandleAndTheLatestPrice() async throws {
        let db = try await Self.sampleDayReplayed()
        #expect(try db.value("SELECT count(compress_chunk(c)) FROM show_chunks('market_ticks') c") == "1")
        // SCOM's last trade of the day, one KCB trade from the middle, and EQTY's first trade moved.
        let last = try #require(try db.rows("SELECT trade_seq::text, close::text FROM market_ticks WHERE symbol = 'SCOM' ORDER BY time DESC, trade_seq DESC LIMIT 2"))
        let kcb = try #require(try db.value("SELECT trade_seq::text FROM market_ticks WHERE symbol = 'KCB' ORDER BY time LIMIT 1 OFFSET 500"))
        let eqty = try #require(try db.value("SELECT trade_seq::text FROM market_ticks WHERE symbol = 'EQTY' ORDER BY time LIMIT 1"))
        let report = try await db.replay(["time,symbol,price,volume,trade_id,action",
                                          "2026-01-05T15:10:00+03:00,SCOM,,,\(last[0][0]!),cancel",
                                          "2026-01-05T15:10:00+03:00,KCB,,,\(kcb),cancel",
                                          "2026-01-05T12:30:00+03:00,EQTY,99.00,12345,\(eqty),correct"])
        #expect(report.cancelled == 2 && report.corrected == 1 && report.rejected == 0)
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'SCOM'") == last[1][1])
        #expect(try db.value("SELECT count(*) FROM market_ticks WHERE (symbol, trade_seq::text) IN (('SCOM', '\(last[0][0]!)'), ('KCB', '\(kcb)'))") == "0")
        #expect(try db.value("SELECT high::text FROM market_candles_1h WHERE symbol = 'EQTY' AND bucket = '2026-01-05T09:00:00Z'") == "99.00")
        try Self.expectCandlesMatch(db, "after cancels and a correction over a compressed chunk")
    }

    @Test func haltsOverACompressedChunkHoldTradesOutOfTheCandlesAndLearntLateUndoNothing() async throws {
        let db = try await Self.sampleDayReplayed()
        #expect(try db.value("SELECT count(compress_chunk(c)) FROM show_chunks('market_ticks') c") == "1")
        let fingerprint = "SELECT count(*), sum(volume), md5(string_agg(symbol || time || trade_seq || close || seq, ',' ORDER BY symbol, time, trade_seq)) FROM market_ticks"
        let stored = try db.rows(fingerprint)
        let volume = { try Int(#require(try db.value("SELECT volume::text FROM market_candles_1d WHERE symbol = 'SCOM'")))! }
        let before = try volume()
        // A halt the exchange called at 12:00 and lifted at 12:10, learnt after the day was stored
        // and compressed: the trades of those minutes stay, and a replay of the day holds none.
        let late = try await db.replay([TradingStatusTests.header, "2026-01-05T12:00:00+03:00,SCOM,,,,status,halted",
                                        "2026-01-05T12:10:00+03:00,SCOM,,,,status,resumed"])
        #expect(late.statusChanges == 2)
        // (A copy: the same file would resume after its last committed line and read nothing.)
        let copy = TickdProcess.temporaryPath("sample-day-again.csv")
        try FileManager.default.copyItem(atPath: Self.sampleDay, toPath: copy)
        let replayed = try await db.replay(files: [copy])
        #expect(replayed.inserted == 0 && replayed.quarantined == 0, "\(replayed)")
        #expect(try db.rows(fingerprint) == stored)
        #expect(try db.value("SELECT count(*) FROM tickd_quarantine") == "0")
        // After the close: a halt, a trade during it (held), one printed before it and delivered
        // late, the resumption and a trade after it. The candles have the late and the last only.
        let report = try await db.replay([TradingStatusTests.header, "2026-01-05T15:30:00+03:00,SCOM,,,,status,halted",
                                          "2026-01-05T15:31:00+03:00,SCOM,23.55,1000,9200001,,", "2026-01-05T15:29:00+03:00,SCOM,23.50,7,9200002,,",
                                          "2026-01-05T15:40:00+03:00,SCOM,,,,status,resumed", "2026-01-05T15:41:00+03:00,SCOM,23.45,11,9200003,,"])
        #expect(report.quarantined == 1 && report.inserted == 2, "\(report)")
        #expect(try volume() == before + 18)
        try Self.expectCandlesMatch(db, "after a halt over a compressed chunk")
        let released = try await Quarantine.release(config: db.config { $0.timescale = .on }, ids: nil)
        #expect(released.stored == 1)
        #expect(try volume() == before + 1018)
        try Self.expectCandlesMatch(db, "after the held trade was released")
    }

    @Test func aSplitAdjustsTheCandlesOverACompressedChunkAndTheNextDaysBand() async throws {
        let db = try await Self.sampleDayReplayed()
        #expect(try db.value("SELECT count(compress_chunk(c)) FROM show_chunks('market_ticks') c") == "1")
        let path = TickdProcess.temporaryPath("split.csv")
        try "SCOM,2026-01-06,split,2:1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let imported = try TickdProcess.run(["corporate-actions", "import", path], environment: ["DATABASE_URL": db.url, "TICKD_TIMESCALE_ENABLED": "on"])
        #expect(imported.status == 0, "\(imported.stderr)")
        // Every SCOM candle of the sample day in today's shares, the others as traded.
        for view in ["market_candles_1m", "market_candles_1h", "market_candles_1d"] {
            let wrong = try db.value("""
                SELECT count(*) FROM \(view) c JOIN \(view)_adjusted a USING (bucket, symbol)
                WHERE CASE WHEN c.symbol = 'SCOM'
                      THEN (a.open, a.high, a.low, a.close, a.volume, a.vwap) IS DISTINCT FROM
                           (round(c.open / 2, 4), round(c.high / 2, 4), round(c.low / 2, 4), round(c.close / 2, 4), c.volume * 2, round(c.vwap / 2, 4))
                      ELSE (a.open, a.close, a.volume) IS DISTINCT FROM (c.open, c.close, c.volume) END
                """)
            #expect(wrong == "0", "\(view)")
            #expect(try db.value("SELECT count(*) FROM \(view)_adjusted") == db.value("SELECT count(*) FROM \(view)"))
        }
        // The next day's trade near half the price is within its band, and its previous_close is
        // the sample day's official close (VWAP on the 0.05 grid) halved, on the grid again.
        let next = try await db.replay(["time,symbol,price,volume,trade_id", "2026-01-06T09:30:00+03:00,SCOM,11.80,100,9300001"],
                                       config: db.config(nse: true) { $0.timescale = .on })
        #expect(next.inserted == 1 && next.quarantined == 0, "\(next)")
        let expected = try db.value("""
            SELECT (round(round(sum(close * volume) / sum(volume) / 0.05) * 0.05 / 2 / 0.05) * 0.05)::numeric(12,2)::text
            FROM market_ticks WHERE symbol = 'SCOM' AND time < '2026-01-06T00:00:00+03:00'
            """)
        #expect(try db.value("SELECT previous_close::text FROM stocks WHERE symbol = 'SCOM'") == expected)
    }

    @Test func replaysOverCompressedChunksStoreNothingTwiceAndLoseNothing() async throws {
        let db = try await Self.sampleDayReplayed()
        let fingerprint = "SELECT count(*), sum(volume), md5(string_agg(symbol || time || trade_seq || close || seq, ',' ORDER BY symbol, time, trade_seq)) FROM market_ticks"
        let stored = try db.rows(fingerprint)
        #expect(try db.value("SELECT count(compress_chunk(c)) FROM show_chunks('market_ticks') c") == "1")
        let again = ContinuousClock.now
        let replayed = try await ReplayRunner(config: db.config(), request: ReplayRequest(files: [Self.sampleDay], dryRun: false, resume: false)).run()
        print("compressed chunks: replay of the stored day again took \(String(format: "%.2f", (ContinuousClock.now - again).seconds)) s")
        #expect(replayed.inserted == 0)
        #expect(try db.rows(fingerprint) == stored)
        // A vendor's corrected file: about 50 trades with a new size, the rest byte for byte as
        // stored (the sample's deliberately bad lines, invalid UTF-8 among them, included).
        let lines = try Data(contentsOf: URL(fileURLWithPath: Self.sampleDay)).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var corrected = Data()
        var changed = 0
        for line in lines {
            var bytes = Data(line)
            if let text = String(data: bytes, encoding: .utf8) {
                var fields = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if fields.count == 5, let id = Int(fields[4]), id % 2000 == 0, let size = Int(fields[3]) {
                    fields[3] = String(size + 1)
                    changed += 1
                    bytes = Data(fields.joined(separator: ",").utf8)
                }
            }
            corrected.append(bytes)
            corrected.append(UInt8(ascii: "\n"))
        }
        let path = TickdProcess.temporaryPath("corrected.csv")
        try corrected.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fixed = try await db.replay(files: [path])
        #expect(changed > 40 && fixed.inserted == changed)
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "103991")
        #expect(try db.value("SELECT count(*) = count(DISTINCT (symbol, seq)) FROM market_ticks") == "t")
        // Late trades into the compressed day: stored once each.
        let late = try await db.replay(["time,symbol,price,volume,trade_id"] + (0..<500).map {
            String(format: "2026-01-05T%02d:%02d:07Z,EQTY,52.%02d,10,%d", 6 + $0 / 100, $0 % 60, $0 % 100, 9_200_000 + $0)
        })
        #expect(late.inserted == 500)
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "104491")
        #expect(try db.value("SELECT count(*) = count(DISTINCT (symbol, seq)) AND count(*) = count(DISTINCT (symbol, time, trade_seq)) FROM market_ticks") == "t")
        try Self.expectCandlesMatch(db, "after replays over compressed chunks")
    }
}

/// A PostgreSQL server of the test's own with TimescaleDB installed: first not preloaded, as
/// `apt install` leaves it before `shared_preload_libraries` is set, then preloaded.
@Suite(.ownThreads, .enabled(if: PrivatePostgres.timescaleInstalled, "SKIP: TimescaleDB is not installed on this machine; its preload checks were not exercised"))
struct TimescalePreloadTests {
    static func config(_ server: PrivatePostgres, _ mode: SchemaOptions.TimescaleMode) -> TickdConfig {
        var config = TickdConfig()
        config.databaseURL = server.url
        config.timescale = mode
        config.instrumentsFile = TestDatabase.repositoryRoot.appendingPathComponent("Seeds/stocks.csv").path
        config.deadLetterPath = TickdProcess.temporaryPath("dead.jsonl")
        return config
    }

    @Test func installedButNotPreloadedFallsBackToPlainOrExitsOneNamingTheSetting() throws {
        let server = try PrivatePostgres()
        let logs = LogCapture()
        let outcome = try DatabaseCommands.migrate(config: Self.config(server, .auto), logger: logs.logger("tickd.migrate"))
        #expect(outcome.mode == .plain)
        let notices = logs.records.filter { $0.line.contains("shared_preload_libraries") }
        #expect(notices.count == 1 && notices.first?.level == .notice, "\(logs.records.map(\.line))")
        let run = try TickdProcess.run(["migrate"], environment: ["DATABASE_URL": server.url, "TICKD_TIMESCALE_ENABLED": "on"])
        #expect(run.status == 1)
        let last = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("shared_preload_libraries") && last.contains("timescale.enabled is on"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").filter { $0.contains("shared_preload_libraries") }.count == 1, "\(run.stderr)")
        // The server is unharmed: tickd never sent the CREATE EXTENSION that ends the connection.
        #expect(try Connection(conninfo: server.url).execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").value(row: 0, column: 0) == "0")
    }

    @Test func migrateConvertsAPlainTableToAHypertableWithoutLosingARow() async throws {
        let server = try PrivatePostgres()
        let plain = Self.config(server, .auto)
        #expect(try DatabaseCommands.migrate(config: plain).mode == .plain)
        _ = try DatabaseCommands.seed(config: plain, file: nil)
        let report = try await ReplayRunner(config: plain, request: ReplayRequest(files: [TimescaleTests.sampleDay], dryRun: false)).run()
        #expect(report.inserted == 103_991)
        let fingerprint = """
            SELECT count(*), sum(volume), md5(string_agg(symbol || time || trade_seq || open || high || low || close || volume || seq, ','
                                                         ORDER BY symbol, time, trade_seq)) FROM market_ticks
            """
        let before = try Connection(conninfo: server.url).execute(fingerprint).rows
        let plainCandles = try Connection(conninfo: server.url).execute("SELECT * FROM market_candles_1d ORDER BY symbol").rows

        try server.stopCleanly()
        server.settings = PrivatePostgres.preloadTimescale
        try server.start()
        let outcome = try DatabaseCommands.migrate(config: plain)
        #expect(outcome.mode == .timescale && outcome.converted && outcome.applied.isEmpty)
        let db = try Connection(conninfo: server.url)
        #expect(try db.execute(fingerprint).rows == before)
        #expect(try db.execute("SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'market_ticks'").value(row: 0, column: 0) == "1")
        #expect(try db.execute("SELECT count(*) FROM timescaledb_information.continuous_aggregates").value(row: 0, column: 0) == "3")
        #expect(try db.execute("SELECT string_agg(DISTINCT storage_mode, ',') FROM tickd_schema_migrations").value(row: 0, column: 0) == "timescale")
        // The candles are the same numbers as the plain views gave, now materialised.
        #expect(try db.execute("SELECT * FROM market_candles_1d ORDER BY symbol").rows == plainCandles)
        // A second migrate has nothing left to do.
        let again = try DatabaseCommands.migrate(config: plain)
        #expect(again.applied.isEmpty && !again.converted && again.mode == .timescale)
    }
}
