import Foundation
import Testing
import TestSupport
import TickDaemon
import TickModel

/// previous_close is the NSE's official close of the previous trading day: the day's VWAP
/// rounded to the tick grid, the previous close standing on a day under 100 shares; computed
/// from the stored ticks, so one replay of several days, late ticks and restarts agree.
@Suite(.ownThreads) struct OfficialCloseTests {
    static let nse = TickdConfig().exchangeProfile

    static func previousClose(_ db: TestDatabase, _ symbol: String) throws -> String? {
        try db.value("SELECT previous_close::text FROM stocks WHERE symbol = '\(symbol)'")
    }

    @Test func oneReplayOfThreeDaysSetsTheOfficialCloseWithTheHundredShareRule() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        #expect(Self.nse.closingPrice == .vwap(minimumVolume: 100))
        try await db.replay(["time,symbol,price,volume,trade_id",
                       // Day 1 (Monday 9 March, Nairobi): EQTY VWAP 51.875 → 52.00 on the 0.25 grid; SCOM 23.15.
                       "2026-03-09T10:00:00+03:00,EQTY,51.50,1000,1", "2026-03-09T14:00:00+03:00,EQTY,52.00,3000,2",
                       "2026-03-09T10:00:00+03:00,SCOM,23.10,500,3", "2026-03-09T14:59:00+03:00,SCOM,23.20,500,4",
                       // Day 2: SCOM trades 50 shares only (no close of its own); EQTY closes at VWAP 53.10 → 53.00.
                       "2026-03-10T10:00:00+03:00,EQTY,53.10,200,5", "2026-03-10T11:00:00+03:00,SCOM,23.50,50,6",
                       // Day 3.
                       "2026-03-11T10:00:00+03:00,EQTY,54.00,100,7", "2026-03-11T10:00:00+03:00,SCOM,24.00,100,8"], config: config)
        #expect(try Self.previousClose(db, "EQTY") == "53.00")   // day 2's VWAP 53.10 rounded to 0.25
        #expect(try Self.previousClose(db, "SCOM") == "23.15")   // day 2 under 100 shares: day 1's close stands
        // A late day-2 trade gives SCOM a close for day 2: (50 × 23.50 + 100 × 23.60) / 150 = 23.5667 → 23.55.
        try await db.replay(["time,symbol,price,volume,trade_id", "2026-03-10T14:00:00+03:00,SCOM,23.60,100,9"], config: config)
        #expect(try Self.previousClose(db, "SCOM") == "23.55")
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'SCOM'") == "24.00")   // still the last trade
    }

    @Test func theSampleDaysInOneReplayGiveEachSymbolItsVWAPRoundedToTick() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        let feeds = TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds")
        try await db.replay(files: [feeds.appendingPathComponent("nse-2026-01-05.trades.csv").path,
                              feeds.appendingPathComponent("nse-2026-01-06.open.ndjson.gz").path], config: config)
        // Independently: day 1's VWAP per symbol from the stored rows, rounded here by TickSizeTable.
        let grid = try #require(Self.nse.tickSizes)
        let day1 = try db.rows("""
            SELECT symbol, sum(close * volume) / sum(volume), sum(volume) FROM market_ticks
            WHERE time >= '2026-01-05T00:00:00+03:00' AND time < '2026-01-06T00:00:00+03:00' GROUP BY symbol ORDER BY symbol
            """)
        let traded2 = Set(try db.rows("SELECT DISTINCT symbol FROM market_ticks WHERE time >= '2026-01-06T00:00:00+03:00'").compactMap { $0[0] })
        let seeded = Dictionary(uniqueKeysWithValues: try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("Seeds/stocks.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { (String($0[0]), String($0[6])) })
        var checked = 0
        for row in day1 {
            let symbol = row[0]!, volume = Int(row[2]!)!
            guard traded2.contains(symbol) else { continue }
            let vwap = try #require(Self.price(row[1]!))
            let expected = volume >= 100 ? grid.rounded(vwap).description : seeded[symbol]!
            #expect(try Self.previousClose(db, symbol) == expected, "\(symbol): VWAP \(row[1]!), \(volume) shares")
            checked += 1
        }
        #expect(checked >= 10)
        print("official close: \(checked) symbols traded on both sample days; each previous_close is day 1's VWAP rounded to tick")
    }

    /// numeric text (up to 18 digits kept) as a Price.
    static func price(_ text: String) -> Price? {
        let parts = text.split(separator: ".")
        let fraction = parts.count == 2 ? String(parts[1].prefix(12)) : ""
        guard let units = Int64(String(parts[0]) + fraction) else { return nil }
        return Price(units: units, scale: UInt8(fraction.count))
    }
}
