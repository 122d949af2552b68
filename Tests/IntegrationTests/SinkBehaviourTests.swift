import Foundation
import LibPQ
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation
import TickSinks

/// The rules of SPEC.md for market_ticks and stocks, against the real PostgreSQL.
@Suite(.ownThreads) struct SinkBehaviourTests {
    struct Expected: Decodable {
        struct Totals: Decodable { let count: Int; let volume: Int64; let high: String; let low: String; let last_close: String }
        struct File: Decodable { let accepted: Int; let symbols: [String: Totals]? }
        let files: [String: File]
    }

    @Test func sampleDayMatchesTheGeneratorAndASecondReplayChangesNothing() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let trades = TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds/nse-2026-01-05.trades.csv").path
        let expectedData = try Data(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds/nse-2026-01-05.expected.json"))
        let expected = try #require(try JSONDecoder().decode(Expected.self, from: expectedData).files["nse-2026-01-05.trades.csv"])

        let first = try await db.replay(files: [trades])
        #expect(first.inserted == expected.accepted)
        #expect(first.accepted == expected.accepted)
        let rows = try db.rows("""
            SELECT m.symbol, count(*), sum(m.volume), max(m.high)::text, min(m.low)::text, s.latest_price::text, max(m.seq), count(DISTINCT m.seq)
            FROM market_ticks m JOIN stocks s USING (symbol) GROUP BY m.symbol, s.latest_price ORDER BY 1
            """)
        #expect(rows.count == 20)
        for row in rows {
            let symbol = row[0]!
            let want = try #require(expected.symbols?[symbol])
            #expect(row[1] == String(want.count), "\(symbol) count")
            #expect(row[2] == String(want.volume), "\(symbol) volume")
            #expect(row[3] == want.high, "\(symbol) high")
            #expect(row[4] == want.low, "\(symbol) low")
            #expect(row[5] == want.last_close, "\(symbol) latest_price")
            // seq runs 1…count with no gap and no reuse.
            #expect(row[6] == String(want.count) && row[7] == String(want.count), "\(symbol) seq")
        }
        let checksum = """
            SELECT md5(string_agg(symbol || time || trade_seq || open || high || low || close || volume || seq, ',' ORDER BY symbol, time, trade_seq))
            FROM market_ticks
            """
        let before = try db.value(checksum)
        let stocksBefore = try db.rows("SELECT symbol, latest_price, previous_close FROM stocks ORDER BY 1")
        let seqBefore = try db.rows("SELECT * FROM tickd_symbol_seq ORDER BY 1")

        let second = try await db.replay(files: [trades])
        #expect(second.inserted == 0)
        #expect(try db.value(checksum) == before)
        #expect(try db.rows("SELECT symbol, latest_price, previous_close FROM stocks ORDER BY 1") == stocksBefore)
        #expect(try db.rows("SELECT * FROM tickd_symbol_seq ORDER BY 1") == seqBefore)
        #expect(try db.rows("SELECT source LIKE '%trades.csv', line FROM tickd_source_offsets") == [["t", "104004"]])
    }

    @Test func resumingAfterACrashLeavesTheTablesAsOneCleanIngestWould() async throws {
        let trades = TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds/nse-2026-01-05.trades.csv").path
        // The "crash": only the first 40,000 lines made it in before tickd died. (Bytes, not a
        // String: the file holds a deliberately invalid UTF-8 line.)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: trades)))
        let cut = try #require(bytes.indices.filter { bytes[$0] == 0x0A }.dropFirst(39_999).first)
        let partial = FileManager.default.temporaryDirectory.appendingPathComponent("partial-\(UUID().uuidString).csv").path
        try Data(bytes[...cut]).write(to: URL(fileURLWithPath: partial))
        defer { try? FileManager.default.removeItem(atPath: partial) }
        let resumed = try TestDatabase(), clean = try TestDatabase()
        try resumed.migrateAndSeed()
        try clean.migrateAndSeed()
        try await resumed.replay(files: [partial])
        try await resumed.replay(files: [trades])          // the restart replays the whole file
        try await clean.replay(files: [trades])
        let state = """
            SELECT md5(string_agg(symbol || time || trade_seq || open || high || low || close || volume || seq, ',' ORDER BY symbol, time, trade_seq))
            FROM market_ticks
            """
        let stocks = "SELECT symbol, latest_price, previous_close FROM stocks ORDER BY 1"
        #expect(try resumed.value("SELECT count(*) FROM market_ticks") == clean.value("SELECT count(*) FROM market_ticks"))
        #expect(try resumed.value(state) == clean.value(state))
        #expect(try resumed.rows(stocks) == clean.rows(stocks))
        #expect(try resumed.rows("SELECT * FROM tickd_symbol_seq ORDER BY 1") == clean.rows("SELECT * FROM tickd_symbol_seq ORDER BY 1"))
    }

