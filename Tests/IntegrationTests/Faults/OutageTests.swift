import Foundation
import Hiredis
import LibPQ
import Testing
import TestSupport

/// Streams `lines` to a listener on a thread of its own, `perTick` lines every 100 ms, with the
/// CSV header first; `done` is signalled at the end.
final class PacedPublisher: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    private(set) var sent = 0

    init(port: Int, feed: ReferenceFeed, perTick: Int) throws {
        let socket = try LineSocket(port: port)
        Thread { [self] in
            _ = socket.send(ReferenceFeed.header)
            var next = 0
            while next < feed.count {
                let end = min(feed.count, next + perTick)
                guard socket.send(feed.lines(next..<end)) else { break }
                sent = end
                next = end
                usleep(100_000)
            }
            socket.closeWrite()
            _ = socket.peerCloses(within: .seconds(120))
            done.signal()
        }.start()
    }
}

/// PostgreSQL and Redis outages while tickd streams, compared with the reference feed.
@Suite(.serialized, .ownThreads) struct OutageTests {
    /// A private PostgreSQL (so it can be stopped), migrated and seeded.
    static func database() throws -> (PrivatePostgres, Connection) {
        let pg = try PrivatePostgres()
        for command in [["migrate"], ["seed", "Seeds/stocks.csv"]] {
            let run = try TickdProcess.run(command, environment: ["DATABASE_URL": pg.url])
            #expect(run.status == 0, "\(run.stderr)")
        }
        return (pg, try Connection(conninfo: pg.url))
    }

    @Test func postgresDownAtStartThenStoppedThirtySecondsAndRestartedImmediateMidStream() throws {
        let redisURL = try #require(DaemonTests.redisURL)
        let (pg, _) = try Self.database()
        let prefix = "outage-\(pg.port):ticks:"
        let subscriber = try TickSubscriber(url: redisURL, prefix: prefix)
        let feed = ReferenceFeed(count: 20_000)
        // Down at start: tickd waits for it, retrying, and listens for nobody meanwhile.
        pg.stop()
        let daemon = try DaemonProcess(["run", "--listen", "127.0.0.1:0"], environment: [
            "DATABASE_URL": pg.url, "REDIS_URL": redisURL, "TICKD_REDIS_PREFIX": prefix,
            "TICKD_BATCH_MAX_AGE_MS": "100", "TICKD_DATABASE_RETRY_MAX_BACKOFF_MS": "1000", "TICKD_EXCHANGE_PROFILE": "plain",
            "TICKD_DEAD_LETTER_PATH": TickdProcess.temporaryPath("dl.jsonl")])
        #expect(daemon.waitForLine(containing: "database error, retrying") != nil, "\(daemon.output)")
        #expect(!daemon.output.contains("listening for feed publishers"))
        try pg.start()
        let port = try #require(daemon.listeningPort(), "\(daemon.output)")
        let publisher = try PacedPublisher(port: port, feed: feed, perTick: 50)   // 500 ticks/s for 40 s
        sleep(3)
        pg.stop()                       // -m immediate, in the middle of the stream
        sleep(30)
        try pg.start()
        sleep(3)
        pg.stop()                       // and once more, restarted at once, mid-batch
        try pg.start()
        #expect(publisher.done.wait(timeout: .now() + 180) == .success)
        let sql = try Connection(conninfo: pg.url)
        #expect(eventually(timeout: .seconds(120)) {
            (try? sql.execute("SELECT count(*) FROM market_ticks").value(row: 0, column: 0)) == String(feed.count)
        })
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0)
        let verdict = try FaultVerdict.check(rows: { try sql.execute($0).rows }, sent: feed.count, messages: try subscriber.finish())
        FaultInjectionTests.report("PostgreSQL down at start, stopped 30 s, restarted immediate (retries: \(daemon.output.components(separatedBy: "database error, retrying").count - 1))", verdict)
        #expect(verdict.passes, "\(verdict)")
    }

    @Test func aRedisRestartMidStreamLosesNoMessage() throws {
        let db = try TestDatabase()
        try db.migrateAndSeed()
        let redis = try PrivateRedis()
        let prefix = "\(db.schema):ticks:"
        let before = try TickSubscriber(url: redis.url, prefix: prefix)
        let feed = ReferenceFeed(count: 10_000)
        let daemon = try DaemonProcess(["run", "--config", try DaemonTests.configFile(db), "--listen", "127.0.0.1:0"],
                                       environment: ["DATABASE_URL": db.url, "REDIS_URL": redis.url])
        let port = try #require(daemon.listeningPort())
        let publisher = try PacedPublisher(port: port, feed: feed, perTick: 200)   // 2,000 ticks/s for 5 s
        usleep(1_500_000)
        redis.stop()
        sleep(2)
        // Back, but refusing tickd until the second subscriber is in (so that no message goes
        // out while nobody listens): tickd gets NOAUTH, keeps its messages and retries.
        try redis.start(requirePassword: "hold")
        let after = try TickSubscriber(url: "redis://:hold@127.0.0.1:\(redis.port)/0", prefix: prefix)
        _ = try RedisConnection(url: try RedisURL(parsing: "redis://:hold@127.0.0.1:\(redis.port)/0"))
            .command(["CONFIG", "SET", "requirepass", ""])
        #expect(publisher.done.wait(timeout: .now() + 120) == .success)
        #expect(eventually(timeout: .seconds(60)) { (try? db.value("SELECT count(*) FROM market_ticks")) == String(feed.count) })
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0)
        let messages = try before.finish() + after.finish(publishingEnd: false)
        let verdict = try FaultVerdict.check(db, sent: feed.count, messages: messages)
        let gaps = daemon.output.split(separator: "\n").filter { $0.contains("reread=") }
        FaultInjectionTests.report("Redis restarted mid-stream (gap lines logged: \(gaps.count))", verdict)
        #expect(verdict.passes, "\(verdict)")
        #expect(gaps.isEmpty, "no gap: tickd held the messages while Redis was away")
        #expect(daemon.output.contains("redis: unreachable, holding messages"), "the outage happened mid-stream")
    }
}
