import Foundation
import Testing
import TestSupport

/// `tickd redrive`: after a listing, the `unknown_symbol` dead letters go in; twice, nothing twice.
@Suite(.ownThreads) struct RedriveTests {
    @Test func unknownSymbolDeadLettersGoInAfterTheListingAndOnlyOnce() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let report = try await db.replay(["timestamp,ticker,last,size,trade_id",
                                    "2026-01-05T07:00:00Z,NEWCO,10.00,100,1", "2026-01-05T07:00:01Z,SCOM,23.10,100,2",
                                    "2026-01-05T07:00:02Z,NEWCO,10.05,300,3", "2026-01-05T07:00:03Z,SCOM,-1,100,4",
                                    "2026-01-05T07:00:04Z,NEWCO,10.10,200,5"])
        #expect(report.rejected == 4)
        let deadLetters = db.config().deadLetterPath
        let written = try String(contentsOfFile: deadLetters, encoding: .utf8)
        #expect(written.contains(#""header":"timestamp,ticker,last,size,trade_id""#))

        try db.sql.execute("INSERT INTO stocks (symbol, name) VALUES ('NEWCO', 'New Listing PLC')")
        let environment = ["DATABASE_URL": db.url, "TICKD_DEAD_LETTER_PATH": TickdProcess.temporaryPath("again.jsonl")]
        let first = try TickdProcess.run(["redrive", deadLetters, "--reason", "unknown_symbol", "--report", "json"], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains(#""read":3,"accepted":3,"rejected":0,"inserted":3"#), "\(first.stdout)")
        #expect(try db.rows("SELECT trade_seq::text, close::text, volume::text FROM market_ticks WHERE symbol = 'NEWCO' ORDER BY time")
                == [["1", "10.00", "100"], ["3", "10.05", "300"], ["5", "10.10", "200"]])
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'NEWCO'") == "10.10")
        // Again: the same trade keys, unchanged rows: nothing stored twice. The negative price stays out.
        let second = try TickdProcess.run(["redrive", deadLetters, "--report", "json"], environment: environment)
        #expect(second.status == 0 && second.stdout.contains(#""inserted":0"#), "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains(#""negative_price":1"#), "\(second.stdout)")
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "4")
        let bad = try TickdProcess.run(["redrive", deadLetters, "--reason", "unknown"], environment: environment)
        #expect(bad.status == 2 && bad.stderr.contains("--reason: 'unknown' is not a reject reason"), "\(bad.stderr)")
    }
}
