import CoreMetrics
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization
import TickModel
import TickJournal
import TickPipeline
import TickSinks

/// The consumer end of the pipeline: takes chunks from the queue, closes batches by size or
/// age, commits them through the PostgreSQL sink on a thread of its own (libpq blocks; it never
/// runs on Swift's cooperative pool), then hands them to the Redis publisher.
///
/// Each batch's transaction also records how far every stream is applied (`Progress`): the
/// journal's last contiguous record, file positions, the Redis outbox watermark. At start it
/// first applies the journal records the database has not seen.
///
/// It is the first service of the group, so on SIGTERM it is shut down last: by then every
/// source has stopped, and it drains the queue, commits the rest, publishes, and returns.
final class IngestService: Service {
    private let queue: TickQueue
    private let sink: SinkThread
    private let publisher: RedisPublisher?
    private let journal: Journal?
    private let maxTicks: Int
    private let maxAge: Duration
    private let linger: Duration?
    private let publishDrain: Duration
    private let deadLetters: DeadLetterFile
    private let logger: Logger
    let stats: DaemonStats
    private let metrics = IngestMetrics()
    /// Told of every tick received and every commit (trading session, staleness); nil: no session.
    private let watch: MarketWatch?
    /// Where file writes, fsyncs and waits run (not on the cooperative pool).
    private let io: BlockingIO

    init(queue: TickQueue, sink: SinkThread, publisher: RedisPublisher?, journal: Journal?, maxTicks: Int, maxAge: Duration,
         linger: Duration?, publishDrain: Duration, deadLetters: DeadLetterFile, stats: DaemonStats, watch: MarketWatch? = nil,
         io: BlockingIO, logger: Logger) {
        self.watch = watch
        self.io = io
        self.linger = linger
        self.deadLetters = deadLetters
        self.queue = queue
        self.sink = sink
        self.publisher = publisher
        self.journal = journal
        self.maxTicks = maxTicks
        self.maxAge = maxAge
        self.publishDrain = publishDrain
        self.stats = stats
        self.logger = logger
    }

    func run() async throws {
        var progress = try await ProgressTracker(journal: journal, sink: sink, logger: logger)
        try await withGracefulShutdownHandler {
            try await consume(&progress)
        } onGracefulShutdown: { [queue] in
            queue.finish()
        }
        let drain = publishDrain
        var published: PublisherStats?
        if let publisher { published = try await io.run { publisher.finish(timeout: drain) } }
        if let publisher { try await sink.recordPublished(publisher.retirement.seqs) }
        progress.releaseJournal(retired: publisher?.retirement.retired, io: io)
        if let journal { try await io.run { try journal.sync() } }
        logger.notice("ingest stopped", metadata: ["inserted": "\(stats.snapshot.inserted)",
                                                   "published": "\(published?.published ?? 0)"])
    }

    private func consume(_ progress: inout ProgressTracker) async throws {
        var batcher = Batcher(maxTicks: maxTicks, maxAge: maxAge, linger: linger)
        func commit(_ batch: [KeyedTick]?) async throws {
            guard let batch else { return }
            var written = progress.closeBatch()
            if let publisher { written.published = publisher.retirement.seqs }
            let started = ContinuousClock.now
            let result = try await sink.write(batch, progress: written)
            let took = ContinuousClock.now - started
            progress.committed()
            stats.recordBatch(stored: result.stored.count)
            metrics.batches.increment()
            metrics.inserted.increment(by: Int64(result.stored.count))
            metrics.batchDuration.recordNanoseconds(took.nanoseconds)
            // A Redis slower than the database slows ingest (the queue, then TCP) rather than losing messages.
            await publisher?.waitForRoom(for: result.stored.count)
            progress.published(ticket: publisher?.enqueue(result))
            watch?.committed(result)
        }
        func take(_ chunk: TickChunk) async throws {
            if chunk.ticks.isEmpty { progress.completed(chunk) } else { watch?.received() }
            for (index, tick) in chunk.ticks.enumerated() {
                // A chunk is applied once its last tick is: say so before that tick may close the batch.
                if index == chunk.ticks.count - 1 { progress.completed(chunk) }
                try await commit(batcher.append(tick, now: chunk.arrived))
            }
            // Bookkeeping with no tick left to carry it (a chunk of rejects, the end of a file).
            if batcher.pending.isEmpty && progress.hasOpenBookkeeping { try await commit([]) }
        }
        // First what the journal holds beyond the database's position (a crash or an outage).
        if let journal, let backlog = progress.journalBacklog(journal) {
            var replayed = 0
            let cursor = CursorOnIO(backlog)
            while let (lsn, chunk) = try await io.run({ try cursor.next() }) {
                var chunk = chunk
                chunk.journalRecord = lsn
                replayed += chunk.ticks.count
                try await take(chunk)
            }
            try await commit(batcher.flush())
            logger.notice("journal: applied the records the database had not seen", metadata: ["ticks": "\(replayed)"])
        }
        while true {
            // Wake at least once a second, so that dead letters and the journal reach the disk promptly.
            let tick = ContinuousClock.now + .seconds(1)
            let chunk = await queue.receive(until: min(batcher.idleDeadline ?? tick, tick))
            stats.heartbeat()
            if let chunk {
                try await take(chunk)
            } else if queue.isDrained {
                break
            }
            // Group commit: when nothing else is waiting, a batch need not wait for more.
            try await commit(batcher.due(now: .now, inputIdle: queue.depth == 0))
            try await io.run { [deadLetters, journal] in
                try deadLetters.flush()
                try journal?.syncIfDue()
            }
            progress.releaseJournal(retired: publisher?.retirement.retired, io: io)
            metrics.queueDepth.record(queue.depth + batcher.pending.count)
        }
        try await commit(batcher.flush())
        try await io.run { [deadLetters] in try deadLetters.flush() }
    }
}

