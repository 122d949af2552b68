import Foundation
import Hiredis
import Kafka
import LibPQ
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation
import TickSinks

/// Corrections and cancels from the feed, against the real PostgreSQL (and Redis): what a busted
/// print leaves behind once cancelled, what subscribers are told, and that replaying them changes
/// nothing.
@Suite(.ownThreads) struct TradeAmendmentTests {
    static let header = "time,symbol,price,volume,trade_id,action"

    static func scom(_ db: TestDatabase, _ column: String) throws -> String? {
        try db.value("SELECT \(column)::text FROM stocks WHERE symbol = 'SCOM'")
    }

    @Test func aCancelledBustedPrintLeavesTheCandlesTheNextDaysCloseAndItsPriceBand() async throws {
        let db = try TestDatabase()
        let config = db.config(nse: true)
        try db.migrateAndSeed(config)
        // Monday 9 March (Nairobi): two trades and a busted print of 1,000 shares at 25.00.
        try await db.replay([Self.header,
                             "2026-03-09T10:00:00+03:00,SCOM,23.10,100,1,", "2026-03-09T11:00:00+03:00,SCOM,23.20,100,2,",
                             "2026-03-09T12:00:00+03:00,SCOM,25.00,1000,3,", "2026-03-10T10:00:00+03:00,SCOM,23.30,100,4,trade"], config: config)
        // The print drags Monday's VWAP to 24.6917, the official close to 24.70 on the 0.05 grid.
        #expect(try Self.scom(db, "previous_close") == "24.70")
        #expect(try db.rows("SELECT volume::text, high::text FROM market_candles_1d WHERE symbol = 'SCOM' ORDER BY bucket LIMIT 1") == [["1200", "25.00"]])

        // The exchange busts it on Tuesday.
        let cancelled = try await db.replay([Self.header, "2026-03-10T10:30:00+03:00,SCOM,,,3,cancel"], config: config)
        #expect(cancelled.cancelled == 1 && cancelled.inserted == 0 && cancelled.rejected == 0)
        #expect(try db.value("SELECT count(*) FROM market_ticks WHERE symbol = 'SCOM' AND trade_seq = 3") == "0")
        #expect(try db.rows("SELECT seq::text, action, trade_seq::text, close::text, volume::text, ref_seq::text FROM tickd_trade_events")
                == [["5", "cancel", "3", "25.00", "1000", "3"]])
        // Monday's candle, VWAP and official close without it: (2,310 + 2,320) / 200 = 23.15.
        #expect(try db.rows("SELECT volume::text, high::text, vwap::text FROM market_candles_1d WHERE symbol = 'SCOM' ORDER BY bucket LIMIT 1")
                == [["200", "23.20", "23.1500"]])
        #expect(try Self.scom(db, "previous_close") == "23.15")
        #expect(try Self.scom(db, "latest_price") == "23.30")
        // Tuesday's band is centred on 23.15 now: 25.60 is over +10 % (25.465) and held back,
        // where around 24.70 it would have passed.
        let late = try await db.replay([Self.header, "2026-03-10T11:00:00+03:00,SCOM,25.60,100,5,"], config: config)
        #expect(late.quarantined == 1)
        #expect(try db.value("SELECT previous_close::text FROM tickd_quarantine WHERE symbol = 'SCOM' AND trade_seq = 5") == "23.15")

        // The same cancel again, and the whole first feed again: nothing changes.
        let checksum = "SELECT md5(string_agg(trade_seq || '@' || time || '=' || close || '/' || seq, ',' ORDER BY seq)) FROM market_ticks"
        let before = try db.value(checksum)
        let again = try await db.replay([Self.header, "2026-03-10T10:30:00+03:00,SCOM,,,3,cancel"], config: config)
        #expect(again.cancelled == 0 && again.rejected == 0)
        let replayed = try await db.replay([Self.header,
                                            "2026-03-09T10:00:00+03:00,SCOM,23.10,100,1,", "2026-03-09T11:00:00+03:00,SCOM,23.20,100,2,",
                                            "2026-03-09T12:00:00+03:00,SCOM,25.00,1000,3,", "2026-03-10T10:00:00+03:00,SCOM,23.30,100,4,trade",
                                            "2026-03-10T10:30:00+03:00,SCOM,,,3,cancel"], config: config)
        #expect(replayed.inserted == 0 && replayed.cancelled == 0)
        #expect(try db.value(checksum) == before)
        #expect(try db.value("SELECT last_seq::text FROM tickd_symbol_seq WHERE symbol = 'SCOM'") == "5")
        #expect(try Self.scom(db, "previous_close") == "23.15")
    }

    @Test func subscribersAreToldOfEachCancelAndCorrectionUnderItsOwnSeqAndTheGapQueryReturnsThem() async throws {
        let redisURL = try #require(PublisherTests.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let config = db.config { $0.redisURL = redisURL; $0.redisPrefix = prefix }
        try await db.replay([Self.header,
                             "2026-01-05T10:00:00+03:00,SCOM,23.10,100,1,", "2026-01-05T10:01:00+03:00,SCOM,23.20,100,2,",
                             // The newest trade is cancelled; the first corrected to a new price and time.
                             "2026-01-05T10:02:00+03:00,SCOM,,,2,cancel", "2026-01-05T10:00:30+03:00,SCOM,23.15,200,1,correct"], config: config)
        let messages = try subscriber.finish()
        #expect(messages.map(\.seq) == [1, 2, 3, 4])
        #expect(messages.map { $0.fields["action"] ?? "trade" } == ["trade", "trade", "cancel", "correct"])
        #expect(messages[2].fields["trade_id"] == "2" && messages[2].fields["ref_seq"] == "2" && messages[2].fields["close"] == "23.20")
        #expect(messages[3].fields["trade_id"] == "1" && messages[3].fields["ref_seq"] == "1" && messages[3].fields["close"] == "23.15"
                && messages[3].fields["time"] == "2026-01-05T07:00:30.000Z")
        #expect(try Self.scom(db, "latest_price") == "23.15")
        // `last` holds the newest remaining trade: the corrected one, under its new seq.
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        let last = try #require(try redis.command(["GET", "\(prefix)last:SCOM"]).text)
        #expect(last.contains(#""close":23.15,"#) && last.contains(#""seq":4}"#), "\(last)")
        _ = try redis.command(["DEL", "\(prefix)last:SCOM"])

        // A subscriber that missed seqs 1-4 re-reads them with docs/redis.md's gap-fill query:
        // the cancel and the correction; the trades they replaced answer no more.
        let gap = try db.sql.execute(try Self.documentedGapQuery(), ["SCOM", "0", "5"]).rows
        #expect(gap.map { [$0[0], $0[1], $0[2], $0[3], $0[8]] } == [["3", "cancel", "2", "2", "23.20"], ["4", "correct", "1", "1", "23.15"]])
        // One that saw seq 1 and missed 2-3 learns that trade 2 went, and that seq 1 was replaced.
        #expect(try db.sql.execute(try Self.documentedGapQuery(), ["SCOM", "1", "5"]).rows.map { $0[0] } == ["3", "4"])
    }

    @Test func aCancelOfASymbolsOnlyTradeGivesBackItsPriceBeforeAndDeletesLast() async throws {
        let redisURL = try #require(PublisherTests.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        let config = db.config { $0.redisURL = redisURL; $0.redisPrefix = prefix }
        let before = try Self.scom(db, "latest_price")
        try await db.replay([Self.header, "2026-01-05T10:00:00+03:00,SCOM,25.00,100,1,"], config: config)
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        #expect(try Self.scom(db, "latest_price") == "25.00")
        #expect(try redis.command(["GET", "\(prefix)last:SCOM"]).text?.contains(#""close":25.00"#) == true)
        try await db.replay([Self.header, "2026-01-05T10:05:00+03:00,SCOM,,,1,cancel"], config: config)
        #expect(try Self.scom(db, "latest_price") == before)
        #expect(try redis.command(["GET", "\(prefix)last:SCOM"]).text == nil)
        // The next trade is the symbol's first again.
        try await db.replay([Self.header, "2026-01-05T10:10:00+03:00,SCOM,23.50,100,2,"], config: config)
        #expect(try Self.scom(db, "latest_price") == "23.50")
        #expect(try db.value("SELECT previous_close::text FROM tickd_latest WHERE symbol = 'SCOM'") == before)
        #expect(try redis.command(["GET", "\(prefix)last:SCOM"]).text?.contains(#""close":23.50"#) == true)
        _ = try redis.command(["DEL", "\(prefix)last:SCOM"])
    }

    @Test func aCancelOrCorrectionOfAnUnknownTradeIsDeadLetteredAndRedrivenOnceTheTradeIsIn() async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        // The cancel arrives before its trade (another feed, a slow link).
        let early = try await db.replay([Self.header, "2026-01-05T10:05:00+03:00,SCOM,,,7,cancel", "2026-01-05T10:05:00+03:00,KCB,35.00,10,8,correct"])
        #expect(early.rejected == 2 && early.rejectedByReason[.unknownTrade] == 2)
        let deadLetters = db.config().deadLetterPath
        let written = try String(contentsOfFile: deadLetters, encoding: .utf8)
        #expect(written.contains(#""reason":"unknown_trade","detail":"no stored trade of SCOM has trade id 7 within 7 days before"#), "\(written)")
        try await db.replay([Self.header, "2026-01-05T10:00:00+03:00,SCOM,23.10,100,7,", "2026-01-05T10:00:00+03:00,KCB,34.50,10,8,"])
        let redriven = try TickdProcess.run(["redrive", deadLetters, "--reason", "unknown_trade", "--report", "json"],
                                            environment: ["DATABASE_URL": db.url, "TICKD_DEAD_LETTER_PATH": TickdProcess.temporaryPath("again.jsonl"),
                                                          "TICKD_EXCHANGE_PROFILE": "plain"])
        #expect(redriven.status == 0, "\(redriven.stderr)")
        #expect(redriven.stdout.contains(#""corrected":1,"cancelled":1"#), "\(redriven.stdout)")
        #expect(try db.rows("SELECT symbol, close::text FROM market_ticks ORDER BY symbol") == [["KCB", "35.00"]])
        // A malformed action and a cancel without its trade id are rejected when read.
        let bad = try await db.replay([Self.header, "2026-01-05T10:06:00+03:00,SCOM,23.10,100,9,bust", "2026-01-05T10:06:00+03:00,SCOM,,,,cancel"])
        #expect(bad.rejectedByReason[.unknownAction] == 1 && bad.rejectedByReason[.missingField] == 1)
    }

    /// A cancel whose COMMIT is in doubt (the connection lost before it, or after it went out):
    /// applied once, under one seq, either way.
    @Test(arguments: [PostgresSink.CommitPhase.beforeCommit, .afterCommit])
    func aCancelWhoseCommitIsInDoubtIsAppliedOnce(phase: PostgresSink.CommitPhase) async throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let trades = (1...3).map { i in
            KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: 1_767_592_800 + Int64(i)), symbol: "SCOM",
                                   price: Price(units: 2310 + Int64(i), scale: 2), size: 100, feedSequence: Int64(i)), tradeSeq: Int64(i))
        }
        let plain = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        _ = try await plain.write(trades, source: "t", throughLine: 3)
        let (sink, faults) = try await ReliabilityTests.sinkLosingTheConnectionOnce(db, at: phase) { connection in
            if phase == .beforeCommit { _ = try? db.sql.execute("SELECT pg_terminate_backend(\(connection.backendPID))") }
        }
        var cancel = trades[2]
        cancel.tick.action = .cancel
        let result = try await sink.write([cancel], source: "t", throughLine: 4)
        #expect(faults.count == 1)
        #expect(result.stored.map { "\($0.keyed.tick.action) \($0.seq) \($0.amends?.seq ?? 0)" } == ["cancel 4 3"])
        #expect(try db.rows("SELECT seq::text, trade_seq::text FROM tickd_trade_events") == [["4", "3"]])
        #expect(try db.rows("SELECT count(*)::text, max(seq)::text FROM market_ticks") == [["2", "2"]])
        #expect(try db.value("SELECT last_seq::text FROM tickd_symbol_seq WHERE symbol = 'SCOM'") == "4")
        #expect(try Self.scom(db, "latest_price") == "23.12")
    }

    /// A run that stored trades, a cancel and a correction and died before publishing: the next
    /// start sends them from the outbox, each as its message said.
    @Test func correctionsAndCancelsNeverPublishedGoOutAtTheNextStartAsTheyWere() async throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let db = try TestDatabase()
        try db.migrateAndSeed()
        try await db.replay([Self.header, "2026-01-05T10:00:00+03:00,SCOM,23.10,100,1,", "2026-01-05T10:01:00+03:00,SCOM,23.20,100,2,",
                             "2026-01-05T10:02:00+03:00,SCOM,,,2,cancel", "2026-01-05T10:00:00+03:00,SCOM,23.15,100,1,correct"])
        // Publishing was off for that run (no REDIS_URL): mark everything owed again.
        try db.sql.execute("UPDATE tickd_symbol_seq SET published_seq = 0")
        let prefix = "\(db.schema):ticks:"
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let sink = try await PostgresSink.connected(conninfo: db.url, options: db.config().schemaOptions)
        let publisher = RedisPublisher(options: PublisherOptions(url: try RedisURL(parsing: redisURL), prefix: prefix))
        #expect(try await Outbox.recover(sink: sink, publisher: publisher, logger: .init(label: "test")) == 2)
        #expect(await publisher.drain(timeout: .seconds(10)))
        await publisher.finish(timeout: .seconds(5))
        // Seqs 1 and 2 were replaced: what is owed is the cancel (3) and the correction (4).
        let messages = try subscriber.finish()
        #expect(messages.map { "\($0.seq) \($0.fields["action"] ?? "trade") \($0.fields["ref_seq"] ?? "-") \($0.fields["close"] ?? "")" }
                == ["3 cancel 2 23.20", "4 correct 1 23.15"])
    }

    @Test(.timeLimit(.minutes(3))) func correctionsAndCancelsArriveOverTCPAndKafkaToo() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let cluster = try KafkaScaleOutTests.cluster(partitions: 1)
        let daemon = try DaemonProcess(["run", "--config", try KafkaScaleOutTests.config(db, cluster), "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url])
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        // Over TCP (through the journal): two trades, then the newer one cancelled.
        let socket = try LineSocket(port: port)
        socket.send([Self.header, "2026-01-05T10:00:00+03:00,SCOM,23.10,100,1,", "2026-01-05T10:01:00+03:00,SCOM,23.20,100,2,",
                     "2026-01-05T10:02:00+03:00,SCOM,,,2,cancel"].joined(separator: "\n") + "\n")
        // Over Kafka: a trade (the topic's headerless CSV), then its correction as NDJSON.
        let producer = try KafkaProducer(properties: ["bootstrap.servers": cluster.bootstrapServers])
        try producer.send(topic: "trades", key: Array("KCB".utf8), value: Array("2026-01-05T07:00:00Z,KCB,35.00,100,11".utf8))
        try producer.send(topic: "trades", key: Array("KCB".utf8), value: Array(
            #"{"time":"2026-01-05T07:00:30Z","symbol":"KCB","price":"35.10","volume":100,"trade_id":11,"action":"correct"}"#.utf8))
        try producer.flush()
        #expect(eventually(timeout: .seconds(90)) { (try? db.value("SELECT count(*) FROM tickd_trade_events")) == "2" }, "\(daemon.output)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0, "\(daemon.output)")
        #expect(try db.rows("SELECT symbol, to_char(time AT TIME ZONE 'UTC', 'HH24:MI:SS'), close::text FROM market_ticks ORDER BY symbol")
                == [["KCB", "07:00:30", "35.10"], ["SCOM", "07:00:00", "23.10"]])
        #expect(try db.rows("SELECT symbol, action, trade_seq::text FROM tickd_trade_events ORDER BY symbol") == [["KCB", "correct", "11"], ["SCOM", "cancel", "2"]])
        #expect(try db.rows("SELECT symbol, latest_price::text FROM stocks WHERE symbol IN ('KCB', 'SCOM') ORDER BY 1") == [["KCB", "35.10"], ["SCOM", "23.10"]])
    }

    /// The SQL block of docs/redis.md that follows "gap-fill query".
    static func documentedGapQuery() throws -> String {
        let doc = try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("docs/redis.md"), encoding: .utf8)
        let after = try #require(doc.range(of: "gap-fill query"))
        let open = try #require(doc.range(of: "```sql\n", range: after.upperBound..<doc.endIndex))
        let close = try #require(doc.range(of: "```", range: open.upperBound..<doc.endIndex))
        return String(doc[open.upperBound..<close.lowerBound])
    }
}
