/// A chunk of ticks from one source, with where it came from (for source offsets and positions).
public struct TickChunk: Sendable {
    public var source: String
    /// The source's last line in this chunk.
    public var throughLine: Int
    public var ticks: [KeyedTick]
    /// For a file source: its resumable position once this chunk is committed (identity and the
    /// stream offset just past the chunk's last line). Nil for TCP.
    public var position: StreamPosition?
    /// For a chunk journaled on receipt: its journal record number (LSN).
    public var journalRecord: UInt64?
    /// When tickd read it: a batch's age (`batch.linger_ms`, `batch.max_age_ms`) counts from the
    /// arrival of its oldest tick, not from when the batcher took it.
    public var arrived: ContinuousClock.Instant

    public init(source: String, throughLine: Int, ticks: [KeyedTick], position: StreamPosition? = nil,
                journalRecord: UInt64? = nil) {
        self.source = source
        self.throughLine = throughLine
        self.ticks = ticks
        self.position = position
        self.journalRecord = journalRecord
        arrived = .now
    }
}

/// How far a stream (a feed file, the journal) has been applied to the database: written in the
/// same transaction as the ticks, read back to resume after a crash.
public struct StreamPosition: Sendable, Equatable {
    /// The stream's name: `file:<path>` or `journal`.
    public var stream: String
    /// What the stream is, so that a position is never applied to another one (a file replaced
    /// under the same path, a journal directory started afresh).
    public var identity: String
    /// Files: the offset in the (decompressed) stream just past the last committed line.
    /// The journal: the last record applied, every earlier one applied too.
    public var offset: Int64

    public init(stream: String, identity: String, offset: Int64) {
        self.stream = stream
        self.identity = identity
        self.offset = offset
    }
}
