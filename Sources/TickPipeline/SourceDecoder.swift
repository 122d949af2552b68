import TickCodecs
import TickModel

/// Where a source's rejected records go (the dead-letter file in tickd).
public protocol RejectRecorder: Sendable {
    /// Records one reject of `source` at `line`; `raw` is the line (or its kept prefix when
    /// `length` is larger).
    func record(source: String, line: Int, reject: Reject, raw: UnsafeBufferPointer<UInt8>, length: Int?) throws
}

/// The counts of one source.
public struct SourceCounts: Sendable, Equatable {
    /// Records seen: lines that were neither blank nor a CSV header.
    public var read = 0
    public var accepted = 0
    /// Accepted, but left out by `--from/--to/--symbols`.
    public var filtered = 0
    public var rejectedByReason: [RejectReason: Int] = [:]
    public var rejected: Int { rejectedByReason.values.reduce(0, +) }

    public init() {}

    /// Adds another source's (or connection's) counts to these.
    public mutating func add(_ other: SourceCounts) {
        read += other.read
        accepted += other.accepted
        filtered += other.filtered
        for (reason, count) in other.rejectedByReason { rejectedByReason[reason, default: 0] += count }
    }
}

/// The per-source front of the pipeline: bytes → lines (with the length limit) → records →
/// ticks, rejects recorded, ticks filtered, counts kept. One per file or connection.
public struct SourceDecoder {
    public let source: String
    public private(set) var counts = SourceCounts()
    /// The number of the last line handed out.
    public var lineNumber: Int { framer?.lineNumber ?? 0 }
    /// Taken out while feeding (so the callback may mutate `self`), put back after.
    private var framer: LineFramer?
    private var decoder: FeedDecoder
    private let filter: TickFilter
    private let rejects: any RejectRecorder
    private let maxLineBytes: Int

    public init(source: String, decoder: FeedDecoder, maxLineBytes: Int, filter: TickFilter = TickFilter(),
                rejects: any RejectRecorder) {
        self.source = source
        self.decoder = decoder
        self.maxLineBytes = maxLineBytes
        self.filter = filter
        self.rejects = rejects
        framer = LineFramer(maxLineBytes: maxLineBytes)
    }

    /// Decodes a chunk of bytes; every accepted tick that passes the filter goes to `tick`.
    /// `now` is the clock for the future-skew rule.
    public mutating func decode(_ chunk: UnsafeRawBufferPointer, now: Timestamp, _ tick: (Tick) throws -> Void) throws {
        decoder.normaliser.now = now
        var lines = framer.take()!
        defer { framer = lines }
        try lines.feed(chunk) { framed, number in try handle(framed, number, tick) }
    }

    /// Hands out the last line when the input ended without a newline (end of file, or the peer
    /// closed the connection).
    public mutating func finish(_ tick: (Tick) throws -> Void) throws {
        var lines = framer.take()!
        defer { framer = lines }
        try lines.finish { framed, number in try handle(framed, number, tick) }
    }

    private mutating func handle(_ framed: FramedLine, _ number: Int, _ tick: (Tick) throws -> Void) throws {
        switch framed {
        case .line(let line):
            switch decoder.decode(line) {
            case .tick(let accepted):
                counts.read += 1
                counts.accepted += 1
                if filter.isEmpty || filter.keeps(accepted) { try tick(accepted) } else { counts.filtered += 1 }
            case .reject(let reject):
                counts.read += 1
                counts.rejectedByReason[reject.reason, default: 0] += 1
                try rejects.record(source: source, line: number, reject: reject, raw: line, length: nil)
            case .header, .blank:
                break
            }
        case .overLong(let prefix, let length):
            counts.read += 1
            counts.rejectedByReason[.lineTooLong, default: 0] += 1
            let reject = Reject(.lineTooLong, "line of \(length) bytes is over the \(maxLineBytes)-byte limit")
            try rejects.record(source: source, line: number, reject: reject, raw: prefix, length: length)
        }
    }
}
