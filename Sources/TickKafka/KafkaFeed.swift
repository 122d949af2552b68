import Blocking
import Kafka
import Logging
import Metrics
import Synchronization
import TickModel
import TickNormalisation
import TickSources

/// Reads the partitions a consumer group gives this instance into the pipeline. Its executor (a
/// thread of its own) owns the `KafkaConsumer`: it polls, decodes each partition with a decoder
/// of its own, and delivers chunks that carry the partition's position (`KafkaStream`), so that
/// the batch that stores a message's last tick also records the offset after it, in the same
/// transaction.
///
/// A rebalance is settled between polls, not inside librdkafka's callback, so that its work
/// suspends instead of blocking a thread. On assignment, `startOffsets` says where each partition
/// starts: the offset the database has applied it to, or nil (the group's committed offset, else
/// `auto.offset.reset`). On revocation, what was read of those partitions is delivered and
/// `revoked` is awaited before librdkafka releases them, so the caller can wait until it is
/// committed. `commit` hands offsets the database has committed back to Kafka (asynchronously),
/// so that the usual lag tools work.
public final class KafkaFeed: Sendable {
    /// Where assigned partitions start (nil offset: the group's committed one).
    public typealias StartOffsets = @Sendable ([KafkaPartition]) async -> [KafkaPartition]
    /// Awaited with partitions about to be released, after their last chunks were delivered; each
    /// carries the position of its last chunk delivered (nil: none since it was assigned). The
    /// partitions are released when it returns.
    public typealias Revoked = @Sendable ([KafkaPartition]) async -> Void

    public let options: KafkaFeedOptions
    private let wiring: SourceWiring
    private let startOffsets: StartOffsets
    private let revoked: Revoked
    private let state = Mutex(State())

    private struct State {
        var stopping = false
        var toCommit: [KafkaPartition] = []
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

