import Foundation
import Kafka
import Synchronization
import Testing
import TestSupport

/// librdkafka against its own mock cluster (three brokers on loopback ports): a keyed topic of six
/// partitions, a producer, a consumer group that is told its partitions and starts each where it
/// is told to, offsets committed by hand.
@Suite(.ownThreads) struct KafkaMockClusterTests {
    static let symbols = ["SCOM", "KCB", "EQTY", "ABSA", "COOP", "NCBA", "BAT", "EABL"]
    /// The group's settings. A 6 s session timeout (Kafka's minimum; with 2 s the mock coordinator
    /// assigned nothing): the second consumer then joins within seconds of the first one's close,
    /// not after librdkafka's default 45 s (this test: 10.6 s in all, 49.6 s with the default).
    static func group(_ cluster: KafkaMockCluster) -> [String: String] {
        ["bootstrap.servers": cluster.bootstrapServers, "group.id": "tickd", "session.timeout.ms": "6000"]
    }

    @Test(.timeLimit(.minutes(2))) func aGroupConsumerReadsEveryMessageOfEveryPartitionFromTheOffsetsItChooses() throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        try cluster.createTopic("ticks", partitions: 6)
        let producer = try KafkaProducer(properties: ["bootstrap.servers": cluster.bootstrapServers])
        for i in 0..<1200 {
            let symbol = Self.symbols[i % Self.symbols.count]
            try producer.send(topic: "ticks", key: Array(symbol.utf8), value: Array("2026-01-05T06:00:00Z,\(symbol),23.10,100,\(i + 1)\n".utf8))
        }
        try producer.flush()

        // The first consumer starts every partition at 0 and reads all; it commits half way.
        var assigned: [KafkaPartition] = []
        var seen: [Int32: [Int64]] = [:]
        var keysOf: [Int32: Set<String>] = [:]
        do {
            let consumer = try KafkaConsumer(properties: Self.group(cluster).merging(["auto.offset.reset": "earliest"]) { $1 })
            try consumer.subscribe(["ticks"])
            var count = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while count < 1200 && ContinuousClock.now < deadline {
                let message = try consumer.poll(timeoutMilliseconds: 200)
                try Self.settle(consumer) { partitions in
                    assigned = partitions
                    return partitions.map { KafkaPartition(topic: $0.topic, partition: $0.partition, offset: 0) }
                }
                guard let message else { continue }
                count += 1
                seen[message.partition, default: []].append(message.offset)
                keysOf[message.partition, default: []].insert(String(decoding: message.key ?? [], as: UTF8.self))
            }
            #expect(count == 1200)
            try consumer.commit(seen.map { KafkaPartition(topic: "ticks", partition: $0.key, offset: Int64($0.value.count / 2)) }, waiting: true)
        }
        #expect(Set(assigned.map(\.partition)) == Set(0..<6))
        // Offsets per partition run from 0 with no hole; a key (symbol) lives in one partition.
        for (_, offsets) in seen { #expect(offsets == Array(0..<Int64(offsets.count))) }
        let partitionsOfKey = Dictionary(grouping: keysOf.flatMap { partition, keys in keys.map { ($0, partition) } }, by: \.0)
        #expect(partitionsOfKey.values.allSatisfy { $0.count == 1 })

        // A second consumer of the group that asks for nothing starts at the committed offsets.
        var restarts: [KafkaPartition] = []
        let again = try KafkaConsumer(properties: Self.group(cluster))
        try again.subscribe(["ticks"])
        let expected = 1200 - seen.values.reduce(0) { $0 + $1.count / 2 }
        var second = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while second < expected && ContinuousClock.now < deadline {
            if try again.poll(timeoutMilliseconds: 200) != nil { second += 1 }
            try Self.settle(again) { partitions in
                restarts = partitions
                return partitions
            }
        }
        // Nothing more comes: the committed halves are not read again.
        for _ in 0..<5 { if try again.poll(timeoutMilliseconds: 200) != nil { second += 1 } }
        #expect(Set(restarts.map(\.partition)) == Set(0..<6))
        #expect(second == expected)
    }

    /// Answers the rebalance the last `poll` noted, if any: an assignment starts where `start`
    /// says, a revocation releases everything.
    static func settle(_ consumer: KafkaConsumer, start: ([KafkaPartition]) -> [KafkaPartition]) throws {
        switch consumer.takeRebalance() {
        case .assign(let partitions)?: try consumer.assign(start(partitions))
        case .revoke?: try consumer.assign(nil)
        case nil: break
        }
    }

    /// librdkafka's log lines reach `onLog` (tickd writes them in its own format), not stderr: a
    /// consumer whose only broker refuses connections reports it there, at error level.
    /// librdkafka's error code is kept with its name, so callers decide by code, not by message.
    @Test func kafkaErrorsKeepLibrdkafkasCode() throws {
        // A message for a broker that is not there: the flush times out.
        let producer = try KafkaProducer(properties: ["bootstrap.servers": "127.0.0.1:1", "log_level": "0"])
        try producer.send(topic: "trades", key: nil, value: Array("x".utf8))
        #expect {
            try producer.flush(timeoutMilliseconds: 100)
        } throws: { error in
            let error = error as? KafkaError
            return error?.code == -185 && error?.codeName == "_TIMED_OUT"
        }
        #expect(KafkaError("consume trades/0", "Offset out of range", code: 1).codeName == "OFFSET_OUT_OF_RANGE")
        #expect(KafkaError("configure", "bad value").codeName == nil)
    }

    @Test(.timeLimit(.minutes(1))) func librdkafkasLogLinesGoToTheCallback() throws {
        let lines = Mutex<[(level: Int32, facility: String, message: String)]>([])
        let consumer = try KafkaConsumer(properties: ["bootstrap.servers": "127.0.0.1:1", "group.id": "tickd-log"],
                                         onLog: { level, facility, message in lines.withLock { $0.append((level, facility, message)) } })
        try consumer.subscribe(["ticks"])
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline && !lines.withLock({ $0.contains { $0.message.contains("127.0.0.1:1") } }) {
            _ = try? consumer.poll(timeoutMilliseconds: 100)
        }
        let refused = lines.withLock { $0.first { $0.message.contains("127.0.0.1:1") } }
        #expect(refused != nil && refused!.level <= 4, "\(lines.withLock { $0.map(\.message) })")
    }
}
