import Foundation
import Kafka
import Testing
import TestSupport

/// tickd instances in one Kafka consumer group, against librdkafka's mock cluster (three brokers
/// on loopback, in this test process; a `trades` topic of six partitions keyed by symbol), one
/// database and one Redis. Each case compares the database and a Redis subscriber with the
/// trades sent, like the fault suite: 0 lost, 0 duplicated, per-symbol seqs gapless.
@Suite(.serialized, .ownThreads) struct KafkaScaleOutTests {
    /// The group's settings for tests: a 6 s session timeout (Kafka's minimum), so that a killed
    /// instance's partitions move within seconds, not librdkafka's default 45.
    static func config(_ db: TestDatabase, _ cluster: KafkaMockCluster, options: String = "") throws -> String {
        try DaemonTests.configFile(db, """
            input:
              csv:
                columns: [time, symbol, price, volume, seq]
            sources:
              kafka:
                - brokers: "\(cluster.bootstrapServers)"
                  topics: [trades]
                  group: tickd-\(db.schema)
                  options:
                    session.timeout.ms: "6000"
                    heartbeat.interval.ms: "500"\(options)
            """)
    }

    static func cluster(partitions: Int32 = 6) throws -> KafkaMockCluster {
        let cluster = try KafkaMockCluster(brokers: 3)
        try cluster.createTopic("trades", partitions: partitions)
        return cluster
    }

    /// Trades `range` of the reference feed, one a message, keyed by symbol.
    static func produce(_ range: Range<Int>, to cluster: KafkaMockCluster) throws {
        let producer = try KafkaProducer(properties: ["bootstrap.servers": cluster.bootstrapServers, "linger.ms": "5"])
        for i in range {
            try producer.send(topic: "trades", key: Array(ReferenceFeed.symbols[i % 20].utf8), value: Array(ReferenceFeed.line(i).utf8))
        }
        try producer.flush()
    }

    static func stored(_ db: TestDatabase) -> Int { (try? db.value("SELECT count(*) FROM market_ticks")).flatMap { $0.flatMap { Int($0) } } ?? -1 }

    /// A case's world: a migrated schema, a fresh cluster, the config and environment of its
    /// instances, and a Redis subscriber of the schema's channels.
    struct Setup {
        let db: TestDatabase
        let cluster: KafkaMockCluster
        let config: String
        let environment: [String: String]
        let subscriber: TickSubscriber

        init(partitions: Int32 = 6) throws {
            let redisURL = try #require(DaemonTests.redisURL)
            db = try TestDatabase()
            try db.migrateAndSeed()
            cluster = try KafkaScaleOutTests.cluster(partitions: partitions)
            config = try KafkaScaleOutTests.config(db, cluster)
            environment = ["DATABASE_URL": db.url, "REDIS_URL": redisURL]
            subscriber = try TickSubscriber(url: redisURL, prefix: "\(db.schema):ticks:")
        }

        func start() throws -> DaemonProcess { try DaemonProcess(["run", "--config", config], environment: environment) }
    }

