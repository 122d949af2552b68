import DequeModule
import TickModel
import TickNormalisation
import TickSinks

/// The pipeline's one acknowledgement ledger: which chunks are stored, and so what each batch's
/// transaction may record — file positions, the journal's applied record, the Redis outbox
/// watermark — and when journal segments may go. A value type with no I/O: the pipeline tells it
/// what happened (a chunk received, a lane's batch opened, closed, committed) and does what it
/// returns.
///
/// A chunk's ticks are split across writer lanes by symbol. A chunk counts as applied once every
/// lane has committed its part, and a stream's position only ever moves over applied chunks. A
/// batch's transaction records what will be applied once it commits: the chunks every other lane
/// has already committed its part of, as far as this lane's batch covers. Lanes commit in any
/// order, so a position written later may be lower than one written earlier; the database keeps
/// the higher (`tickd_positions` takes the greatest offset of the same stream identity).
struct AckLedger {
    typealias ChunkID = Int

    /// What a chunk leaves in the database besides its ticks.
    private struct Entry {
        var id: ChunkID
        var source: String
        var line: Int
        var position: StreamPosition?
        var journalRecord: UInt64?
        var hasBookkeeping: Bool { position != nil || journalRecord != nil }
    }

    private struct Lane {
        /// The first chunk with ticks in the open batch, nil while it is empty.
        var openFrom: ChunkID?
        /// Per closed, uncommitted batch (commit order), its first chunk; nil for an empty batch.
        var inFlight = Deque<ChunkID?>()
        /// The outbox watermark of the lane's symbols as its batches last carried it, and when.
        var watermark: [Symbol: Int64] = [:]
        var watermarkAt: ContinuousClock.Instant?
        /// Every part of chunks up to here is committed (or was never this lane's).
        func done(received: ChunkID) -> ChunkID {
            (inFlight.lazy.compactMap { $0 }.first ?? openFrom).map { $0 - 1 } ?? received
        }
    }

    let partition: SymbolPartition
    private let journalIdentity: String?
    /// The last chunk received.
    private(set) var received: ChunkID = 0
    /// Every chunk up to here is applied.
    private(set) var applied: ChunkID = 0
    /// Chunks not yet applied, or whose bookkeeping no batch has recorded yet, oldest first.
    private var pending = Deque<Entry>()
    private var lanes: [Lane]
    /// The highest chunk some batch recorded the bookkeeping of.
    private var recorded: ChunkID = 0
    /// The journal: every record up to `journalApplied` is committed; `journalAhead` are committed
    /// records beyond a gap (records of several connections arrive out of order).
    private(set) var journalApplied: UInt64
    private var journalAhead = Set<UInt64>()
    /// The highest journal position some batch recorded (or the database held at start).
    private var journalRecorded: UInt64
    /// Journal positions waiting for the publisher: once it has retired `ticket`, `through` can go.
    private var releases = Deque<(ticket: Int?, through: UInt64)>()
    private var highestTicket: Int?

    /// `journalApplied`: the journal record the database has applied everything up to, nil
    /// without a journal.
    init(partition: SymbolPartition, journalIdentity: String? = nil, journalApplied: UInt64 = 0) {
        self.partition = partition
        self.journalIdentity = journalIdentity
        self.journalApplied = journalApplied
        journalRecorded = journalApplied
        lanes = Array(repeating: Lane(), count: partition.count)
    }

    /// A chunk enters the pipeline; its ticks, split by `partition`, go to the lanes that come back.
    mutating func receive(_ chunk: TickChunk) -> (id: ChunkID, parts: [[KeyedTick]]) {
        received += 1
        pending.append(Entry(id: received, source: chunk.source, line: chunk.throughLine,
                             position: chunk.position, journalRecord: chunk.journalRecord))
        let parts = partition.split(chunk.ticks)
        for (lane, part) in parts.enumerated() where !part.isEmpty { opened(lane: lane, chunk: received) }
        return (received, parts)
    }

    private mutating func opened(lane: Int, chunk: ChunkID) {
        if lanes[lane].openFrom == nil { lanes[lane].openFrom = chunk }
    }

