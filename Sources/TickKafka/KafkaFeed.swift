import Foundation
import Kafka
import Logging
import Metrics
import Synchronization
import TickModel
import TickPipeline
import TickSources

/// Reads the partitions a consumer group gives this instance into the pipeline. Its thread owns
/// the `KafkaConsumer`: it polls, decodes each partition with a decoder of its own, and delivers
/// chunks that carry the partition's position (`KafkaStream`), so that the batch that stores a
/// message's last tick also records the offset after it, in the same transaction.
///
/// On assignment, `startOffsets` says where each partition starts: the offset the database has
/// applied it to, or nil (the group's committed offset, else `auto.offset.reset`). On revocation,
/// what was read of those partitions is delivered and `revoked` is called before librdkafka
/// releases them, so the caller can wait until it is committed. `commit` hands offsets the
/// database has committed back to Kafka (asynchronously), so that the usual lag tools work.
public final class KafkaFeed: Sendable {
    /// Where assigned partitions start (nil offset: the group's committed one). On the feed's thread.
    public typealias StartOffsets = @Sendable ([KafkaPartition]) -> [KafkaPartition]
    /// Called with partitions about to be released, after their last chunks were delivered; each
    /// carries the position of its last chunk delivered (nil: none since it was assigned). On the
    /// feed's thread; the partitions are released when it returns.
    public typealias Revoked = @Sendable ([KafkaPartition]) -> Void

    public let options: KafkaFeedOptions
    private let wiring: SourceWiring
    private let startOffsets: StartOffsets
    private let revoked: Revoked
    private let state = Mutex(State())

    private struct State {
        var stopping = false
        var running = false
        var toCommit: [KafkaPartition] = []
        var failure: KafkaError?
        var assignment: [KafkaPartition] = []
    }

    /// The partitions this instance holds now (offsets not set).
    public var assignment: [KafkaPartition] { state.withLock { $0.assignment } }

    public init(options: KafkaFeedOptions, wiring: SourceWiring, startOffsets: @escaping StartOffsets,
                revoked: @escaping Revoked = { _ in }) {
        self.options = options
        self.wiring = wiring
        self.startOffsets = startOffsets
        self.revoked = revoked
    }

    /// Creates the consumer and subscribes (a bad setting throws here), then polls on a thread of
    /// its own until `stop`.
    public func start() throws(KafkaError) {
        let reader = Reader(feed: self)
        let logger = wiring.logger
        let consumer = try KafkaConsumer(properties: options.consumerProperties,
                                         onAssign: { [reader] partitions in reader.assigned(partitions) },
                                         onRevoke: { [reader] partitions in reader.revoking(partitions) },
                                         onLog: { level, facility, message in
                                             // In tickd's log format, not librdkafka's own lines on stderr.
                                             logger.log(level: KafkaFeed.logLevel(syslog: level), "librdkafka: \(message)",
                                                        metadata: ["facility": "\(facility)"])
                                         })
        try consumer.subscribe(options.topics)
        state.withLock { $0.running = true }
        // Handed to the thread once, used only there from then on.
        struct Handoff: @unchecked Sendable { let consumer: KafkaConsumer }
        let handoff = Handoff(consumer: consumer)
        let thread = Thread { [self] in
            reader.run(handoff.consumer)
            state.withLock { $0.running = false }
        }
        thread.name = "tickd-kafka"
        thread.start()
    }