    @Test(.timeLimit(.minutes(5))) func oneInstanceConsumesADayAndRecordsEachPartitionsOffset() throws {
        let setup = try Setup()
        let (db, subscriber) = (setup.db, setup.subscriber)
        let sent = 200_000
        try Self.produce(0..<sent, to: setup.cluster)
        let started = ContinuousClock.now
        let daemon = try setup.start()
        _ = eventually(timeout: .seconds(180)) { Self.stored(db) == sent || !daemon.process.isRunning }
        #expect(Self.stored(db) == sent, "\(daemon.output.suffix(2000))")
        let elapsed = ContinuousClock.now - started
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(60)) == 0, "\(daemon.output.suffix(2000))")
        let verdict = try FaultVerdict.check(db, sent: sent, messages: try subscriber.finish())
        print("kafka one instance: \(verdict) in \(elapsed) — \(verdict.passes ? "PASS" : "FAIL")")
        #expect(verdict.passes, "\(verdict)")
        // Each partition's offset is where its messages end: 200,000 messages in all.
        let offsets = try db.rows("SELECT stream, applied FROM tickd_positions WHERE stream LIKE 'kafka:trades/%' ORDER BY stream")
        #expect(offsets.count == 6)
        #expect(offsets.compactMap { $0[1].flatMap { Int($0) } }.reduce(0, +) == sent)
    }

    @Test(.timeLimit(.minutes(6))) func anInstanceAddedMidStreamAndAnotherKilledAndRestartedLoseAndDuplicateNothing() throws {
        let setup = try Setup()
        let (db, cluster, subscriber) = (setup.db, setup.cluster, setup.subscriber)
        let sent = 200_000
        try Self.produce(0..<100_000, to: cluster)
        let first = try setup.start()
        try #require(eventually(timeout: .seconds(120)) { Self.stored(db) >= 20_000 || !first.process.isRunning } && first.process.isRunning,
                     "\(first.output.suffix(2000))")
        // A second instance joins: the group rebalances, each gets three partitions.
        let second = try setup.start()
        #expect(second.waitForLine(containing: "partitions assigned", timeout: .seconds(60)) != nil, "\(second.output.suffix(2000))")
        #expect(eventually(timeout: .seconds(120)) { Self.stored(db) >= 60_000 })
        // The first is killed mid-stream; its partitions move to the second after the session timeout.
        first.signal(SIGKILL)
        _ = first.waitForExit(timeout: .seconds(30))
        let atKill = Self.stored(db)
        try Self.produce(100_000..<150_000, to: cluster)
        // The killed instance is restarted mid-stream: the group rebalances again, to two members.
        #expect(eventually(timeout: .seconds(120)) { Self.stored(db) >= atKill + 20_000 }, "\(second.output.suffix(3000))")
        let restarted = try setup.start()
        #expect(restarted.waitForLine(containing: "partitions assigned", timeout: .seconds(60)) != nil, "\(restarted.output.suffix(2000))")
        try Self.produce(150_000..<sent, to: cluster)
        #expect(eventually(timeout: .seconds(180)) { Self.stored(db) >= sent }, "\(second.output.suffix(3000))")
        for instance in [second, restarted] { instance.signal(SIGTERM) }
        for instance in [second, restarted] { #expect(instance.waitForExit(timeout: .seconds(60)) == 0, "\(instance.output.suffix(2000))") }
        let verdict = try FaultVerdict.check(db, sent: sent, messages: try subscriber.finish())
        let restartedOwned = restarted.output.split(separator: "\n").contains { $0.contains("partitions assigned") && $0.contains("trades/") }
        print("kafka two instances, one killed at \(atKill) stored and restarted: \(verdict) — \(verdict.passes ? "PASS" : "FAIL")")
        #expect(verdict.passes, "\(verdict)")
        #expect(first.output.contains("partitions assigned") && second.output.contains("partitions revoked") && restartedOwned)
    }

    @Test(.timeLimit(.minutes(6))) func threeInstancesShareADayWhileABrokerGoesDownAndUp() throws {
        let setup = try Setup()
        let (db, cluster, subscriber) = (setup.db, setup.cluster, setup.subscriber)
        let sent = 200_000
        let instances = try (0..<3).map { _ in try setup.start() }
        for instance in instances {
            #expect(instance.waitForLine(containing: "partitions assigned", timeout: .seconds(60)) != nil, "\(instance.output.suffix(2000))")
        }
        try Self.produce(0..<sent, to: cluster)
        try #require(eventually(timeout: .seconds(120)) { Self.stored(db) >= 30_000 })
        // A broker goes down mid-stream (the partitions it leads stall) and comes back.
        try cluster.setBroker(2, up: false)
        let atDown = Self.stored(db)
        Thread.sleep(forTimeInterval: 3)
        try cluster.setBroker(2, up: true)
        _ = eventually(timeout: .seconds(180)) { Self.stored(db) >= sent }
        #expect(Self.stored(db) == sent, "\(instances.map { $0.output.suffix(1500) })")
        for instance in instances { instance.signal(SIGTERM) }
        for instance in instances { #expect(instance.waitForExit(timeout: .seconds(60)) == 0, "\(instance.output.suffix(2000))") }
        let verdict = try FaultVerdict.check(db, sent: sent, messages: try subscriber.finish())
        // The partitions were shared: every instance was assigned some (an empty assignment logs no "trades/").
        let owners = instances.map { $0.output.split(separator: "\n").filter { $0.contains("partitions assigned") && $0.contains("trades/") }.count }
        print("kafka three instances, broker 2 down at \(atDown) stored and up 3 s later: \(verdict) — \(verdict.passes ? "PASS" : "FAIL")")
        #expect(verdict.passes, "\(verdict)")
        #expect(owners.allSatisfy { $0 >= 1 })
        // Whatever librdkafka says about the broker that went down (not always anything within 3 s)
        // comes as tickd log lines, never as its own raw "%3|…" lines (KafkaMockClusterTests shows
        // the callback receiving them).
        #expect(!instances.contains { $0.output.split(separator: "\n").contains { $0.hasPrefix("%") } })
        // Three instances refresh the same candles (TimescaleDB): one refusing another's refresh is expected, not a warning.
        #expect(!instances.contains { $0.output.contains("candles: refresh failed") }, "\(instances.map { $0.output.suffix(1500) })")
    }

    /// tickd stopped at offset 1,000 of a one-partition topic; then the mock cluster's retention
    /// (5 MiB a partition) removed those messages and some after them. With
    /// `auto.offset.reset: error`, tickd exits 1 and says why; with tickd's default (earliest), it
    /// resumes from the first message the topic still holds and warns how many it never read.
    @Test(.timeLimit(.minutes(4))) func restartedAfterTheTopicWasTrimmedPastItsOffset() throws {
        let setup = try Setup(partitions: 1)
        let (db, cluster) = (setup.db, setup.cluster)
        try Self.produce(0..<1_000, to: cluster)
        let first = try setup.start()
        _ = eventually(timeout: .seconds(120)) { Self.stored(db) == 1_000 || !first.process.isRunning }
        first.signal(SIGTERM)
        #expect(first.waitForExit(timeout: .seconds(60)) == 0, "\(first.output.suffix(2000))")
        #expect(try db.value("SELECT applied FROM tickd_positions WHERE stream = 'kafka:trades/0'") == "1000")

        // 40 more trades, each padded with 200,000 blank lines (skipped, not rejects): 8 MB, past retention.
        let producer = try KafkaProducer(properties: ["bootstrap.servers": cluster.bootstrapServers])
        let padding = [UInt8](repeating: 0x0A, count: 200_000)
        for i in 1_000..<1_040 { try producer.send(topic: "trades", key: nil, value: Array(ReferenceFeed.line(i).utf8) + padding) }
        try producer.flush()

        let strict = try Self.config(db, cluster, options: "\n        auto.offset.reset: error")
        let refusing = try DaemonProcess(["run", "--config", strict], environment: setup.environment)
        #expect(refusing.waitForExit(timeout: .seconds(60)) == 1, "\(refusing.output.suffix(2000))")
        #expect(refusing.output.contains("trades/0: the offset to resume from is out of the partition's range"), "\(refusing.output.suffix(2000))")
        #expect(Self.stored(db) == 1_000)

        let resumed = try setup.start()
        let warning = try #require(resumed.waitForLine(containing: "no longer holds messages", timeout: .seconds(60)),
                                   "\(resumed.output.suffix(2000))")
        let firstOffset = try #require(Self.field("first_offset", in: warning).flatMap { Int($0) })
        let trimmed = try #require(Self.field("trimmed", in: warning).flatMap { Int($0) })
        #expect(trimmed == firstOffset - 1_000 && firstOffset > 1_000 && firstOffset < 1_040, "\(warning)")
        let expected = 1_000 + (1_040 - firstOffset)
        _ = eventually(timeout: .seconds(60)) { Self.stored(db) >= expected }
        resumed.signal(SIGTERM)
        #expect(resumed.waitForExit(timeout: .seconds(60)) == 0, "\(resumed.output.suffix(2000))")
        let stored = Self.stored(db)
        // Trade ids are offset + 1: 1…1000, then from the first offset the topic still held.
        let distinct = try db.value("SELECT count(DISTINCT trade_seq) FROM market_ticks").flatMap { Int($0) }
        let resumedAt = try db.value("SELECT min(trade_seq) FROM market_ticks WHERE trade_seq > 1000").flatMap { Int($0) }
        print("kafka restart after retention trimmed past offset 1000: resumed at \(firstOffset), trimmed \(trimmed), stored \(stored) of \(expected) expected, distinct \(distinct ?? -1)")
        #expect(stored == expected && distinct == expected && resumedAt == firstOffset + 1)
        #expect(try db.value("SELECT applied FROM tickd_positions WHERE stream = 'kafka:trades/0'") == "1040")
    }

    /// Redis unreachable during a rebalance: the instance giving partitions up settles its
    /// revocation within seconds, not the drain timeout (15 s). Revocation and assignment wait for
    /// the publisher to drain only while it is connected; what it holds otherwise stays in the
    /// outbox (at least once). Waiting for a Redis that is not there ran each wait to the drain
    /// timeout, three of them before the joining instance could read. What is measured is tickd's
    /// own part (`settled_ms` of its log lines): each round of the mock cluster's group protocol
    /// takes session.timeout.ms − 1 s by itself, and a sync that races the leader's costs a round
    /// more, so the joining instance's wall-clock wait says little about tickd.
    @Test(.timeLimit(.minutes(4))) func aRebalanceWithRedisDownDoesNotWaitForRedis() throws {
        let setup = try Setup()
        let (db, cluster) = (setup.db, setup.cluster)
        var environment = setup.environment
        environment["REDIS_URL"] = "redis://127.0.0.1:1/0"   // nothing listens there
        try Self.produce(0..<20_000, to: cluster)
        let first = try DaemonProcess(["run", "--config", setup.config], environment: environment)
        try #require(eventually(timeout: .seconds(120)) { Self.stored(db) >= 20_000 || !first.process.isRunning } && first.process.isRunning,
                     "\(first.output.suffix(2000))")
        let second = try DaemonProcess(["run", "--config", setup.config], environment: environment)
        let assigned = second.waitForLine(containing: "partitions assigned", timeout: .seconds(120))
        // The first instance gave its partitions up before the group could assign the second's.
        let revoked = first.output.split(separator: "\n").first { $0.contains("partitions revoked") }.map(String.init)
        let settled = [revoked, assigned].map { line in line.flatMap { Self.field("settled_ms", in: $0) }.flatMap { Int($0) } }
        try Self.produce(20_000..<40_000, to: cluster)
        _ = eventually(timeout: .seconds(120)) { Self.stored(db) >= 40_000 }
        for instance in [first, second] { instance.signal(SIGTERM) }
        for instance in [first, second] { #expect(instance.waitForExit(timeout: .seconds(60)) == 0, "\(instance.output.suffix(2000))") }
        let distinct = try db.value("SELECT count(DISTINCT trade_seq) FROM market_ticks").flatMap { Int($0) }
        print("kafka rebalance with Redis down: the revocation settled in \(settled[0].map { "\($0) ms" } ?? "?"), the joining instance's assignment in \(settled[1].map { "\($0) ms" } ?? "?"); stored \(Self.stored(db)), distinct \(distinct ?? -1) of 40000")
        let failed = "joining:\n\(second.output.suffix(2000))\nfirst:\n\(first.output.suffix(2000))"
        #expect(settled[0] != nil && settled[0]! < 5_000, "\(failed)")
        #expect(settled[1] != nil && settled[1]! < 5_000, "\(failed)")
        #expect(Self.stored(db) == 40_000 && distinct == 40_000)
    }

    /// A logfmt field's value in a log line.
    static func field(_ name: String, in line: String) -> String? {
        guard let range = line.range(of: " \(name)=") else { return nil }
        return String(line[range.upperBound...].prefix { $0 != " " }).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}