    /// Creates the consumer and subscribes (a bad setting throws here), then polls until `stop`
    /// (or the task is cancelled) and leaves the group: its partitions are settled (`revoked`
    /// has returned) and released before this returns. A consumer that fails throws.
    public func run() async throws(KafkaError) {
        let executor = BlockingExecutor(name: "tickd-kafka")
        defer { executor.shutdown() }
        let reader = Reader(feed: self, executor: executor)
        try await reader.open()
        wiring.logger.notice("kafka: consuming", metadata: ["topics": "\(options.topics)", "group": "\(options.group)",
                                                             "brokers": "\(options.brokers)"])
        if let failure = await reader.run() { throw failure }
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

    /// Stops polling: `run` leaves the group and returns.
    public func stop() {
        state.withLock { $0.stopping = true }
    }

    /// Offsets the database has committed (the next offset to read per partition); the feed's
    /// thread commits them to the group.
    public func commit(_ offsets: [KafkaPartition]) {
        state.withLock { $0.toCommit += offsets }
    }

    fileprivate var isStopping: Bool { state.withLock { $0.stopping } }
    fileprivate func takeCommits() -> [KafkaPartition] { state.withLock { let all = $0.toCommit; $0.toCommit = []; return all } }
    fileprivate func assign(_ partitions: [KafkaPartition]) {
        let held = partitions.map { KafkaPartition(topic: $0.topic, partition: $0.partition) }
        state.withLock { $0.assignment = held }
    }

    /// The feed's thread: the consumer, and per partition its decoder and the chunk being filled.
    private actor Reader {
        nonisolated let executor: BlockingExecutor
        nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
        let feed: KafkaFeed
        var consumer: KafkaConsumer?
        var partitions: [PartitionKey: PartitionReader] = [:]
        /// The partition of the last message: consecutive messages mostly come from one, and
        /// this spares a dictionary lookup (a String hash) per message.
        var last: PartitionReader?

        struct PartitionKey: Hashable { let topic: String; let partition: Int32 }
        struct Pending { var ticks: [KeyedTick] = []; var next: Int64; var line: Int }

        /// One assigned partition, from its assignment to its revocation.
        final class PartitionReader {
            let topic: String
            let partition: Int32
            /// `kafka:<topic>/<partition>`, its name in `tickd_positions`.
            let stream: String
            var decoder: SourceDecoder
            var pending: Pending?
            /// The position of the last chunk delivered since the assignment.
            var delivered: Int64?
            /// The database's offset it was assigned at, until the first message arrives: a
            /// first message further on means the topic lost what lies between.
            var resumingAt: Int64?

            init(topic: String, partition: Int32, decoder: (String) -> SourceDecoder) {
                self.topic = topic
                self.partition = partition
                stream = KafkaStream.name(topic: topic, partition: partition)
                self.decoder = decoder(stream)
            }
        }

        init(feed: KafkaFeed, executor: BlockingExecutor) {
            self.feed = feed
            self.executor = executor
        }

        /// Creates the consumer and subscribes. Its log callback runs on librdkafka's threads; a
        /// rebalance is only noted inside `poll` and settled by `run`.
        func open() throws(KafkaError) {
            let logger = feed.wiring.logger
            let consumer = try KafkaConsumer(properties: feed.options.consumerProperties,
                                             onLog: { level, facility, message in
                                                 // In tickd's log format, not librdkafka's own lines on stderr.
                                                 logger.log(level: KafkaFeed.logLevel(syslog: level), "librdkafka: \(message)",
                                                            metadata: ["facility": "\(facility)"])
                                             })
            try consumer.subscribe(feed.options.topics)
            self.consumer = consumer
        }

        /// Polls until the feed stops, its task is cancelled or the consumer fails (returned),
        /// then settles what it holds and leaves the group.
        func run() async -> KafkaError? {
            guard let consumer else { return nil }
            let logger = feed.wiring.logger
            var failure: KafkaError?
            while !feed.isStopping && !Task.isCancelled {
                do throws(KafkaError) {
                    try consumer.commit(latestPerPartition(feed.takeCommits()))
                    // Wait for a message, then take what is waiting without waiting again; stop
                    // at a rebalance, which is settled before the next poll.
                    var timeout: Int32 = 100
                    var taken = 0
                    while !consumer.rebalancePending, let message = try consumer.poll(timeoutMilliseconds: timeout) {
                        await handle(message, consumer)
                        taken += 1
                        timeout = 0
                        if taken >= 10_000 { break }
                    }
                    await deliverAll()
                    switch consumer.takeRebalance() {
                    case .assign(let partitions)?: try consumer.assign(await assigned(partitions))
                    case .revoke(let partitions)?:
                        await revoking(partitions)
                        try consumer.assign(nil)
                    case nil: break
                    }
                } catch {
                    logger.error("kafka: the consumer failed", metadata: ["error": "\(error)"])
                    failure = error
                    break
                }
            }
            await deliverAll()
            // Offsets the database committed since the last pass still go to the group.
            do { try consumer.commit(latestPerPartition(feed.takeCommits()), waiting: true) } catch {
                logger.warning("kafka: could not hand the last committed offsets to the group; it lags until the next start",
                               metadata: ["error": "\(error)"])
            }
            // What it holds is settled first (a rebalance noted and not taken never took
            // effect); leaving the group then releases the partitions at once.
            _ = consumer.takeRebalance()
            let held = feed.assignment
            if !held.isEmpty { await revoking(held) }
            consumer.close()
            self.consumer = nil
            return failure
        }

        /// The reader of a message's partition (one is made if librdkafka hands out a message of
        /// a partition it did not announce, so that nothing read is dropped).
        func reader(of message: KafkaMessage) -> PartitionReader {
            if let last, last.partition == message.partition, last.topic == message.topic { return last }
            let key = PartitionKey(topic: message.topic, partition: message.partition)
            let found = partitions[key] ?? makeReader(key)
            last = found
            return found
        }

        func makeReader(_ key: PartitionKey) -> PartitionReader {
            let (format, maxLineBytes, make) = (feed.options.format, feed.options.maxLineBytes, feed.wiring.makeDecoder)
            let made = PartitionReader(topic: key.topic, partition: key.partition) { make($0, format, maxLineBytes) }
            partitions[key] = made
            return made
        }

        func handle(_ message: KafkaMessage, _ consumer: KafkaConsumer) async {
            let partition = reader(of: message)
            if let expected = partition.resumingAt {
                partition.resumingAt = nil
                if message.offset > expected { reportSkipped(partition, from: expected, to: message.offset, consumer) }
            }
            var bytes = message.value
            // A message is whole lines: a missing last newline ends its last line here.
            if bytes.last != 0x0A { bytes.append(0x0A) }
            let now = feed.wiring.clock()
            // Filled in place: the reader is a class, so appending never copies the chunk.
            if partition.pending == nil { partition.pending = Pending(next: message.offset + 1, line: 0) }
            do {
                try bytes.withUnsafeBytes { raw in
                    try partition.decoder.decode(raw, now: now) { partition.pending!.ticks.append($0.keyed) }
                }
            } catch {
                feed.wiring.logger.error("kafka: a message could not be decoded", metadata: [
                    "stream": "\(partition.stream)", "offset": "\(message.offset)", "error": "\(error)"])
            }
            partition.pending!.next = message.offset + 1
            partition.pending!.line = partition.decoder.lineNumber
            if partition.pending!.ticks.count >= feed.options.maxChunkTicks { await deliver(partition) }
        }

        func deliverAll() async {
            for partition in partitions.values.sorted(by: { ($0.topic, $0.partition) < ($1.topic, $1.partition) }) { await deliver(partition) }
        }

        /// Hands one partition's chunk to the pipeline, waiting while it is full (backpressure).
        func deliver(_ partition: PartitionReader) async {
            guard let chunk = partition.pending else { return }
            partition.pending = nil
            let tickChunk = TickChunk(source: partition.stream, throughLine: chunk.line, ticks: chunk.ticks,
                                      position: StreamPosition(stream: partition.stream, identity: KafkaStream.identity, offset: chunk.next))
            partition.delivered = chunk.next
            _ = await feed.wiring.deliver(tickChunk)
        }

        func assigned(_ assigned: [KafkaPartition]) async -> [KafkaPartition] {
            let started = ContinuousClock.now
            // A partition starts afresh where the database says: no decoder state carries over.
            last = nil
            for partition in assigned { partitions[PartitionKey(topic: partition.topic, partition: partition.partition)] = nil }
            let starts = await feed.startOffsets(assigned)
            for start in starts {
                makeReader(PartitionKey(topic: start.topic, partition: start.partition)).resumingAt = start.offset
            }
            feed.assign(assigned)
            feed.wiring.logger.info("kafka: partitions assigned", metadata: [
                "partitions": "\(starts.map { "\($0.topic)/\($0.partition)@\($0.offset.map(String.init) ?? "group")" }.joined(separator: ","))",
                "settled_ms": "\((ContinuousClock.now - started).milliseconds)"])
            return starts
        }

        func revoking(_ revoked: [KafkaPartition]) async {
            let started = ContinuousClock.now
            let readers = revoked.compactMap { partitions[PartitionKey(topic: $0.topic, partition: $0.partition)] }
            for partition in readers { await deliver(partition) }
            await feed.revoked(revoked.map { revoked in
                let reader = partitions[PartitionKey(topic: revoked.topic, partition: revoked.partition)]
                return KafkaPartition(topic: revoked.topic, partition: revoked.partition, offset: reader?.delivered)
            })
            feed.assign([])
            last = nil
            for partition in revoked { partitions[PartitionKey(topic: partition.topic, partition: partition.partition)] = nil }
            feed.wiring.logger.info("kafka: partitions revoked", metadata: [
                "partitions": "\(revoked.map { "\($0.topic)/\($0.partition)" }.joined(separator: ","))",
                "settled_ms": "\((ContinuousClock.now - started).milliseconds)"])
        }

        /// A partition resumed past the offset the database has applied it to. When the partition
        /// no longer starts there (retention removed messages tickd had not read; librdkafka then
        /// applied `auto.offset.reset`), those ticks are lost to tickd: a warning and a count. Other
        /// gaps (transaction markers, compaction) hold no messages and are only noted.
        func reportSkipped(_ partition: PartitionReader, from expected: Int64, to first: Int64, _ consumer: KafkaConsumer) {
            let stream = partition.stream
            guard let low = consumer.watermarks(topic: partition.topic, partition: partition.partition)?.low, low > expected else {
                feed.wiring.logger.info("kafka: the partition resumed past the database's offset; the offsets between hold no messages", metadata: [
                    "stream": "\(stream)", "database_offset": "\(expected)", "first_offset": "\(first)"])
                return
            }
            let trimmed = min(low, first) - expected
            Counter(label: "tickd_kafka_messages_trimmed_total", dimensions: [("partition", "\(partition.topic)/\(partition.partition)")])
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