    /// swift-log's level for a syslog level (librdkafka's).
    static func logLevel(syslog level: Int32) -> Logger.Level {
        switch level {
        case ...3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    }

    /// Stops polling and waits until the thread has left the group (its partitions are released).
    public func stop() {
        state.withLock { $0.stopping = true }
        while state.withLock({ $0.running }) { Thread.sleep(forTimeInterval: 0.01) }
    }

    /// The error that stopped the feed, if one did.
    public var failure: KafkaError? { state.withLock { $0.failure } }

    /// Offsets the database has committed (the next offset to read per partition); the feed's
    /// thread commits them to the group.
    public func commit(_ offsets: [KafkaPartition]) {
        state.withLock { $0.toCommit += offsets }
    }

    fileprivate var isStopping: Bool { state.withLock { $0.stopping } }
    fileprivate func takeCommits() -> [KafkaPartition] { state.withLock { let all = $0.toCommit; $0.toCommit = []; return all } }
    fileprivate func fail(_ error: KafkaError) { state.withLock { $0.failure = error } }
    fileprivate func assign(_ partitions: [KafkaPartition]) {
        let held = partitions.map { KafkaPartition(topic: $0.topic, partition: $0.partition) }
        state.withLock { $0.assignment = held }
    }

    /// The feed's thread: the consumer, the decoders, the chunks being filled.
    private final class Reader: @unchecked Sendable {
        let feed: KafkaFeed
        var decoders: [PartitionKey: SourceDecoder] = [:]
        var pending: [PartitionKey: Pending] = [:]
        /// Per partition, the position of the last chunk delivered since it was assigned.
        var delivered: [PartitionKey: Int64] = [:]
        /// Per partition assigned at the database's offset, that offset, until its first message
        /// arrives: a first message further on means the topic lost what lies between.
        var resumingAt: [PartitionKey: Int64] = [:]

        struct PartitionKey: Hashable { let topic: String; let partition: Int32 }
        struct Pending { var ticks: [KeyedTick] = []; var next: Int64; var line: Int }

        init(feed: KafkaFeed) { self.feed = feed }

        func run(_ consumer: KafkaConsumer) {
            let logger = feed.wiring.logger
            while !feed.isStopping {
                do {
                    try consumer.commit(latestPerPartition(feed.takeCommits()))
                    // Wait for a message, then take what is waiting without waiting again.
                    var timeout: Int32 = 100
                    var taken = 0
                    while let message = try consumer.poll(timeoutMilliseconds: timeout) {
                        handle(message, consumer)
                        taken += 1
                        timeout = 0
                        if taken >= 10_000 { break }
                    }
                    deliverAll()
                } catch {
                    logger.error("kafka: the consumer failed", metadata: ["error": "\(error)"])
                    feed.fail(error)
                    break
                }
            }
            deliverAll()
            // Leaving the group revokes the partitions: `revoking` runs in there, on this thread.
            consumer.close()
        }

        func handle(_ message: KafkaMessage, _ consumer: KafkaConsumer) {
            let key = PartitionKey(topic: message.topic, partition: message.partition)
            if let expected = resumingAt.removeValue(forKey: key), message.offset > expected {
                reportSkipped(key, from: expected, to: message.offset, consumer)
            }
            let stream = KafkaStream.name(topic: message.topic, partition: message.partition)
            // Taken out of the dictionaries while changed, so that appending does not copy them.
            var decoder = decoders.removeValue(forKey: key) ?? feed.wiring.makeDecoder(stream, feed.options.format, feed.options.maxLineBytes)
            var chunk = pending.removeValue(forKey: key) ?? Pending(next: message.offset + 1, line: 0)
            var bytes = message.value
            // A message is whole lines: a missing last newline ends its last line here.
            if bytes.last != 0x0A { bytes.append(0x0A) }
            let now = feed.wiring.clock()
            do {
                try bytes.withUnsafeBytes { raw in
                    try decoder.decode(raw, now: now) { chunk.ticks.append($0.keyed) }
                }
            } catch {
                feed.wiring.logger.error("kafka: a message could not be decoded", metadata: [
                    "stream": "\(stream)", "offset": "\(message.offset)", "error": "\(error)"])
            }
            chunk.next = message.offset + 1
            chunk.line = decoder.lineNumber
            decoders[key] = decoder
            pending[key] = chunk
            if chunk.ticks.count >= feed.options.maxChunkTicks { deliver(key) }
        }

        func deliverAll() {
            for key in pending.keys.sorted(by: { ($0.topic, $0.partition) < ($1.topic, $1.partition) }) { deliver(key) }
        }

        /// Hands one partition's chunk to the pipeline, waiting while it is full (backpressure).
        func deliver(_ key: PartitionKey) {
            guard let chunk = pending.removeValue(forKey: key) else { return }
            let stream = KafkaStream.name(topic: key.topic, partition: key.partition)
            let tickChunk = TickChunk(source: stream, throughLine: chunk.line, ticks: chunk.ticks,
                                      position: StreamPosition(stream: stream, identity: KafkaStream.identity, offset: chunk.next))
            delivered[key] = chunk.next
            let deliverChunk = feed.wiring.deliver
            BlockingWait.run { _ = await deliverChunk(tickChunk) }
        }

        func assigned(_ partitions: [KafkaPartition]) -> [KafkaPartition] {
            // A partition starts afresh where the database says: no decoder state carries over.
            for partition in partitions {
                let key = PartitionKey(topic: partition.topic, partition: partition.partition)
                decoders[key] = nil
                pending[key] = nil
                delivered[key] = nil
                resumingAt[key] = nil
            }
            let starts = feed.startOffsets(partitions)
            for start in starts {
                if let offset = start.offset { resumingAt[PartitionKey(topic: start.topic, partition: start.partition)] = offset }
            }
            feed.assign(partitions)
            feed.wiring.logger.info("kafka: partitions assigned", metadata: [
                "partitions": "\(starts.map { "\($0.topic)/\($0.partition)@\($0.offset.map(String.init) ?? "group")" }.joined(separator: ","))"])
            return starts
        }

        func revoking(_ partitions: [KafkaPartition]) {
            let keys = partitions.map { PartitionKey(topic: $0.topic, partition: $0.partition) }
            for key in keys { deliver(key) }
            feed.revoked(keys.map { KafkaPartition(topic: $0.topic, partition: $0.partition, offset: delivered[$0]) })
            feed.assign([])
            for key in keys {
                decoders[key] = nil
                delivered[key] = nil
                resumingAt[key] = nil
            }
            feed.wiring.logger.info("kafka: partitions revoked", metadata: [
                "partitions": "\(partitions.map { "\($0.topic)/\($0.partition)" }.joined(separator: ","))"])
        }

        /// A partition resumed past the offset the database has applied it to. When the partition
        /// no longer starts there (retention removed messages tickd had not read; librdkafka then
        /// applied `auto.offset.reset`), those ticks are lost to tickd: a warning and a count. Other
        /// gaps (transaction markers, compaction) hold no messages and are only noted.
        func reportSkipped(_ key: PartitionKey, from expected: Int64, to first: Int64, _ consumer: KafkaConsumer) {
            let stream = KafkaStream.name(topic: key.topic, partition: key.partition)
            guard let low = consumer.watermarks(topic: key.topic, partition: key.partition)?.low, low > expected else {
                feed.wiring.logger.info("kafka: the partition resumed past the database's offset; the offsets between hold no messages", metadata: [
                    "stream": "\(stream)", "database_offset": "\(expected)", "first_offset": "\(first)"])
                return
            }
            let trimmed = min(low, first) - expected
            Counter(label: "tickd_kafka_messages_trimmed_total", dimensions: [("partition", "\(key.topic)/\(key.partition)")])
                .increment(by: Int(trimmed))
            feed.wiring.logger.warning("kafka: the topic no longer holds messages tickd had not read (retention): they were skipped", metadata: [
                "stream": "\(stream)", "database_offset": "\(expected)", "first_offset": "\(first)", "trimmed": "\(trimmed)"])
        }

        /// The greatest offset per partition: commits may arrive out of order from the lanes.
        func latestPerPartition(_ offsets: [KafkaPartition]) -> [KafkaPartition] {
            var latest: [PartitionKey: Int64] = [:]
            for offset in offsets {
                guard let value = offset.offset else { continue }
                let key = PartitionKey(topic: offset.topic, partition: offset.partition)
                latest[key] = max(latest[key] ?? value, value)
            }
            return latest.map { KafkaPartition(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) }
        }
    }
}
