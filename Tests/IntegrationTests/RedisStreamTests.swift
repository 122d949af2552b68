import Foundation
import Hiredis
import Testing
import TestSupport
import TickDaemon
import TickModel
import TickNormalisation
import TickSinks

/// The stream beside pub/sub (`<prefix>stream:<SYMBOL>`, IDs `<seq>-0`), against the real Redis:
/// what a subscriber re-reads with XRANGE, a message sent twice, a stream of another history.
@Suite(.ownThreads) struct RedisStreamTests {
    static func entries(_ redis: RedisConnection, _ stream: String, from: String = "-", to: String = "+") throws -> [(id: String, tick: String)] {
        guard case .array(let entries) = try redis.command(["XRANGE", stream, from, to]) else { return [] }
        return entries.compactMap { entry in
            guard case .array(let parts) = entry, parts.count == 2, let id = parts[0].text, case .array(let fields) = parts[1],
                  fields.count == 2, fields[0].text == "tick", let tick = fields[1].text else { return nil }
            return (id, tick)
        }
    }

    @Test func everyMessageIsInItsSymbolsStreamUnderItsSeqAsPublished() async throws {
        let redisURL = try #require(PublisherTests.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let prefix = "\(db.schema):ticks:"
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let config = db.config { $0.redisURL = redisURL; $0.redisPrefix = prefix; $0.redisStreamMaxLength = 100 }
        var lines = ["time,symbol,price,volume,trade_id,action"]
        for n in 1...300 { lines.append("2026-01-05T10:\(String(format: "%02d:%02d", n / 60, n % 60))+03:00,SCOM,23.\(String(format: "%02d", n % 100)),100,\(n),") }
        lines.append("2026-01-05T10:10:00+03:00,KCB,35.00,100,900,")
        lines.append("2026-01-05T10:11:00+03:00,SCOM,,,300,cancel")
        try await db.replay(lines, config: config)
        let messages = try subscriber.finish().filter { $0.channel == "\(prefix)SCOM" }
        #expect(messages.count == 301)
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        let stream = try Self.entries(redis, "\(prefix)stream:SCOM")
        // Trimmed to about 100 (whole nodes of 100 entries go), the newest kept, each as published.
        #expect(stream.count >= 100 && stream.count < 301, "\(stream.count)")
        #expect(stream.last?.id == "301-0")
        let published = Dictionary(messages.map { ("\($0.seq)-0", $0.payload) }, uniquingKeysWith: { first, _ in first })
        #expect(stream.allSatisfy { published[$0.id] == $0.tick })
        #expect(stream.last?.tick.contains(#""action":"cancel","trade_id":300,"ref_seq":300"#) == true)
        #expect(try Self.entries(redis, "\(prefix)stream:KCB").map(\.id) == ["1-0"])
        // A subscriber that saw seq 250 and then 302 reads 251-301 back as docs/redis.md says.
        #expect(try Self.entries(redis, "\(prefix)stream:SCOM", from: "(250-0", to: "(302-0").map(\.id) == (251...301).map { "\($0)-0" })

        // Redis lost the stream (a restart without persistence): the next ticks start it again.
        _ = try redis.command(["DEL", "\(prefix)stream:SCOM"])
        try await db.replay(["time,symbol,price,volume,trade_id", "2026-01-05T10:20:00+03:00,SCOM,23.40,100,301"], config: config)
        #expect(try Self.entries(redis, "\(prefix)stream:SCOM").map(\.id) == ["302-0"])
        _ = try redis.command(["DEL", "\(prefix)stream:SCOM", "\(prefix)stream:KCB", "\(prefix)last:SCOM", "\(prefix)last:KCB"])
    }

    static func batch(_ symbol: Symbol, seqs: ClosedRange<Int64>, price: Int64) -> BatchResult {
        BatchResult(stored: seqs.map { seq in
            StoredTick(keyed: KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: 1_767_596_400 + seq), symbol: symbol,
                                                     price: Price(units: price, scale: 2), size: 100), tradeSeq: seq), seq: seq)
        })
    }

    @Test func aMessageSentAgainLeavesTheStreamAndAStreamOfAnotherHistoryStartsAgain() async throws {
        let redisURL = try #require(PublisherTests.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let prefix = "streams-\(UUID().uuidString.prefix(8)):ticks:"
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        let publisher = RedisPublisher(options: PublisherOptions(url: try RedisURL(parsing: redisURL), prefix: prefix))
        // Seqs 1-5, then 3-7 again (an outbox after a lost acknowledgement): all go out, the
        // stream holds each seq once.
        _ = publisher.enqueue(Self.batch("SCOM", seqs: 1...5, price: 2310))
        _ = publisher.enqueue(Self.batch("SCOM", seqs: 3...7, price: 2310))
        #expect(await publisher.drain(timeout: .seconds(20)))
        #expect(try Self.entries(redis, "\(prefix)stream:SCOM").map(\.id) == (1...7).map { "\($0)-0" })

        // KCB's stream holds seqs 1-10 of other ticks (a database restored from a backup): tickd's
        // seqs 1-3 replace it rather than being refused for ever.
        for seq in 1...10 { _ = try redis.command(["XADD", "\(prefix)stream:KCB", "\(seq)-0", "tick", "{\"seq\":\(seq)}"]) }
        _ = publisher.enqueue(Self.batch("KCB", seqs: 1...3, price: 3500))
        #expect(await publisher.drain(timeout: .seconds(20)))
        let kcb = try Self.entries(redis, "\(prefix)stream:KCB")
        #expect(kcb.map(\.id) == ["1-0", "2-0", "3-0"] && kcb.allSatisfy { $0.tick.contains(#""close":35.00"#) }, "\(kcb)")
        let stats = await publisher.finish(timeout: .seconds(5))
        #expect(stats.published == 13 && stats.skipped == 0 && stats.backlog == 0, "\(stats)")
        _ = try redis.command(["DEL", "\(prefix)stream:SCOM", "\(prefix)stream:KCB"])
    }

    @Test func streamsOffSendNoXADD() async throws {
        let redisURL = try #require(PublisherTests.sharedRedisURL, "scripts/test.sh exports REDIS_URL")
        let prefix = "streams-off-\(UUID().uuidString.prefix(8)):ticks:"
        var options = PublisherOptions(url: try RedisURL(parsing: redisURL), prefix: prefix)
        options.streamMaxLength = 0
        let publisher = RedisPublisher(options: options)
        _ = publisher.enqueue(Self.batch("SCOM", seqs: 1...3, price: 2310))
        #expect(await publisher.drain(timeout: .seconds(20)))
        await publisher.finish(timeout: .seconds(5))
        let redis = try RedisConnection(url: try RedisURL(parsing: redisURL))
        #expect(try redis.command(["EXISTS", "\(prefix)stream:SCOM"]) == .integer(0))
    }
}
