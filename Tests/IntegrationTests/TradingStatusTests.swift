import Foundation
import Hiredis
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation
import TickSinks

/// Halts, suspensions and the market's phase against the real PostgreSQL (and Redis): what a
/// halted instrument's trades become under each policy, who may set a status, and what
/// subscribers are told.
@Suite(.ownThreads) struct TradingStatusTests {
    static let header = "time,symbol,price,volume,trade_id,action,status"

    static func statuses(_ db: TestDatabase) throws -> [[String?]] {
        try db.rows("SELECT symbol, status, to_char(since AT TIME ZONE 'Africa/Nairobi', 'HH24:MI'), source FROM tickd_trading_status ORDER BY symbol")
    }

    @Test func aHaltFromTheFeedHoldsTheTradesPrintedDuringItUntilTheResumption() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        let feed = [Self.header,
                    "2026-03-09T10:00:00+03:00,SCOM,23.10,100,1,,",
                    "2026-03-09T10:30:00+03:00,SCOM,,,,status,halted",
                    // Printed during the halt: held. Printed before it and delivered late: stored.
                    "2026-03-09T10:45:00+03:00,SCOM,23.50,100,2,,",
                    "2026-03-09T10:20:00+03:00,SCOM,23.20,100,3,,",
                    // Another instrument trades on.
                    "2026-03-09T10:46:00+03:00,KCB,35.00,100,4,,",
                    "2026-03-09T11:00:00+03:00,SCOM,,,,status,resumed",
                    "2026-03-09T11:05:00+03:00,SCOM,23.40,100,5,,"]
        let report = try await db.replay(feed, config: config)
        #expect(report.statusChanges == 2 && report.quarantined == 1 && report.rejected == 0, "\(report)")
        #expect(try db.rows("SELECT symbol, trade_seq::text FROM market_ticks ORDER BY time") == [["SCOM", "1"], ["SCOM", "3"], ["KCB", "4"], ["SCOM", "5"]])
        #expect(try db.rows("SELECT trade_seq::text, array_to_string(violations, ',') FROM tickd_quarantine") == [["2", "halted"]])
        #expect(try Self.statuses(db) == [["SCOM", "resumed", "11:00", "feed"]])
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'SCOM'") == "23.40")
        // The held trade is in no candle.
        #expect(try db.value("SELECT volume::text FROM market_candles_1d WHERE symbol = 'SCOM'") == "300")