    @Test func decimalsAreStoredExactlyWithTheirScale() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prices = ["0.45", "1.950", "360", "0.0001", "10000", "123456789012.345678", "23.10", "0"]
        try await db.replay(["time,symbol,price,volume"] + prices.enumerated().map { "2026-01-05T06:00:0\($0.offset)Z,SCOM,\($0.element),1" })
        #expect(try db.rows("SELECT close::text FROM market_ticks ORDER BY time").compactMap { $0[0] } == prices)
    }

    @Test func anOlderTickNeverMovesLatestPriceBack() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        try await db.replay(["time,symbol,price,volume", "2026-01-05T09:00:00+03:00,SCOM,24.00,100"])
        #expect(try db.value("SELECT latest_price FROM stocks WHERE symbol = 'SCOM'") == "24.00")
        let late = try await db.replay(["time,symbol,price,volume", "2026-01-05T08:59:59+03:00,SCOM,22.00,100"])
        #expect(late.inserted == 1)                                        // the late tick is stored…
        #expect(try db.value("SELECT latest_price FROM stocks WHERE symbol = 'SCOM'") == "24.00")  // …but not the latest
        try await db.replay(["time,symbol,price,volume", "2026-01-05T09:00:01+03:00,SCOM,24.50,100"])
        #expect(try db.value("SELECT latest_price FROM stocks WHERE symbol = 'SCOM'") == "24.50")
    }

    @Test func underThePlainProfileTheFirstTickOfANewTradingDayMovesTheLastTradeIn() async throws {
        let db = try TestDatabase()
        let config = db.config()   // the plain profile
        try db.migrateAndSeed(config)
        func replay(_ lines: [String]) async throws { try await db.replay(lines, config: config) }
        // Seed price 23.10 is the close before the first day tickd sees.
        try await replay(["time,symbol,price,volume", "2026-01-05T09:00:00+03:00,SCOM,23.50,1", "2026-01-05T14:59:00+03:00,SCOM,23.80,1"])
        #expect(try db.rows("SELECT latest_price, previous_close FROM stocks WHERE symbol = 'SCOM'") == [["23.80", "23.10"]])
        // 23:59 UTC on the 5th is already the 6th in Nairobi: a new trading day.
        try await replay(["time,symbol,price,volume", "2026-01-05T21:30:00Z,SCOM,24.10,1"])
        #expect(try db.rows("SELECT latest_price, previous_close FROM stocks WHERE symbol = 'SCOM'") == [["24.10", "23.80"]])
        try await replay(["time,symbol,price,volume", "2026-01-06T10:00:00+03:00,SCOM,24.30,1"])
        #expect(try db.rows("SELECT latest_price, previous_close FROM stocks WHERE symbol = 'SCOM'") == [["24.30", "23.80"]])
    }

    @Test func twoTradesAtTheSameInstantBothCount() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let report = try await db.replay(["time,symbol,price,volume", "2026-01-05T06:00:00.5Z,SCOM,23.10,100",
                                    "2026-01-05T06:00:00.5Z,SCOM,23.30,200", "2026-01-05T06:00:00.5Z,SCOM,23.20,300"])
        #expect(report.inserted == 3)
        #expect(try db.rows("SELECT count(*), sum(volume), max(high), min(low) FROM market_ticks") == [["3", "600", "23.30", "23.10"]])
        #expect(try db.rows("SELECT open, high, low, close, volume FROM market_candles_1m WHERE symbol = 'SCOM'")
                == [["23.10", "23.30", "23.10", "23.20", "600"]])
        #expect(try db.value("SELECT latest_price FROM stocks WHERE symbol = 'SCOM'") == "23.20")
        // The same three again: nothing new.
        #expect(try await db.replay(["time,symbol,price,volume", "2026-01-05T06:00:00.5Z,SCOM,23.10,100",
                               "2026-01-05T06:00:00.5Z,SCOM,23.30,200", "2026-01-05T06:00:00.5Z,SCOM,23.20,300"]).inserted == 0)
    }

    @Test func aCorrectedTradeReplacesItsRowAndGetsANewSeq() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        try await db.replay(["time,symbol,price,volume,trade_id", "2026-01-05T06:00:00Z,KCB,35.45,100,501"])
        let corrected = try await db.replay(["time,symbol,price,volume,trade_id", "2026-01-05T06:00:00Z,KCB,35.50,100,501"])
        #expect(corrected.inserted == 1)
        #expect(try db.rows("SELECT close, trade_seq, seq FROM market_ticks") == [["35.50", "501", "2"]])
    }

    @Test func hostileSymbolsAreRejectedOrStoredLiterally() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let config = db.config { $0.unknownSymbols = .accept }
        let report = try await db.replay(["time,symbol,price,volume", "2026-01-05T06:00:00Z,');DROP TABLE stocks;--,1.00,1",
                                    "2026-01-05T06:00:00Z,');DROP--,1.00,1", #"2026-01-05T06:00:00Z,"x'); DELETE FROM stocks;",1.00,1"#],
                                   config: config)
        #expect(report.rejectedByReason[.badSymbol] == 2)
        #expect(try db.rows("SELECT symbol FROM market_ticks") == [["');DROP--"]])
        #expect(try db.value("SELECT count(*) FROM stocks") == "20")
    }

    @Test func unknownSymbolsFollowThePolicy() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let lines = ["time,symbol,price,volume", "2026-01-05T06:00:00Z,NEWCO,10.00,1", "2026-01-05T06:00:00Z,SCOM,23.10,1"]
        let rejected = try await db.replay(lines)
        #expect(rejected.rejectedByReason[.unknownSymbol] == 1)
        #expect(rejected.inserted == 1)
        let accepted = try await db.replay(lines, config: db.config { $0.unknownSymbols = .accept })
        #expect(accepted.inserted == 1)
        #expect(try db.value("SELECT count(*) FROM market_ticks WHERE symbol = 'NEWCO'") == "1")
        #expect(try db.value("SELECT count(*) FROM stocks WHERE symbol = 'NEWCO'") == "0")   // tickd never creates instruments
    }
}
