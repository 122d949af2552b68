import Foundation
import Kafka
import Logging
import Synchronization
import Testing
import TestSupport
import TickCodecs
import TickKafka
import TickModel
import TickNormalisation
import TickSources

/// The Kafka source against librdkafka's mock cluster (three brokers on loopback): a consumer
/// group's partitions read into chunks that carry each partition's position, started where the
/// caller (the database, in tickd) says, offsets handed back to the group.
@Suite(.serialized, .ownThreads) struct KafkaFeedTests {
    static let symbols = ["SCOM", "KCB", "EQTY", "ABSA", "COOP", "NCBA", "BAT", "EABL"]

    /// Trades with a feed sequence number (`seq` = n), keyed by symbol (two trades in a row per
    /// symbol); every fifth pair travels as one message of two lines, the last without a newline.
    static func produce(_ range: ClosedRange<Int>, to cluster: KafkaMockCluster) throws {
        let producer = try KafkaProducer(properties: ["bootstrap.servers": cluster.bootstrapServers])
        func line(_ n: Int, _ symbol: String) -> String {
            "2026-01-05T06:\(String(format: "%02d:%02d", n / 60 % 60, n % 60))Z,\(symbol),23.10,100,\(n)"
        }
        var n = range.lowerBound
        while n <= range.upperBound {
            let symbol = symbols[(n / 2) % symbols.count]
            let pair = n % 10 == 0 && n < range.upperBound
            let text = pair ? line(n, symbol) + "\n" + line(n + 1, symbol) : line(n, symbol) + "\n"
            try producer.send(topic: "trades", key: Array(symbol.utf8), value: Array(text.utf8))
            n += pair ? 2 : 1
        }
        try producer.flush()
    }

    /// A trade at the end of each of the topic's six partitions (seqs 100,000…100,005): a feed that
    /// has delivered all six has delivered everything before them, so nothing more may come.
    static func markEnds(of cluster: KafkaMockCluster) throws -> Set<Int64> {
        let producer = try KafkaProducer(properties: ["bootstrap.servers": cluster.bootstrapServers])
        for partition in 0..<6 {
            let line = "2026-01-05T07:00:00Z,SCOM,23.10,100,\(100_000 + partition)\n"
            try producer.send(topic: "trades", key: nil, value: Array(line.utf8), partition: Int32(partition))
        }
        try producer.flush()
        return Set((100_000..<100_006).map(Int64.init))
    }

    /// What a feed delivered.
    final class Collected: Sendable {
        let chunks = Mutex<[TickChunk]>([])
        var seqs: [Int64] { chunks.withLock { $0.flatMap { $0.ticks.compactMap(\.tick.feedSequence) } } }
        /// Per partition stream, the last position delivered.
        var positions: [String: Int64] {
            chunks.withLock { chunks in
                var last: [String: Int64] = [:]
                for chunk in chunks { if let p = chunk.position { last[p.stream] = p.offset } }
                return last
            }
        }
        /// Waits until `count` ticks were delivered (the test's time limit ends a wait that never does).
        func wait(forTicks count: Int) async throws {
            while seqs.count < count { try await Task.sleep(for: .milliseconds(50)) }
        }
        /// Waits until every seq of `wanted` was delivered (the test's time limit ends a wait that never does).
        func wait(for wanted: Set<Int64>) async throws {
            while !wanted.isSubset(of: Set(seqs)) { try await Task.sleep(for: .milliseconds(20)) }
        }
    }

    static func feed(_ cluster: KafkaMockCluster, into collected: Collected,
                     startOffsets: @escaping KafkaFeed.StartOffsets) -> KafkaFeed {
        let csv = CSVOptions(columns: [.time, .symbol, .price, .volume, .sequence])
        let normaliser = Normaliser(symbols: SymbolRules(prefixes: [], suffixes: [], unknownPolicy: .accept),
                                    maxFutureSkewSeconds: 0, now: Timestamp(nanosecondsSinceEpoch: Int64.max))
        struct NoRejects: RejectRecorder {
            func record(source: String, line: Int, reject: Reject, raw: UnsafeBufferPointer<UInt8>, length: Int?, header: [UInt8]?) {}
        }
        let wiring = SourceWiring(makeDecoder: { source, format, maxLineBytes in
            SourceDecoder(source: source, decoder: FeedDecoder(format: format, csv: csv, normaliser: normaliser, maxLineBytes: maxLineBytes),
                          maxLineBytes: maxLineBytes, rejects: NoRejects())
        }, deliver: { chunk in
            collected.chunks.withLock { $0.append(chunk) }
            return true
        }, clock: { Timestamp(secondsSinceEpoch: 1_767_600_000) }, logger: Logger(label: "test.kafka"))
        // A 6 s session timeout (Kafka's minimum) so that a group changes hands in seconds.
        let options = KafkaFeedOptions(brokers: cluster.bootstrapServers, topics: ["trades"], group: "tickd", format: .csv,
                                       maxLineBytes: 4096, properties: ["session.timeout.ms": "6000", "auto.offset.reset": "earliest"])
        return KafkaFeed(options: options, wiring: wiring, startOffsets: startOffsets)
    }