        // The same feed again changes nothing: no status moves back, nothing is held twice.
        let again = try await db.replay(feed, config: config)
        #expect(again.statusChanges == 0 && again.inserted == 0, "\(again)")
        #expect(try db.value("SELECT count(*) FROM tickd_quarantine") == "1")
        // A halt record delivered after the resumption it precedes does not undo it.
        let stale = try await db.replay([Self.header, "2026-03-09T10:30:00+03:00,SCOM,,,,status,halted"], config: config)
        #expect(stale.statusChanges == 0)
        #expect(try Self.statuses(db) == [["SCOM", "resumed", "11:00", "feed"]])
    }

    @Test(arguments: [PriceCheck.Action.reject, .accept])
    func aTradeOnASuspendedInstrumentFollowsTheHaltedPolicy(_ action: PriceCheck.Action) async throws {
        let redisURL = try #require(PublisherTests.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let db = try TestDatabase()
        let prefix = "\(db.schema):ticks:"
        let config = db.config(nse: true) { $0.haltedAction = action; $0.redisURL = redisURL; $0.redisPrefix = prefix }
        try db.migrateAndSeed(config)
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let report = try await db.replay([Self.header, "2026-03-09T09:00:00+03:00,EABL,,,,status,suspended",
                                          "2026-03-09T10:00:00+03:00,EABL,150.00,100,1,,"], config: config)
        let messages = try subscriber.finish()
        #expect(report.statusChanges == 1 && report.quarantined == 0)
        switch action {
        case .reject:
            #expect(report.priceRejected == 1 && messages.isEmpty)
            #expect(try db.value("SELECT count(*) FROM market_ticks") == "0")
            let written = try String(contentsOfFile: config.deadLetterPath, encoding: .utf8)
            #expect(written.contains(#""reason":"halted","detail":"suspended"#), "\(written)")
        default:
            #expect(report.priceFlagged == 1 && report.inserted == 1)
            #expect(messages.map { $0.fields["flags"] } == [#"["suspended"]"#])
        }
    }

    @Test func aMarketWideHaltHoldsEveryInstrumentsTrades() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        // Symbols spread over the writer lanes; the halt is the market's (an empty symbol).
        let report = try await db.replay([Self.header, "2026-03-09T12:00:00+03:00,,,,,status,halted",
                                          "2026-03-09T12:01:00+03:00,SCOM,23.10,100,1,,", "2026-03-09T12:01:00+03:00,KCB,35.00,100,2,,",
                                          "2026-03-09T12:01:00+03:00,EQTY,45.00,100,3,,", "2026-03-09T12:01:00+03:00,EABL,150.00,100,4,,",
                                          "2026-03-09T12:30:00+03:00,*,,,,status,resumed", "2026-03-09T12:31:00+03:00,SCOM,23.15,100,5,,"],
                                         config: config)
        #expect(report.quarantined == 4 && report.inserted == 1, "\(report)")
        #expect(try db.rows("SELECT symbol FROM tickd_quarantine ORDER BY symbol") == [["EABL"], ["EQTY"], ["KCB"], ["SCOM"]])
        #expect(try Self.statuses(db) == [["*", "resumed", "12:30", "feed"]])
        // A market phase for an instrument, an unknown status, a status record without one.
        let bad = try await db.replay([Self.header, "2026-03-09T12:40:00+03:00,SCOM,,,,status,pre_open",
                                       "2026-03-09T12:40:00+03:00,SCOM,,,,status,frozen", "2026-03-09T12:40:00+03:00,SCOM,,,,status,"],
                                      config: config)
        #expect(bad.rejectedByReason[.unknownStatus] == 2 && bad.rejectedByReason[.missingField] == 1, "\(bad)")
    }

    @Test func anOperatorSuspendsAndResumesAndReleasesWhatWasHeld() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        let environment = ["DATABASE_URL": db.url, "TICKD_EXCHANGE_PROFILE": "nse"]
        let set = try TickdProcess.run(["status", "set", "scom", "suspended", "--reason", "pending announcement", "--at", "2026-03-09T09:00:00+03:00"],
                                       environment: environment)
        #expect(set.status == 0 && set.stdout.contains("SCOM suspended since 2026-03-09T06:00:00Z"), "\(set.stdout)\(set.stderr)")
        let report = try await db.replay([Self.header, "2026-03-09T10:00:00+03:00,SCOM,23.10,100,1,,"], config: config)
        #expect(report.quarantined == 1)
        #expect(try db.rows("SELECT status, reason, source FROM tickd_trading_status") == [["suspended", "pending announcement", "operator"]])
        let listed = try TickdProcess.run(["status", "list"], environment: environment)
        #expect(listed.stdout.contains("SCOM\tsuspended\t2026-03-09T06:00:00Z\toperator\tpending announcement"), "\(listed.stdout)")
        // Setting it again changes nothing.
        let again = try TickdProcess.run(["status", "set", "SCOM", "suspended"], environment: environment)
        #expect(again.status == 0 && again.stdout.contains("SCOM unchanged"), "\(again.stdout)")

        #expect(try TickdProcess.run(["status", "set", "SCOM", "resumed"], environment: environment).status == 0)
        let released = try TickdProcess.run(["quarantine", "release", "--all"], environment: environment)
        #expect(released.status == 0 && released.stdout.contains("stored 1"), "\(released.stdout)\(released.stderr)")
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'SCOM'") == "23.10")

        // Mistakes exit 2 with one line.
        for (arguments, message) in [(["status", "set", "NOPE", "halted"], "'NOPE' is not a listed instrument"),
                                     (["status", "set", "SCOM", "pre_open"], "pre_open is a market phase"),
                                     (["status", "set", "market", "suspended"], "the market is pre_open, open, closed, halted or resumed"),
                                     (["status", "set", "SCOM", "halted", "--at", "10:00"], "is not an RFC 3339 time")] {
            let run = try TickdProcess.run(arguments, environment: environment)
            #expect(run.status == 2 && run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func aRunningDaemonPublishesEveryStatusChangeAndFollowsTheSessionClock() throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let statusPrefix = "\(db.schema):status:"
        let statuses = try TickSubscriber(url: redisURL, prefix: statusPrefix)
        let ticks = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        let environment = ["DATABASE_URL": db.url, "REDIS_URL": redisURL, "TICKD_REDIS_STATUS_PREFIX": statusPrefix]
        let daemon = try DaemonProcess(["run", "--config", try DaemonTests.configFile(db, exchange: "profile: nse"), "--listen", "127.0.0.1:0"],
                                       environment: environment)
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        // The clock sets the market's phase at once: whatever NSE's session says now.
        let zone = try #require(ExchangeZone(identifier: "Africa/Nairobi"))
        let session = try #require(TickdConfig().exchangeProfile.session)
        func phaseNow() -> String {
            let now = Timestamp.now()
            return TradingStatus.phase(of: session, atLocalSeconds: now.secondsSinceEpoch + zone.offsetSeconds(at: now)).description
        }
        let expected = phaseNow()
        #expect(eventually(timeout: .seconds(30)) {
            (try? db.rows("SELECT status, source FROM tickd_trading_status WHERE symbol = '*'")).map { $0 == [[expected, "clock"]] || $0 == [[phaseNow(), "clock"]] } ?? false
        }, "\(daemon.output)")

        // A halt from the feed (over TCP, through the journal), then a trade during it and the
        // resumption set by an operator.
        let socket = try LineSocket(port: port)
        socket.send([Self.header, "2026-01-05T10:00:00+03:00,SCOM,23.10,100,1,,", "2026-01-05T10:30:00+03:00,SCOM,,,,status,halted",
                     "2026-01-05T10:31:00+03:00,SCOM,23.20,100,2,,"].joined(separator: "\n") + "\n")
        #expect(eventually(timeout: .seconds(60)) { (try? db.value("SELECT count(*) FROM tickd_quarantine")) == "1" }, "\(daemon.output)")
        let resumed = try TickdProcess.run(["status", "set", "SCOM", "resumed", "--reason", "announcement published"], environment: environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        #expect(eventually(timeout: .seconds(30)) {
            (try? redis.command(["GET", "\(statusPrefix)SCOM"]).text)??.contains(#""status":"resumed","#) == true
        }, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")

        let received = try statuses.finish()
        let scom = received.filter { $0.channel == "\(statusPrefix)SCOM" }.map { "\($0.fields["status"] ?? "") \($0.fields["source"] ?? "")" }
        // Every change, in order, however briefly it held.
        #expect(scom == ["halted feed", "resumed operator"], "\(scom)")
        #expect(received.contains { $0.channel == "\(statusPrefix)market" && $0.fields["source"] == "clock" }, "\(received.map(\.channel))")
        let last = try #require(try redis.command(["GET", "\(statusPrefix)SCOM"]).text)
        #expect(last.contains(#""reason":"announcement published""#) && last.contains(#""since":"#), "\(last)")
        // Tick subscribers get ticks only: the one trade stored.
        let tickMessages = try ticks.finish()
        #expect(tickMessages.map(\.channel) == ["\(db.schema):ticks:SCOM"], "\(tickMessages.map(\.channel))")

        // A tickd started later publishes the current statuses at once (it may have missed them).
        _ = try redis.command(["DEL", "\(statusPrefix)SCOM"])
        let second = try DaemonProcess(["run", "--config", try DaemonTests.configFile(db, exchange: "profile: nse"), "--listen", "127.0.0.1:0"],
                                       environment: environment)
        #expect(eventually(timeout: .seconds(30)) {
            (try? redis.command(["GET", "\(statusPrefix)SCOM"]).text)??.contains(#""status":"resumed","#) == true
        }, "\(second.output)")
        second.signal(SIGTERM)
        #expect(second.waitForExit(timeout: .seconds(30)) == 0, "\(second.output)")
        // The second start found the clock's phase recorded: no change of its own (unless the
        // session moved on meanwhile).
        let marketChanges = try db.value("SELECT count(*) FROM tickd_trading_status_changes WHERE symbol = '*'")
        #expect(marketChanges == "1" || phaseNow() != expected, "\(marketChanges ?? "")")
        _ = try redis.command(["DEL", "\(statusPrefix)SCOM", "\(statusPrefix)market"])
    }
}