/// What the next batch's transaction records besides its ticks, and how far the journal is
/// applied: a record counts once its last tick is committed, and the position written is the
/// last record before which every one is applied (records from several connections may arrive
/// out of order).
struct ProgressTracker {
    private let journalIdentity: String?
    private(set) var journalApplied: UInt64 = 0
    private var doneAhead = Set<UInt64>()
    private var open = BatchProgress()
    private var openRecords: [UInt64] = []
    private var closed: (records: [UInt64], applied: UInt64)?
    /// Journal positions waiting for the publisher: once it has retired `ticket`, `through` can go.
    private var releases: [(ticket: Int?, through: UInt64)] = []
    private let journal: Journal?

    init(journal: Journal?, sink: SinkThread, logger: Logger) async throws {
        self.journal = journal
        journalIdentity = journal?.identity
        if let journal {
            journalApplied = try await sink.appliedPosition(stream: "journal", identity: journal.identity).map { UInt64($0) } ?? 0
            if journalApplied > journal.recoveredThrough {
                // The database committed records the journal no longer holds: a power loss took
                // the unsynced tail (`fsync: interval` or `never`). Those records are stored; the
                // numbers after the journal's end are this run's new records, so the position
                // goes back to that end before any of them is applied (or replayed after a crash).
                logger.warning("journal: the database has applied records past the journal's end (an unsynced tail was lost); the position restarts at its end",
                               metadata: ["applied": "\(journalApplied)", "journal_end": "\(journal.recoveredThrough)"])
                try await sink.recordPosition(StreamPosition(stream: "journal", identity: journal.identity, offset: Int64(journal.recoveredThrough)))
                journalApplied = journal.recoveredThrough
            }
        }
    }

    /// The records to apply first, if the journal holds any the database has not seen.
    func journalBacklog(_ journal: Journal) -> JournalCursor? {
        journal.recoveredThrough > journalApplied ? journal.cursor(after: journalApplied, through: journal.recoveredThrough) : nil
    }

    var hasOpenBookkeeping: Bool { !open.positions.isEmpty || !openRecords.isEmpty }

    /// `chunk`'s last tick is in the open batch.
    mutating func completed(_ chunk: TickChunk) {
        open.lines[chunk.source] = chunk.throughLine
        if let position = chunk.position { open.positions[position.stream] = position }
        if let record = chunk.journalRecord { openRecords.append(record) }
    }

    /// The bookkeeping of the batch about to be written.
    mutating func closeBatch() -> BatchProgress {
        var progress = open
        open = BatchProgress()
        var applied = journalApplied
        var ahead = doneAhead.union(openRecords)
        while ahead.remove(applied + 1) != nil { applied += 1 }
        if let journalIdentity, applied > journalApplied {
            progress.positions["journal"] = StreamPosition(stream: "journal", identity: journalIdentity, offset: Int64(applied))
        }
        closed = (openRecords, applied)
        openRecords.removeAll()
        return progress
    }

    /// The batch written by `closeBatch` is committed.
    mutating func committed() {
        guard let closed else { return }
        doneAhead.formUnion(closed.records)
        doneAhead = doneAhead.filter { $0 > closed.applied }
        journalApplied = closed.applied
        self.closed = nil
    }

    /// The committed batch went to the publisher as `ticket` (nil: no publisher).
    mutating func published(ticket: Int?) {
        if journal != nil { releases.append((ticket, journalApplied)) }
    }

    /// Deletes journal segments whose records are applied and published (`retired` messages
    /// out), on an I/O thread (an unlink can wait for the disk).
    mutating func releaseJournal(retired: Int?, io: BlockingIO) {
        guard let journal else { return }
        var through: UInt64?
        while let first = releases.first, first.ticket == nil || first.ticket! <= (retired ?? Int.max) {
            through = first.through
            releases.removeFirst()
        }
        if let through { io.submit { journal.release(through: through) } }
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

    func write(_ batch: [KeyedTick], progress: BatchProgress) async throws -> BatchResult {
        let batch = batch
        return try await pool.runIfActive { try self.sink.write(batch, progress: progress) }
    }

    func knownSymbols() async throws -> Set<Symbol> {
        try await pool.runIfActive { try self.sink.knownSymbols() }
    }

    func lastTrades() async throws -> [Symbol: Timestamp] {
        try await pool.runIfActive { try self.sink.lastTrades() }
    }

    func databaseIdentity() async throws -> String {
        try await pool.runIfActive { try self.sink.databaseIdentity() }
    }

    func appliedPosition(stream: String, identity: String) async throws -> Int64? {
        try await pool.runIfActive { try self.sink.appliedPosition(stream: stream, identity: identity) }
    }

    func recordPosition(_ position: StreamPosition) async throws {
        try await pool.runIfActive { try self.sink.recordPosition(position) }
    }

    func recordPublished(_ published: [Symbol: Int64]) async throws {
        try await pool.runIfActive { try self.sink.recordPublished(published) }
    }

    /// Publishes what the database owes Redis from before this start (see `Outbox`).
    func recoverOutbox(publisher: RedisPublisher?, logger: Logger) async throws {
        try await pool.runIfActive { _ = try Outbox.recover(sink: self.sink, publisher: publisher, logger: logger) }
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

/// A journal cursor read on the I/O threads, one call at a time (the replay at start awaits each).
private final class CursorOnIO: @unchecked Sendable {
    private var cursor: JournalCursor
    init(_ cursor: JournalCursor) { self.cursor = cursor }
    func next() throws -> (UInt64, TickChunk)? { try cursor.next() }
}
