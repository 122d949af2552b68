import Foundation
import Testing
import TestSupport
import TickDaemon
import TickModel

/// Splits, bonus issues and consolidations with the NSE profile against the real PostgreSQL:
/// the ex-date's band and previous_close in new shares, the adjusted candles, an action learnt
/// after its ex-date.
@Suite(.ownThreads) struct CorporateActionTests {
    static let header = "time,symbol,price,volume,trade_id"

    static func importFile(_ db: TestDatabase, _ lines: [String]) throws -> TickdProcess.Output {
        let path = TickdProcess.temporaryPath("actions.csv")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return try TickdProcess.run(["corporate-actions", "import", path], environment: ["DATABASE_URL": db.url, "TICKD_EXCHANGE_PROFILE": "nse"])
    }

    static func stock(_ db: TestDatabase, _ symbol: String) throws -> [String?] {
        try db.rows("SELECT latest_price::text, previous_close::text FROM stocks WHERE symbol = '\(symbol)'")[0]
    }

    @Test func onTheExDateTheBandAndPreviousCloseAreInNewSharesAndTheCandlesAdjusted() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        // Friday 6 March: SCOM closes at 23.10, KCB at 35.00.
        try await db.replay([Self.header, "2026-03-06T10:00:00+03:00,SCOM,23.10,1000,1", "2026-03-06T10:00:00+03:00,KCB,35.00,1000,2"],
                            config: config)
        // SCOM splits 2-for-1 and KCB issues 1 bonus share for every 10, both from Monday 9 March.
        let imported = try Self.importFile(db, ["symbol,ex_date,kind,ratio", "SCOM,2026-03-09,split,2:1", "kcb, 2026-03-09 ,bonus,11:10"])
        #expect(imported.status == 0 && imported.stdout.contains("imported 2 (2 new or changed)"), "\(imported.stdout)\(imported.stderr)")
        // Monday's trades at the new prices are within the band around 11.55 and 31.80 (35.00 ×
        // 10/11 = 31.818… on the 0.05 grid); KCB at its old price is more than 10 % above.
        let monday = try await db.replay([Self.header, "2026-03-09T10:00:00+03:00,SCOM,11.55,2000,3", "2026-03-09T10:01:00+03:00,SCOM,11.60,100,4",
                                          "2026-03-09T10:00:00+03:00,KCB,31.80,1100,5", "2026-03-09T10:05:00+03:00,KCB,35.00,100,6"],
                                         config: config)
        #expect(monday.inserted == 3 && monday.quarantined == 1, "\(monday)")
        #expect(try db.value("SELECT previous_close::text FROM tickd_quarantine") == "31.80")
        #expect(try Self.stock(db, "SCOM") == ["11.60", "11.55"])
        #expect(try Self.stock(db, "KCB") == ["31.80", "31.80"])
        // Friday's candle in today's shares; the candles as traded are untouched.
        #expect(try db.rows("SELECT symbol, close::text, volume::text, vwap::text, price_factor::text FROM market_candles_1d_adjusted WHERE bucket < '2026-03-07' ORDER BY symbol")
                == [["KCB", "31.8182", "1100.0000", "31.8182", "0.9090909091"], ["SCOM", "11.5500", "2000.0000", "11.5500", "0.5000000000"]])
        #expect(try db.rows("SELECT symbol, close::text, volume::text FROM market_candles_1d WHERE bucket < '2026-03-07' ORDER BY symbol")
                == [["KCB", "35.00", "1000"], ["SCOM", "23.10", "1000"]])
        #expect(try db.rows("SELECT close::text, volume::text, price_factor::text FROM market_candles_1m_adjusted WHERE symbol = 'SCOM' ORDER BY bucket")
                == [["11.5500", "2000.0000", "0.5000000000"], ["11.55", "2000", "1.0000000000"], ["11.60", "100", "1.0000000000"]])
        // Importing the same file again changes nothing.
        let again = try Self.importFile(db, ["SCOM,2026-03-09,split,2:1", "KCB,2026-03-09,bonus,11:10"])
        #expect(again.status == 0 && again.stdout.contains("imported 2 (0 new or changed); previous_close adjusted: none"), "\(again.stdout)")
        let listed = try TickdProcess.run(["corporate-actions", "list"], environment: ["DATABASE_URL": db.url])
        #expect(listed.stdout.contains("KCB\t2026-03-09\tbonus\t11:10") && listed.stdout.contains("SCOM\t2026-03-09\tsplit\t2:1"), "\(listed.stdout)")
    }

    @Test func anActionLearntAfterItsExDateAdjustsPreviousCloseAndReleasesWhatTheOldBandHeld() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        // EABL closes at 150.00 on Friday; a 1-for-10 consolidation takes effect on Monday, but
        // nobody told tickd: Monday's trades at 1,500 are far outside the band and held.
        try await db.replay([Self.header, "2026-03-06T10:00:00+03:00,EABL,150.00,1000,1"], config: config)
        let monday = try await db.replay([Self.header, "2026-03-09T10:00:00+03:00,EABL,1500.00,100,2", "2026-03-09T10:01:00+03:00,EABL,1505.00,100,3",
                                          "2026-03-09T10:02:00+03:00,EABL,2000.00,100,4"], config: config)
        #expect(monday.quarantined == 3 && monday.inserted == 0)
        #expect(try Self.stock(db, "EABL")[1] == "140.00")  // the seed's price, before its first trade
        let imported = try Self.importFile(db, ["EABL,2026-03-09,consolidation,1:10"])
        #expect(imported.status == 0, "\(imported.stderr)")
        // No trade of Monday was stored, so previous_close moves to the adjusted close (1,500) with
        // the first one the re-check stores.
        #expect(imported.stdout.contains("previous_close adjusted: none; held trades re-checked 3, stored 2"), "\(imported.stdout)")
        #expect(try Self.stock(db, "EABL") == ["1505.00", "1500.00"])
        // 2,000 is still more than 10 % above 1,500: still held (its row as it was first held).
        #expect(try db.rows("SELECT close::text, previous_close::text, released_at IS NULL FROM tickd_quarantine ORDER BY close")
                == [["1500.00", "150.00", "f"], ["1505.00", "150.00", "f"], ["2000.00", "150.00", "t"]])
        #expect(try db.value("SELECT close::text FROM market_candles_1d_adjusted WHERE bucket < '2026-03-07'") == "1500.0000")

        // Mistakes exit 2 naming the line, and import nothing.
        for (lines, message) in [(["SCOM,2026-03-09,split,2:1", "SCOM,2026-03-09,split,1:2"], ":2: a split gives more shares than it takes"),
                                 (["NOPE,2026-03-09,split,2:1"], ":1: 'NOPE' is not a listed instrument"),
                                 (["SCOM,2026-02-30,split,2:1"], "ex_date '2026-02-30' is not a date"),
                                 (["SCOM,2026-03-09,rights,2:1"], "kind 'rights' is not split, bonus or consolidation"),
                                 (["SCOM,2026-03-09,bonus,1.1"], "ratio '1.1' is not new:old")] {
            let run = try Self.importFile(db, lines)
            #expect(run.status == 2 && run.stderr.contains(message), "\(lines): \(run.stderr)")
        }
        #expect(try db.value("SELECT count(*) FROM tickd_corporate_actions") == "1")
    }
}
