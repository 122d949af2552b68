import Blocking
import Logging
import Synchronization
import TickJournal
import TickModel
import TickNormalisation
import TickSinks

/// The one ingest engine of `tickd run` and `tickd replay`: sources → bounded `TickQueue` →
/// one batcher per writer lane (symbols partitioned) → `WriterLane`s, each committing on its own
/// connection and thread → Redis publisher. The consumer keeps building the next batches while
/// the lanes commit the last ones (each lane holds at most two). `AckLedger` decides what every
/// transaction records: file positions, the journal's applied record, the outbox watermark.
///
/// `run` consumes until the queue is finished and drained, then commits what is left; `finish`
/// drains the publisher, records its watermark, releases and syncs the journal. The lanes belong
/// to the caller (`WriterLanes.stop`).
public final class Pipeline: Sendable {
    public struct Settings: Sendable {
        public var maxTicks: Int
        public var maxAge: Duration
        /// Group commit: a batch closes after `linger` when nothing else is waiting (nil: off).
        public var linger: Duration?
        /// How long `finish` waits for Redis to take the backlog.
        public var publishDrain: Duration

        public init(maxTicks: Int, maxAge: Duration, linger: Duration?, publishDrain: Duration) {
            self.maxTicks = maxTicks
            self.maxAge = maxAge
            self.linger = linger
            self.publishDrain = publishDrain
        }
    }

    public let queue: TickQueue
    public let lanes: [WriterLane]
    public let publisher: RedisPublisher?
    public let journal: Journal?
    public let settings: Settings
    let deadLetters: DeadLetterFile
    let io: BlockingIO
    public let stats: DaemonStats
    /// Told of every tick received and every commit (trading session, staleness).
    let watch: (any TradeWatch)?
    /// Every committed batch, on its lane's thread, after it went to the publisher.
    let onCommitted: (@Sendable (BatchResult) -> Void)?
    let logger: Logger
    private let ledger: Mutex<AckLedger>
    private let failure = Mutex<SinkError?>(nil)
    private let metrics = IngestMetrics()

    /// Sets up the ledger: with a journal, from where the database has applied it to.
    public init(queue: TickQueue, lanes: [WriterLane], publisher: RedisPublisher?, journal: Journal?, settings: Settings,
         deadLetters: DeadLetterFile, io: BlockingIO, stats: DaemonStats = DaemonStats(), watch: (any TradeWatch)? = nil,
         onCommitted: (@Sendable (BatchResult) -> Void)? = nil, logger: Logger) async throws {
        precondition(!lanes.isEmpty)
        self.queue = queue
        self.lanes = lanes
        self.publisher = publisher
        self.journal = journal
        self.settings = settings
        self.deadLetters = deadLetters
        self.io = io
        self.stats = stats
        self.watch = watch
        self.onCommitted = onCommitted
        self.logger = logger
        let partition = SymbolPartition(count: lanes.count)
        // A lane that becomes free may take the batch its symbols have been collecting.
        for lane in lanes { lane.whenFree { [queue] in queue.wake() } }
        guard let journal else {
            ledger = Mutex(AckLedger(partition: partition))
            return
        }
        let identity = journal.identity
        var applied = try await lanes[0].perform { try await $0.sink.appliedPosition(stream: "journal", identity: identity) }.map { UInt64($0) } ?? 0
        if applied > journal.recoveredThrough {
            // The database committed records the journal no longer holds: a power loss took the
            // unsynced tail (`fsync: interval` or `never`). Those records are stored; the numbers
            // after the journal's end are this run's new records, so the position goes back to
            // that end before any of them is applied (or replayed after a crash).
            logger.warning("journal: the database has applied records past the journal's end (an unsynced tail was lost); the position restarts at its end",
                           metadata: ["applied": "\(applied)", "journal_end": "\(journal.recoveredThrough)"])
            let end = StreamPosition(stream: "journal", identity: identity, offset: Int64(journal.recoveredThrough))
            try await lanes[0].perform { try await $0.sink.resetPosition(end) }
            applied = journal.recoveredThrough
        }
        ledger = Mutex(AckLedger(partition: partition, journalIdentity: identity, journalApplied: applied))
    }