    /// Runs `feed` while `body` runs, then stops it and waits until it has left the group.
    static func running(_ feed: KafkaFeed, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.run() }
            do { try await body() } catch {
                feed.stop()
                throw error
            }
            feed.stop()
            try await group.waitForAll()
        }
    }

    @Test(.timeLimit(.minutes(3))) func everyTradeArrivesOnceWithItsPartitionsPositionAndAFeedResumesWhereTheDatabaseSays() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        try cluster.createTopic("trades", partitions: 6)
        try Self.produce(1...6000, to: cluster)

        // The database knows no partition yet: the group's offset (none) and auto.offset.reset.
        let first = Collected()
        let feed = Self.feed(cluster, into: first) { partitions in partitions }
        // Stopping hands what is still to commit to the group before it leaves (`running`
        // returns once it has; a failed consumer throws).
        var positions: [String: Int64] = [:]
        try await Self.running(feed) {
            try await first.wait(forTicks: 6000)
            #expect(first.seqs.count == 6000)
            #expect(Set(first.seqs) == Set(1...6000))
            // A position per partition, increasing, ending past each partition's last message.
            positions = first.positions
            #expect(positions.count == 6)
            #expect(positions.keys.allSatisfy { $0.hasPrefix("kafka:trades/") })
            first.chunks.withLock { chunks in
                var last: [String: Int64] = [:]
                var streamsOf: [Symbol: Set<String>] = [:]
                for chunk in chunks {
                    guard let p = chunk.position else { Issue.record("a chunk without a position"); continue }
                    #expect(p.identity == KafkaStream.identity)
                    #expect(chunk.source == p.stream)
                    #expect(p.offset > last[p.stream] ?? 0)
                    last[p.stream] = p.offset
                    for tick in chunk.ticks { streamsOf[tick.tick.symbol, default: []].insert(p.stream) }
                }
                // A symbol lives in one partition (key = symbol).
                #expect(streamsOf.count == Self.symbols.count && streamsOf.values.allSatisfy { $0.count == 1 })
            }
            // The group is told half of it: a feed that asks the group starts there.
            feed.commit(positions.map { stream, offset in
                KafkaPartition(topic: "trades", partition: Int32(stream.split(separator: "/").last!)!, offset: offset / 2) })
        }

        // More trades; a feed started where "the database" says reads only those.
        try Self.produce(6001...6600, to: cluster)
        let second = Collected()
        let asked = Mutex<[KafkaPartition]>([])
        let resumeAt = positions
        let resumed = Self.feed(cluster, into: second) { partitions in
            asked.withLock { $0 += partitions }
            return partitions.map { p in KafkaPartition(topic: p.topic, partition: p.partition,
                                                         offset: resumeAt[KafkaStream.name(topic: p.topic, partition: p.partition)]) }
        }
        var ends: Set<Int64> = []
        try await Self.running(resumed) {
            try await second.wait(forTicks: 600)
            ends = try Self.markEnds(of: cluster)
            try await second.wait(for: ends)   // each partition read to its end: nothing more may come
            #expect(Set(second.seqs) == Set(6001...6600).union(ends))
            #expect(second.seqs.count == 606)
            #expect(asked.withLock { Set($0.map(\.partition)) } == Set(0..<6))
        }

        // A feed that lets the group choose starts at the offsets committed above (half of the
        // first 6,000 per partition): it reads the second half of each partition again, and the 600.
        let third = Collected()
        let fromGroup = Self.feed(cluster, into: third) { partitions in partitions }
        let expected = positions.values.reduce(0) { $0 + Int($1 - $1 / 2) } + 600
        try await Self.running(fromGroup) { [ends] in
            try await third.wait(for: ends)   // each partition read to its end
        }
        // Messages, not ticks, are what offsets count; a two-trade message adds one more tick.
        #expect(Set(third.seqs).isSuperset(of: Set(6001...6600)))
        #expect(!Set(third.seqs).contains(1))
        #expect(third.seqs.count < 6606 && third.seqs.count >= expected + 6)
    }
}