    /// Lane `lane`'s open batch closes at `now`: the bookkeeping its transaction records.
    /// `published` is the publisher's watermark; the lane records it for its own symbols only,
    /// those that moved since its batches last carried them, and at most once per
    /// `watermarkEvery` (an UPDATE in every batch cost a small batch a sixth of its database
    /// time). A watermark recorded late only means more is published again after a crash, never
    /// less; the stop records the final one. `continuing`: the batch closed halfway through that
    /// chunk's ticks, and the rest open the lane's next batch.
    mutating func close(lane: Int, published: [Symbol: Int64] = [:], at now: ContinuousClock.Instant? = nil,
                        continuing: ChunkID? = nil) -> BatchProgress {
        var through = lanes.indices.filter { $0 != lane }.map { lanes[$0].done(received: received) }.min() ?? received
        lanes[lane].inFlight.append(lanes[lane].openFrom)
        lanes[lane].openFrom = continuing
        if let continuing { through = min(through, continuing - 1) }
        recorded = max(recorded, through)
        defer { dropSettled() }
        var progress = BatchProgress()
        var journal = journalAhead
        for entry in pending where entry.id <= through {
            progress.lines[entry.source] = entry.line
            if let position = entry.position { progress.positions[position.stream] = position }
            if let record = entry.journalRecord { journal.insert(record) }
        }
        if let journalIdentity {
            var contiguous = journalApplied
            while journal.contains(contiguous + 1) { contiguous += 1 }
            // Commits may have moved `journalApplied` past what any batch recorded yet.
            if contiguous > journalRecorded {
                progress.positions["journal"] = StreamPosition(stream: "journal", identity: journalIdentity, offset: Int64(contiguous))
                journalRecorded = contiguous
            }
        }
        progress.published = watermark(lane: lane, published: published, at: now)
        return progress
    }

    /// How often a lane's batches carry the outbox watermark (`close`).
    static let watermarkEvery: Duration = .milliseconds(100)

    /// What of `published` lane `lane`'s batch closing at `now` carries (`close`).
    private mutating func watermark(lane: Int, published: [Symbol: Int64], at now: ContinuousClock.Instant?) -> [Symbol: Int64] {
        if let now, let last = lanes[lane].watermarkAt, now - last < Self.watermarkEvery { return [:] }
        let recorded = lanes[lane].watermark
        let moved = published.filter { symbol, seq in
            (partition.count == 1 || partition.lane(of: symbol) == lane) && seq > recorded[symbol] ?? Int64.min
        }
        guard !moved.isEmpty else { return [:] }
        lanes[lane].watermark.merge(moved) { _, new in new }
        lanes[lane].watermarkAt = now
        return moved
    }

    /// Lane `lane`'s oldest closed batch committed and went to the publisher as `ticket` (nil:
    /// no publisher).
    mutating func committed(lane: Int, ticket: Int?) {
        precondition(!lanes[lane].inFlight.isEmpty, "a commit on lane \(lane) with no batch in flight")
        lanes[lane].inFlight.removeFirst()
        if let ticket { highestTicket = max(highestTicket ?? ticket, ticket) }
        let now = lanes.map { $0.done(received: received) }.min() ?? received
        guard now > applied else { return }
        for entry in pending where entry.id > applied && entry.id <= now {
            if let record = entry.journalRecord { journalAhead.insert(record) }
        }
        applied = now
        dropSettled()
        guard journalIdentity != nil else { return }
        let before = journalApplied
        while journalAhead.remove(journalApplied + 1) != nil { journalApplied += 1 }
        // Tickets are taken after the commit, so the highest seen covers every commit counted.
        if journalApplied > before { releases.append((highestTicket, journalApplied)) }
    }

    /// Forgets the chunks that are applied and whose bookkeeping some batch recorded.
    private mutating func dropSettled() {
        while let first = pending.first, first.id <= min(applied, recorded) { pending.removeFirst() }
    }

    /// The journal record through which segments may be deleted now that the publisher retired
    /// `retired` messages (nil: no publisher), if that moved.
    mutating func releasable(retired: Int?) -> UInt64? {
        var through: UInt64?
        while let first = releases.first, first.ticket == nil || first.ticket! <= (retired ?? Int.max) {
            through = first.through
            releases.removeFirst()
        }
        return through
    }

    /// Whether an empty batch on lane 0 should carry bookkeeping that no tick carries (a chunk of
    /// rejects, the end of a file): every open batch is empty, and a position would move.
    var bookkeepingDue: Bool {
        guard lanes.allSatisfy({ $0.openFrom == nil }) else { return false }
        let through = lanes.indices.dropFirst().map { lanes[$0].done(received: received) }.min() ?? received
        guard through > recorded else { return false }
        return pending.contains { $0.id > recorded && $0.id <= through && $0.hasBookkeeping }
    }

    /// Whether every lane's batches are committed.
    var isIdle: Bool { lanes.allSatisfy { $0.openFrom == nil && $0.inFlight.isEmpty } }
}
