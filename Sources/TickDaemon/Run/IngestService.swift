import CoreMetrics
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization
import TickModel
import TickPipeline
import TickSinks

/// The consumer end of the pipeline: takes chunks from the queue, closes batches by size or
/// age, commits them through the PostgreSQL sink on a thread of its own (libpq blocks; it never
/// runs on Swift's cooperative pool), then hands them to the Redis publisher.
///
/// It is the first service of the group, so on SIGTERM it is shut down last: by then every
/// source has stopped, and it drains the queue, commits the rest, publishes, and returns.
final class IngestService: Service {
    private let queue: TickQueue
    private let sink: SinkThread
    private let publisher: RedisPublisher?
    private let maxTicks: Int
    private let maxAge: Duration
    private let publishDrain: Duration
    private let deadLetters: DeadLetterFile
    private let logger: Logger
    let stats: DaemonStats
    private let metrics = IngestMetrics()

    init(queue: TickQueue, sink: SinkThread, publisher: RedisPublisher?, maxTicks: Int, maxAge: Duration,
         publishDrain: Duration, deadLetters: DeadLetterFile, stats: DaemonStats, logger: Logger) {
        self.deadLetters = deadLetters
        self.queue = queue
        self.sink = sink
        self.publisher = publisher
        self.maxTicks = maxTicks
        self.maxAge = maxAge
        self.publishDrain = publishDrain
        self.stats = stats
        self.logger = logger
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await consume()
        } onGracefulShutdown: { [queue] in
            queue.finish()
        }
        let published = publisher?.finish(timeout: publishDrain)
        logger.notice("ingest stopped", metadata: ["inserted": "\(stats.snapshot.inserted)",
                                                   "published": "\(published?.published ?? 0)"])
    }

    private func consume() async throws {
        var batcher = Batcher(maxTicks: maxTicks, maxAge: maxAge)
        var offsets: [String: Int] = [:]
        func commit(_ batch: [KeyedTick]?) async throws {
            guard let batch else { return }
            let written = offsets
            offsets.removeAll(keepingCapacity: true)
            let started = ContinuousClock.now
            let result = try await sink.write(batch, offsets: written)
            let took = ContinuousClock.now - started
            stats.recordBatch(stored: result.stored.count)
            metrics.batches.increment()
            metrics.inserted.increment(by: Int64(result.stored.count))
            metrics.batchDuration.recordNanoseconds(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000)
            publisher?.enqueue(result)
        }
        while true {
            // Wake at least once a second, so that dead letters reach the disk promptly.
            let tick = ContinuousClock.now + .seconds(1)
            let chunk = await queue.receive(until: min(batcher.deadline ?? tick, tick))
            stats.heartbeat()
            if let chunk {
                offsets[chunk.source] = chunk.throughLine
                for tick in chunk.ticks {
                    try await commit(batcher.append(tick, now: .now))
                }
            } else if queue.isDrained {
                break
            }
            try await commit(batcher.due(now: .now))
            try deadLetters.flush()
            metrics.queueDepth.record(queue.depth + batcher.pending.count)
        }
        try await commit(batcher.flush())
        try deadLetters.flush()
    }
}

/// The PostgreSQL sink on a dedicated thread: every call to libpq happens there, one at a time.
final class SinkThread: Sendable {
    private let pool: NIOThreadPool
    // Used only from the pool's single thread, one call at a time.
    private nonisolated(unsafe) let sink: PostgresSink

    init(sink: PostgresSink, pool: NIOThreadPool) {
        self.sink = sink
        self.pool = pool
    }

    func write(_ batch: [KeyedTick], offsets: [String: Int]) async throws -> BatchResult {
        let batch = batch
        return try await pool.runIfActive { try self.sink.write(batch, offsets: offsets) }
    }
}

/// Counters of the running daemon (metrics arrive with issue 6; tests and logs read them now).
public final class DaemonStats: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// When the ingest loop last went round (it does at least once a second while healthy).
        public var heartbeat = ContinuousClock.now
        public var sources: [String: SourceCounts] = [:]
        public var batches = 0
        public var inserted = 0
    }
    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func heartbeat() { state.withLock { $0.heartbeat = .now } }

    func recordBatch(stored: Int) {
        state.withLock { s in
            s.batches += 1
            s.inserted += stored
        }
    }

    /// Adds what a finished connection or file counted.
    func recordSource(_ name: String, _ counts: SourceCounts) {
        state.withLock { $0.sources[name, default: SourceCounts()].add(counts) }
    }
}

/// `tickd_batches_total`, `tickd_rows_inserted_total`, `tickd_batch_duration_seconds` (histogram),
/// `tickd_queue_ticks` (ticks waiting between the sources and the database, the open batch included).
struct IngestMetrics: Sendable {
    let batches = Counter(label: "tickd_batches_total")
    let inserted = Counter(label: "tickd_rows_inserted_total")
    let batchDuration = Timer(label: "tickd_batch_duration_seconds")
    let queueDepth = Gauge(label: "tickd_queue_ticks")
}