    /// Consumes the queue until it is finished and drained (first, what the journal holds beyond
    /// the database's position), and returns once every batch is committed. Each lane's batches
    /// are run by a child task (`WriterLane.serve`); a failure or a cancellation ends them.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for lane in lanes { group.addTask { await lane.serve() } }
            group.addTask { [queue] in
                while (try? await Task.sleep(for: Self.wakeEvery)) != nil { queue.wake() }
            }
            defer {
                lanes.forEach { $0.endServing() }
                group.cancelAll()
            }
            try await consume()
        }
    }

    /// How often a child task wakes the consumer, which then looks at its batches' deadlines and
    /// does its housekeeping. A deadline nearer than this gets a timer of its own; one further
    /// off (`max_age_ms`) is looked at again at these wakes, and gets its timer once it is. A timer
    /// per wait (`Task.sleep`, libdispatch's `dispatch_after`) woke libdispatch's timer thread
    /// 2,600 times a second at 1,000 ticks/s.
    static let wakeEvery: Duration = .milliseconds(50)

    private func consume() async throws {
        var batchers = lanes.map { _ in Batcher(maxTicks: settings.maxTicks, maxAge: settings.maxAge, linger: settings.linger) }
        if let journal, let backlog = ledger.withLock({ $0.journalBacklog(journal) }) {
            var replayed = 0
            let cursor = Exclusive(backlog)
            while let (lsn, chunk) = try await io.run({ try cursor.withLock { try $0.next() } }) {
                var chunk = chunk
                chunk.journalRecord = lsn
                replayed += chunk.ticks.count
                try await take(chunk, into: &batchers)
            }
            try await flush(&batchers)
            logger.notice("journal: applied the records the database had not seen", metadata: ["ticks": "\(replayed)"])
        }
        var housekept = ContinuousClock.now
        while true {
            // Wake for the next chunk; every `wakeEvery` (the periodic wake), so that dead letters
            // and the journal reach the disk promptly; when a free lane's batch may close
            // (linger), or a busy one's must (max age), if that is nearer than the periodic wake;
            // and when a lane becomes free (`TickQueue.wake`).
            let due = lanes.indices.compactMap { lanes[$0].isFree ? batchers[$0].idleDeadline : batchers[$0].deadline }.min()
            let chunk = await queue.receive(until: due.flatMap { $0 - .now < Self.wakeEvery ? $0 : nil })
            stats.heartbeat()
            try throwFailure()
            // A cancelled service group ends the loop (what is not committed stays journaled or
            // unread, as after a crash).
            try Task.checkCancellation()
            if let chunk {
                try await take(chunk, into: &batchers)
            } else if queue.isDrained {
                break
            }
            // Group commit: a lane that is free takes its batch once it is `linger` old; a busy
            // lane's batch keeps growing until the lane is free (or it is full, or `max_age` old),
            // so batches grow with the database's commit time instead of queueing up small. While
            // the queue holds enough ticks to fill a batch, it does not close on age (`Batcher.due`).
            let waiting = queue.depth
            for lane in lanes.indices {
                if let batch = batchers[lane].due(now: .now, writerFree: lanes[lane].isFree, waiting: waiting) {
                    try await submit(batch, to: lane)
                }
            }
            if ledger.withLock({ $0.bookkeepingDue }) { try await submit([], to: 0) }
            if ContinuousClock.now - housekept >= .milliseconds(50) {
                housekept = .now
                try await io.run { [deadLetters, journal] in
                    try deadLetters.flush()
                    try journal?.syncIfDue()
                }
                releaseJournal()
                metrics.queueDepth.record(queue.depth + batchers.reduce(0) { $0 + $1.pending.count })
            }
        }
        try await flush(&batchers)
        try await io.run { [deadLetters] in try deadLetters.flush() }
    }

    /// After `run`: waits up to the drain timeout for a connected Redis to take the backlog
    /// (one that is down is not waited for: its backlog stays owed in the outbox, and the wait
    /// would only push the stop past the shutdown deadline), records the watermark, releases
    /// applied and published journal segments, syncs the journal.
    public func finish() async throws -> PublisherStats? {
        var published: PublisherStats?
        if let publisher {
            let drain = settings.publishDrain
            published = await publisher.finish(timeout: drain, whileUnreachable: false)
            let seqs = publisher.retirement.seqs
            try await lanes[0].perform { try await $0.sink.recordPublished(seqs) }
        }
        releaseJournal()
        try await journal?.sync()
        return published
    }

    private func take(_ chunk: TickChunk, into batchers: inout [Batcher]) async throws {
        if !chunk.ticks.isEmpty { watch?.received() }
        let (id, parts) = ledger.withLock { $0.receive(chunk) }
        for (lane, part) in parts.enumerated() {
            for (index, tick) in part.enumerated() {
                guard let batch = batchers[lane].append(tick, now: chunk.arrived) else { continue }
                // The rest of the chunk's ticks for this lane open its next batch.
                try await submit(batch, to: lane, continuing: index < part.count - 1 ? id : nil)
            }
        }
        // Bookkeeping with no tick left to carry it (a chunk of rejects, the end of a file).
        if ledger.withLock({ $0.bookkeepingDue }) { try await submit([], to: 0) }
    }

    /// Commits every open batch and waits for every lane; then the bookkeeping no batch carried.
    private func flush(_ batchers: inout [Batcher]) async throws {
        for lane in lanes.indices {
            if let batch = batchers[lane].flush() { try await submit(batch, to: lane) }
        }
        while true {
            for lane in lanes { await lane.idle() }
            try throwFailure()
            guard ledger.withLock({ $0.bookkeepingDue }) else { return }
            try await submit([], to: 0)
        }
    }

    private func submit(_ batch: [KeyedTick], to lane: Int, continuing: AckLedger.ChunkID? = nil) async throws {
        try throwFailure()
        let seqs = publisher?.retirement.seqs ?? [:]
        // Room in the Redis backlog first, so that a Redis slower than the database slows ingest
        // here, on the pipeline's task, rather than losing messages.
        if let publisher, !batch.isEmpty { await publisher.reserveRoom(for: batch.count) }
        let now = ContinuousClock.now
        let progress = ledger.withLock { $0.close(lane: lane, published: seqs, at: now, continuing: continuing) }
        let queued = await lanes[lane].submit { [self] writer in await commit(batch, progress: progress, lane: lane, on: writer) }
        // A lane that no longer serves (the pipeline is ending) never commits it.
        if !queued, let publisher, !batch.isEmpty { publisher.release(reserved: batch.count) }
    }

    /// On the lane: the transaction (suspended while a retry waits out its backoff), then the
    /// publisher (the room was reserved), then the ledger.
    private func commit(_ batch: [KeyedTick], progress: BatchProgress, lane: Int, on writer: isolated WriterLane) async {
        let result: BatchResult
        do {
            try throwFailure()
            let started = ContinuousClock.now
            result = try await writer.sink.write(batch, progress: progress)
            metrics.batchDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        } catch {
            failure.withLock { if $0 == nil { $0 = error } }
            if !batch.isEmpty { publisher?.release(reserved: batch.count) }
            return
        }
        metrics.batches.increment()
        // Rows new or changed: a cancel's message writes none.
        metrics.inserted.increment(by: Int64(result.stored.count { $0.keyed.tick.action != .cancel }))
        var ticket: Int?
        if let publisher { ticket = publisher.enqueue(result, reserved: batch.count) }
        ledger.withLock { $0.committed(lane: lane, ticket: ticket) }
        stats.recordBatch(stored: result.stored.count)
        watch?.committed(result)
        onCommitted?(result)
        releaseJournal()
    }

    /// Deletes journal segments whose records are applied and published, on an I/O thread (only
    /// when a segment is done: after most batches none is, and the hop would be for nothing).
    private func releaseJournal() {
        guard let journal else { return }
        let retired = publisher?.retirement.retired
        guard let through = ledger.withLock({ $0.releasable(retired: retired) }) else { return }
        let released = journal.detachReleased(through: through)
        if !released.isEmpty { io.submit { journal.delete(released) } }
    }

    private func throwFailure() throws(SinkError) {
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// What a pipeline tells of the trades it handles (the daemon's trading-session and staleness
/// watch): a chunk with ticks received, a batch committed. Called on any thread; must not block.
public protocol TradeWatch: Sendable {
    func received()
    func committed(_ result: BatchResult)
}

extension AckLedger {
    /// The records to apply first, if the journal holds any the database has not seen.
    func journalBacklog(_ journal: Journal) -> JournalCursor? {
        journal.recoveredThrough > journalApplied ? journal.cursor(after: journalApplied, through: journal.recoveredThrough) : nil
    }
}
