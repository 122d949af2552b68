import Blocking
import Foundation
import LibPQ
import Synchronization
import Testing
import TestSupport
import TickModel
import TickNormalisation
import TickSinks

/// The two ways a batch is stored: new ticks COPY straight into market_ticks with seqs numbered
/// by tickd; a batch holding stored ticks takes the merge path. Both number the same way.
@Suite(.ownThreads) struct StorePathTests {
    static let open = Int64(1_767_592_800)  // 2026-01-05T06:00:00Z

    static func tick(_ symbol: Symbol, _ second: Int64, _ tradeSeq: Int64, _ cents: Int64) -> KeyedTick {
        KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: open + second, nanoseconds: 250_000), symbol: symbol,
                               price: Price(units: cents, scale: 2), size: 100), tradeSeq: tradeSeq)
    }

    /// (symbol, second, trade_seq, close, seq) of every stored row, in per-symbol seq order.
    static func table(_ db: TestDatabase) throws -> [[String?]] {
        try db.rows("""
            SELECT symbol, extract(epoch FROM time - to_timestamp(\(open)))::numeric(12,6)::text, trade_seq, close::text, seq
            FROM market_ticks ORDER BY symbol, seq
            """)
    }

    @Test func newTicksAreCopiedInNumberedPerSymbolInTimeOrder() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        // Out of order, two symbols, two trades at one instant.
        let batch = [Self.tick("SCOM", 5, 0, 2310), Self.tick("KCB", 1, 0, 4000), Self.tick("SCOM", 2, 1, 2305),
                     Self.tick("SCOM", 2, 0, 2300), Self.tick("KCB", 3, 0, 4010)]
        let result = try await sink.write(batch, source: "test", throughLine: 5)
        #expect(sink.mergedBatches == 0)
        #expect(result.stored.map { "\($0.keyed.tick.symbol)/\($0.seq)/\($0.keyed.tick.close)" }
                == ["KCB/1/40.00", "KCB/2/40.10", "SCOM/1/23.00", "SCOM/2/23.05", "SCOM/3/23.10"])
        #expect(result.latestMoved == ["KCB", "SCOM"])
        #expect(try Self.table(db) == [
            ["KCB", "1.000250", "0", "40.00", "1"], ["KCB", "3.000250", "0", "40.10", "2"],
            ["SCOM", "2.000250", "0", "23.00", "1"], ["SCOM", "2.000250", "1", "23.05", "2"], ["SCOM", "5.000250", "0", "23.10", "3"],
        ])
        #expect(try db.rows("SELECT symbol, latest_price::text FROM stocks WHERE symbol IN ('KCB', 'SCOM') ORDER BY 1")
                == [["KCB", "40.10"], ["SCOM", "23.10"]])
        #expect(try db.rows("SELECT symbol, last_seq FROM tickd_symbol_seq ORDER BY 1") == [["KCB", "2"], ["SCOM", "3"]])
    }

    @Test func aBatchOverlappingStoredTicksIsMergedAndTheNextNewOneIsCopied() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        _ = try await sink.write([Self.tick("SCOM", 1, 0, 2300), Self.tick("SCOM", 2, 0, 2305)], source: "test", throughLine: 2)
        // One unchanged, one corrected, one new (older than the stored ones), one new symbol.
        let mixed = [Self.tick("SCOM", 1, 0, 2300), Self.tick("SCOM", 2, 0, 2399), Self.tick("SCOM", 0, 0, 2290),
                     Self.tick("EQTY", 4, 0, 5000)]
        let merged = try await sink.write(mixed, source: "test", throughLine: 6)
        #expect(sink.mergedBatches == 1)
        #expect(merged.stored.map { "\($0.keyed.tick.symbol)/\($0.seq)/\($0.keyed.tick.close)" }
                == ["EQTY/1/50.00", "SCOM/3/22.90", "SCOM/4/23.99"])
        #expect(try Self.table(db).map { [$0[0], $0[3], $0[4]] } == [
            ["EQTY", "50.00", "1"], ["SCOM", "23.00", "1"], ["SCOM", "22.90", "3"], ["SCOM", "23.99", "4"],
        ])
        // The corrected tick is the newest SCOM tick: latest_price follows it.
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'SCOM'") == "23.99")
        // Ticks after every stored one are copied at once.
        for second in Int64(10)..<13 {
            let result = try await sink.write([Self.tick("SCOM", second, 0, 2400)], source: "test", throughLine: Int(second))
            #expect(result.stored.map(\.seq) == [second - 5])
        }
        // So is a batch whose first trade shares its instant with the last stored trade (a fast
        // feed's batches meet at an instant).
        let next = try await sink.write([Self.tick("SCOM", 12, 1, 2402), Self.tick("SCOM", 13, 0, 2403)], source: "test", throughLine: 15)
        #expect(next.stored.map(\.seq) == [8, 9])
        #expect(sink.mergedBatches == 1)
        // A late trade is copied too when no stored key lies within its batch's range of keys...
        let late = try await sink.write([Self.tick("SCOM", 11, 1, 2401)], source: "test", throughLine: 16)
        #expect(late.stored.map(\.seq) == [10])
        #expect(sink.mergedBatches == 1)
        // ...and merged when one does (here SCOM's stored trade at second 11, trade_seq 0).
        let around = try await sink.write([Self.tick("SCOM", 10, 1, 2404), Self.tick("SCOM", 11, 5, 2405), Self.tick("KCB", 20, 0, 4000)],
                                    source: "test", throughLine: 19)
        #expect(sink.mergedBatches == 2)
        #expect(around.stored.map { "\($0.keyed.tick.symbol)/\($0.seq)" } == ["KCB/1", "SCOM/11", "SCOM/12"])
        #expect(try db.value("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM market_ticks WHERE symbol = 'SCOM'")
                == "1,3,4,5,6,7,8,9,10,11,12")
        // A batch repeating the last stored trade at its first instant is merged (nothing new).
        let again = try await sink.write([Self.tick("SCOM", 13, 0, 2403)], source: "test", throughLine: 17)
        #expect(sink.mergedBatches == 3)
        #expect(again.stored.isEmpty)
    }

    @Test func aTickStoredByAnotherWriterAfterTheProbeSendsTheBatchToTheMergePath() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        // Another writer stores the same trade and commits only once the sink's COPY waits on
        // its key: the probe could not see it, so the COPY fails and the batch is merged.
        let copyWaited = Mutex(false)
        let url = db.url, open = Self.open
        let otherWriter = BlockingExecutor(name: "test-other-writer")
        defer { otherWriter.shutdown() }
        let connection = try await otherWriter.run { () throws -> Exclusive<Connection?> in
            let conn = try Connection(conninfo: url)
            try conn.execute("BEGIN")
            try conn.execute("""
                INSERT INTO market_ticks (time, symbol, trade_seq, open, high, low, close, volume, seq)
                VALUES (to_timestamp(\(open) + 7.00025), 'SCOM', 0, 23.10, 23.10, 23.10, 23.10, 100, 1)
                """)
            return Exclusive(conn)
        }
        // It commits once the sink's COPY waits on its key (looked at every 50 ms, by the server).
        otherWriter.execute {
            guard let conn = connection.withLock({ $0 }) else { return }
            for _ in 0..<200 {
                _ = try? conn.execute("SELECT pg_stat_clear_snapshot()")   // a transaction sees one snapshot of the view otherwise
                let waiting = (try? conn.execute("""
                    SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%market_ticks%'
                    """).value(row: 0, column: 0)) ?? "0"
                if waiting != "0" { copyWaited.withLock { $0 = true }; break }
                _ = try? conn.execute("SELECT pg_sleep(0.05)")
            }
            _ = try? conn.execute("COMMIT")
        }
        let result = try await sink.write([Self.tick("SCOM", 7, 0, 2310), Self.tick("SCOM", 8, 0, 2311)], source: "test", throughLine: 2)
        #expect(copyWaited.withLock { $0 }, "the COPY never waited on the other writer's key")
        #expect(sink.mergedBatches == 1)
        #expect(result.stored.map { "\($0.keyed.tick.close)" } == ["23.11"])
        #expect(try db.value("SELECT string_agg(close::text, ',' ORDER BY time) FROM market_ticks") == "23.10,23.11")
    }
}
