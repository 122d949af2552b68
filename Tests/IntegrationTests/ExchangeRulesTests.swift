import Foundation
import Testing
import TestSupport

/// The NSE's price checks end to end: the planted bad prints of the sample days held back and
/// released, the limit band edges, a lifted limit, the reject action.
@Suite(.ownThreads) struct ExchangeRulesTests {
    static let feeds = TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds")
    static var dayOne: String { feeds.appendingPathComponent("nse-2026-01-05.trades.csv").path }
    static var dayTwo: String { feeds.appendingPathComponent("nse-2026-01-06.open.ndjson.gz").path }

    /// The planted bad prints expected.json lists: trade_id → (symbol, price, violation).
    static func planted() throws -> [Int: (symbol: String, price: String, violation: String)] {
        let data = try Data(contentsOf: feeds.appendingPathComponent("nse-2026-01-05.expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let files = try #require(root["files"] as? [String: Any])
        let open = try #require(files["nse-2026-01-06.open.ndjson.gz"] as? [String: Any])
        let prints = try #require(open["planted_bad_prints"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: prints.map {
            ($0["trade_id"] as! Int, ($0["symbol"] as! String, $0["price"] as! String, $0["violation"] as! String))
        })
    }

    @Test func thePlantedBadPrintsAreQuarantinedNotPublishedAndReleasedByTheOperator() throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed(db.config(nse: true))
        let config = try DaemonTests.configFile(db, exchange: "profile: nse")
        let environment = ["DATABASE_URL": db.url, "REDIS_URL": redisURL]
        let subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        let run = try TickdProcess.run(["replay", Self.dayOne, Self.dayTwo, "--config", config, "--report", "json"], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#""quarantined":2,"price_rejected":0,"price_flagged":1"#), "\(run.stdout)")
        let planted = try Self.planted()
        let limitBreaks = planted.values.filter { $0.violation == "price_limit" }
        // Held: the two prints outside the band, in tickd_quarantine and nowhere else.
        #expect(try db.rows("SELECT symbol, close::text, array_to_string(violations, ',') FROM tickd_quarantine ORDER BY symbol")
                == limitBreaks.sorted { $0.symbol < $1.symbol }.map { [$0.symbol, $0.price, "price_limit"] })
        for bad in limitBreaks {
            #expect(try db.value("SELECT count(*) FROM market_ticks WHERE symbol = '\(bad.symbol)' AND close = \(bad.price)") == "0")
        }
        // The off-tick print is stored and its message says so.
        let offTick = try #require(planted.values.first { $0.violation == "off_tick" })
        let before = try subscriber.finish()
        #expect(before.allSatisfy { $0.fields["close"] != limitBreaks.first?.price && $0.fields["close"] != limitBreaks.last?.price })
        let flagged = before.filter { $0.payload.contains(#""flags":["off_tick"]"#) }
        #expect(flagged.map { "\($0.symbol) \($0.fields["close"] ?? "")" } == ["\(offTick.symbol) \(offTick.price)"])
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'SCOM'") != "2310.00")

        // The operator releases them: stored, published, no longer held; a second release does nothing.
        let after = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        let list = try TickdProcess.run(["quarantine", "list", "--config", config], environment: environment)
        #expect(list.status == 0 && list.stdout.split(separator: "\n").count == 3, "\(list.stdout)\(list.stderr)")
        let release = try TickdProcess.run(["quarantine", "release", "--all", "--config", config], environment: environment)
        #expect(release.status == 0, "\(release.stderr)")
        #expect(release.stdout.contains("released 2, stored 2, published 2"), "\(release.stdout)")
        let released = try after.finish()
        #expect(Set(released.map { "\($0.symbol) \($0.fields["close"] ?? "")" }) == Set(limitBreaks.map { "\($0.symbol) \($0.price)" }))
        for bad in limitBreaks {
            #expect(try db.value("SELECT count(*) FROM market_ticks WHERE symbol = '\(bad.symbol)' AND close = \(bad.price)") == "1")
        }
        #expect(try db.value("SELECT count(*) FROM tickd_quarantine WHERE released_at IS NULL") == "0")
        let again = try TickdProcess.run(["quarantine", "release", "--all", "--config", config], environment: environment)
        #expect(again.stdout.contains("released 0"), "\(again.stdout)")
        // The same days replayed again: nothing stored twice, nothing held twice.
        let stored = try db.value("SELECT count(*) FROM market_ticks")
        let rerun = try TickdProcess.run(["replay", Self.dayOne, Self.dayTwo, "--no-resume", "--config", config, "--report", "json"],
                                         environment: environment)
        #expect(rerun.status == 0 && rerun.stdout.contains(#""inserted":0"#), "\(rerun.stdout)\(rerun.stderr)")
        #expect(try db.value("SELECT count(*) FROM market_ticks") == stored)
        #expect(try db.rows("SELECT count(*), count(released_at) FROM tickd_quarantine") == [["2", "2"]])
        print("exchange rules: sample days replayed with the NSE profile: \(limitBreaks.count) planted prints quarantined, 1 off-tick print flagged; released by the operator and published")
    }

    @Test func theBandEdgesALiftedLimitAndTheRejectAction() async throws {
        let db = try TestDatabase()
        var config = db.config(nse: true)
        try db.migrateAndSeed(config)
        // Day 1 (9 March): NMG (seed 19.50) closes at 20.00 (VWAP), so day 2's band is 18.00-22.00.
        try await db.replay(["time,symbol,price,volume,trade_id", "2026-03-09T10:00:00+03:00,NMG,20.00,1000,1"], config: config)
        let day2 = try await db.replay(["time,symbol,price,volume,trade_id",
                                  "2026-03-10T10:00:00+03:00,NMG,22.00,100,2", "2026-03-10T10:00:01+03:00,NMG,22.05,100,3",
                                  "2026-03-10T10:00:02+03:00,NMG,18.00,100,4", "2026-03-10T10:00:03+03:00,NMG,17.95,100,5"], config: config)
        #expect(day2.inserted == 2 && day2.quarantined == 2)
        #expect(try db.rows("SELECT close::text FROM tickd_quarantine ORDER BY trade_seq") == [["22.05"], ["17.95"]])
        #expect(try db.rows("SELECT previous_close::text, limit_percent::text FROM tickd_quarantine LIMIT 1") == [["20.00", "10"]])
        // The exchange lifts NMG's limit for 11 March: a 15 % move goes in.
        try db.sql.execute("INSERT INTO tickd_price_limits (symbol, trading_day, limit_percent, note) VALUES ('NMG', '2026-03-11', NULL, 'announcement')")
        let lifted = try await db.replay(["time,symbol,price,volume,trade_id", "2026-03-11T10:00:00+03:00,NMG,23.00,100,6"], config: config)
        #expect(lifted.inserted == 1 && lifted.quarantined == 0)
        // With price_limit_action: reject, a break is a dead letter with its reason.
        config.priceLimitAction = .reject
        let rejected = try await db.replay(["time,symbol,price,volume,trade_id", "2026-03-12T10:00:00+03:00,NMG,40.00,100,7"], config: config)
        #expect(rejected.inserted == 0 && rejected.priceRejected == 1)
        let deadLetters = try String(contentsOfFile: config.deadLetterPath, encoding: .utf8)
        #expect(deadLetters.contains(#""reason":"price_limit""#) && deadLetters.contains("NMG,40.00,100,7"), "\(deadLetters)")
    }
}
