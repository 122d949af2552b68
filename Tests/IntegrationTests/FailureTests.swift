import Foundation
import LibPQ
import Logging
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation
import TickSinks

@Suite(.ownThreads) struct FailureTests {
    static func batch(_ range: Range<Int>) -> [KeyedTick] {
        range.map { i in
            KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: 1_767_592_800 + Int64(i)), symbol: "SCOM",
                                   price: Price(units: 2310 + Int64(i), scale: 2), size: 100), tradeSeq: 0)
        }
    }

    @Test func aLostConnectionIsRetriedAndTheBatchIsNotLost() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        sink.retry = Backoff(initial: .milliseconds(10), cap: sink.retry.cap)
        #expect(try await sink.write(Self.batch(0..<50), source: "test", throughLine: 50).stored.count == 50)
        let pid = try #require(sink.backendPID)
        // The server ends tickd's session (as a restart or an admin would): SQLSTATE 57P01.
        #expect(try db.value("SELECT pg_terminate_backend(\(pid))") == "t")
        let result = try await sink.write(Self.batch(50..<120), source: "test", throughLine: 120)
        #expect(result.stored.count == 70)
        #expect(result.latestMoved == ["SCOM"])
        #expect(sink.retries >= 1)
        #expect(sink.backendPID != pid)
        #expect(try db.rows("SELECT count(*), min(seq), max(seq) FROM market_ticks") == [["120", "1", "120"]])
    }

    @Test func retryBackoffIsExponentialAndCapped() async throws {
        let db = try TestDatabase()
        _ = try DatabaseCommands.migrate(config: db.config())
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions, maxBackoff: .milliseconds(500))
        #expect((1...6).map { sink.retry.pause(attempt: $0) }
                == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500), .milliseconds(500)])
    }

    @Test func aPermanentErrorStopsTickdWithExitOneNamingTableAndSQLState() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        try db.sql.execute("ALTER TABLE market_ticks ADD CONSTRAINT no_trades_allowed CHECK (volume < 0) NOT VALID")
        let run = try TickdProcess.run(["replay", "Seeds/feeds/nse-2026-01-05.trades.csv", "--dead-letter", db.config().deadLetterPath],
                                   environment: ["DATABASE_URL": db.url])
        #expect(run.status == 1)
        let last = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("market_ticks"), "\(last)")
        #expect(last.contains("SQLSTATE 23514"), "\(last)")
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "0")
    }

    @Test func libpqOptionsOfDatabaseURLAreHonoured() throws {
        let db = try TestDatabase()
        let named = try Connection(conninfo: db.url + "&application_name=tickd-it", defaults: ["fallback_application_name": "tickd"])
        #expect(try named.execute("SHOW application_name").value(row: 0, column: 0) == "tickd-it")
        let unnamed = try Connection(conninfo: db.url, defaults: ["fallback_application_name": "tickd"])
        #expect(try unnamed.execute("SHOW application_name").value(row: 0, column: 0) == "tickd")
        // sslmode=require against a server without TLS must fail: libpq read the option.
        let ssl = db.url.replacingOccurrences(of: "sslmode=disable", with: "sslmode=require")
        let run = try TickdProcess.run(["migrate"], environment: ["DATABASE_URL": ssl])
        #expect(run.status == 1)
        #expect(run.stderr.contains("SSL"), "\(run.stderr)")
        #expect(!run.stderr.contains("tickd-dev-secret"))
    }

    @Test func missingDatabaseURLIsAConfigurationError() throws {
        let run = try TickdProcess.run(["migrate"], environment: ["DATABASE_URL": ""])
        #expect(run.status == 2)
        #expect(run.stderr.contains("DATABASE_URL"))
    }
}
