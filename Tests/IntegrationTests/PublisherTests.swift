import Foundation
import Hiredis
import Logging
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation
import TickSinks

/// Redis publishing against real Redis servers: the shared one of scripts/test.sh (each test with
/// a channel prefix of its own) and private ones the outage tests stop and start.
@Suite(.ownThreads) struct PublisherTests {
    static var sharedRedisURL: String? { ProcessInfo.processInfo.environment["REDIS_URL"] }

    static func trades(_ range: Range<Int>, symbol: Symbol = "SCOM") -> [KeyedTick] {
        range.map { i in
            KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: 1_767_592_800 + Int64(i)), symbol: symbol,
                                   price: Price(units: 2300 + Int64(i % 20), scale: 2), size: 100), tradeSeq: 0)
        }
    }

    /// Market_ticks as the messages should show it: symbol, seq → time (ms, UTC) and exact decimals.
    static func databaseMessages(_ db: TestDatabase) throws -> [String: [String]] {
        var rows: [String: [String]] = [:]
        for row in try db.rows("""
            SELECT symbol, seq, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   open::text, high::text, low::text, close::text, volume FROM market_ticks
            """) {
            rows["\(row[0]!)#\(row[1]!)"] = row[2...].map { $0 ?? "" }
        }
        return rows
    }

    @Test func aSubscriberReceivesExactlyTheCommittedTicksInSeqOrder() async throws {
        let redisURL = try #require(Self.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let config = db.config { $0.redisURL = redisURL; $0.redisPrefix = prefix }
        let trades = TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds/nse-2026-01-05.trades.csv").path
        let report = try await db.replay(files: [trades], config: config)
        let messages = try subscriber.finish()

        #expect(report.published == report.inserted)
        #expect(messages.count == report.inserted)
        #expect(messages.allSatisfy { $0.channel == prefix + $0.symbol })
        // Per symbol: seq 1, 2, 3, … in order, no gap, no repeat.
        for (symbol, list) in Dictionary(grouping: messages, by: \.symbol) {
            #expect(list.map(\.seq) == Array(1...Int64(list.count)), "\(symbol)")
        }
        // Every message is the stored row: time in ms UTC, decimals exactly as in the database.
        let stored = try Self.databaseMessages(db)
        #expect(stored.count == messages.count)
        var mismatches = 0
        for message in messages {
            let f = message.fields
            let fromMessage = [f["time"]!, f["open"]!, f["high"]!, f["low"]!, f["close"]!, f["volume"]!]
            if stored["\(message.symbol)#\(message.seq)"] != fromMessage { mismatches += 1 }
        }
        #expect(mismatches == 0)
        // ticks:last:SCOM holds the newest SCOM tick, the one latest_price shows.
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        let last = try #require(try redis.command(["GET", "\(prefix)last:SCOM"]).text)
        let newest = try #require(try db.rows("""
            SELECT seq::text, close::text FROM market_ticks WHERE symbol = 'SCOM' ORDER BY time DESC, trade_seq DESC LIMIT 1
            """).first)
        #expect(last.contains("\"seq\":\(newest[0]!)}"))
        #expect(last.contains("\"close\":\(newest[1]!),"))
        #expect(try db.value("SELECT latest_price::text FROM stocks WHERE symbol = 'SCOM'") == newest[1])
        _ = try redis.command(["DEL"] + (try db.rows("SELECT symbol FROM stocks").map { "\(prefix)last:\($0[0]!)" }))
    }

    @Test func seqContinuesAcrossARestartOfTickd() throws {
        let redisURL = try #require(Self.sharedRedisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let configFile = TickdProcess.temporaryPath("tickd.yaml")
        try "redis:\n  prefix: \"\(prefix)\"\nsymbols:\n  instruments_file: Seeds/stocks.csv\n"
            .write(toFile: configFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: configFile) }
        var feeds: [String] = []
        for part in 0..<2 {
            let path = TickdProcess.temporaryPath("part\(part).csv")
            let lines = (0..<30).map { i in "2026-01-05T06:\(String(format: "%02d", part * 30 + i)):00Z,SCOM,23.\(10 + i),100" }
            try (["time,symbol,price,volume"] + lines).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            feeds.append(path)
        }
        defer { feeds.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        for feed in feeds {   // two separate tickd processes
            let run = try TickdProcess.run(["replay", feed, "--report", "json", "--config", configFile, "--dead-letter", "/dev/null"],
                                           environment: ["DATABASE_URL": db.url, "REDIS_URL": redisURL])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("\"published\":30"))
        }
        #expect(try subscriber.finish().map(\.seq) == Array(1...60))
    }

    @Test func aFrozenRedisDoesNotHoldUpTheDatabaseAndItsBacklogIsPublishedAfterwards() async throws {
        let redis = try PrivateRedis()
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let subscriber = try TickSubscriber(url: redis.url, prefix: "ticks:")
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        let publisher = RedisPublisher(options: PublisherOptions(
            url: try RedisURL(parsing: redis.url), timeout: .milliseconds(300),
            initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100)))
        publisher.enqueue(try await sink.write(Self.trades(0..<10), source: "t", throughLine: 10))
        #expect(await publisher.drain(timeout: .seconds(10)))

        redis.pause()
        // The database keeps taking batches while Redis does not answer.
        for part in 1...3 {
            publisher.enqueue(try await sink.write(Self.trades(part * 10..<part * 10 + 10), source: "t", throughLine: part * 10 + 10))
        }
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "40")
        let deadline = Date(timeIntervalSinceNow: 20)
        while publisher.stats.errors == 0 && Date() < deadline { usleep(20_000) }
        #expect(publisher.stats.errors > 0)
        #expect(publisher.stats.backlog > 0)

        redis.resume()
        #expect(await publisher.drain(timeout: .seconds(20)))
        let stats = await publisher.finish(timeout: .seconds(5))
        #expect(stats.skipped == 0)
        #expect(stats.published >= 40)
        // The subscriber stayed connected: it has every seq; a repeat (at-least-once) is allowed.
        let seqs = try subscriber.finish().map(\.seq)
        #expect(Set(seqs) == Set(1...40))
    }

    @Test func aRestartedRedisPastTheBacklogBoundGivesALoggedCountedGap() async throws {
        let redis = try PrivateRedis()
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let logs = LogCapture()
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        let publisher = RedisPublisher(options: PublisherOptions(
            url: try RedisURL(parsing: redis.url), maxBacklog: 30, timeout: .milliseconds(300),
            initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100)), logger: logs.logger("tickd.redis"))
        publisher.enqueue(try await sink.write(Self.trades(0..<10), source: "t", throughLine: 10))
        #expect(await publisher.drain(timeout: .seconds(10)))

        redis.stop()
        publisher.enqueue(try await sink.write(Self.trades(10..<60), source: "t", throughLine: 60))   // 50 while Redis is down
        #expect(try db.value("SELECT count(*) FROM market_ticks") == "60")

        try redis.start()
        let subscriber = try TickSubscriber(url: redis.url, prefix: "ticks:")
        #expect(await publisher.drain(timeout: .seconds(20)))   // the 30 held messages go out after the restart
        publisher.enqueue(try await sink.write(Self.trades(60..<65), source: "t", throughLine: 65))
        #expect(await publisher.drain(timeout: .seconds(20)))
        let stats = await publisher.finish(timeout: .seconds(5))

        // Every stored tick was either published or counted as skipped; the skipped ones are
        // the oldest of the outage, and the log says which seq range to re-read.
        #expect(stats.skipped == 20)
        #expect(stats.published == 65 - 20)
        let gapLog = logs.records.first { $0.message.contains("skipped the oldest") }
        #expect(gapLog?.metadata["reread"] == "SCOM seq 11-30")
        #expect(gapLog?.level == .error)
        // After the restart the newest tick is in place for late joiners.
        let client = try RedisConnection(url: try RedisURL(parsing: redis.url))
        #expect(try client.command(["GET", "ticks:last:SCOM"]).text?.contains("\"seq\":65}") == true)
        // What the fresh subscriber saw ends with the newest batch.
        #expect(try subscriber.finish().map(\.seq).suffix(5) == [61, 62, 63, 64, 65])
    }

    @Test func aReplayFasterThanRedisWaitsForRoomAndSkipsNothing() async throws {
        let redisURL = try #require(Self.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        // A backlog bound far below a batch: every batch must wait for the previous ones to go out.
        let config = db.config { $0.redisURL = redisURL; $0.redisPrefix = prefix; $0.redisMaxBacklog = 10; $0.batchMaxTicks = 400 }
        let symbols: [Symbol] = ["SCOM", "KCB", "EQTY", "EABL"]
        let lines = ["time,symbol,price,size,seq"] + (0..<6000).map { i in
            "2026-01-05T06:\(String(format: "%02d", i / 100 % 60)):\(String(format: "%02d", i % 60)).\(String(format: "%03d", i / 6000))Z,\(symbols[i % 4]),23.\(String(format: "%02d", i % 100)),100,\(i)"
        }
        let report = try await db.replay(lines, config: config)
        let messages = try subscriber.finish()
        #expect(report.inserted == 6000)
        #expect(report.published == 6000)
        #expect(messages.count == 6000)
        for (symbol, list) in Dictionary(grouping: messages, by: \.symbol) {
            let gapless = list.map(\.seq) == Array(1...Int64(list.count))
            #expect(gapless, "\(symbol): seqs from \(list.first?.seq ?? 0), \(list.count) messages — no gap, no repeat")
        }
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        _ = try redis.command(["DEL"] + symbols.map { "\(prefix)last:\($0)" })
    }

    @Test func withoutREDIS_URLPublishingIsOffWithOneWarning() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let logs = LogCapture()
        var runner = ReplayRunner(config: db.config { $0.redisURL = nil }, request: ReplayRequest(
            files: [TestDatabase.repositoryRoot.appendingPathComponent("Seeds/feeds/nse-2026-01-05.trades.csv").path], dryRun: false))
        runner.logger = logs.logger("tickd.replay")
        let report = try await runner.run()
        #expect(report.inserted > 100_000)
        #expect(report.published == 0)
        #expect(logs.records.filter { $0.level == .warning }.map(\.message)
                == ["REDIS_URL is not set: publishing to Redis is off; ticks still go to the database"])
    }
}
