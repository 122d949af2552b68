import TickCodecs
import TickModel

/// Where a source's rejected records go (the dead-letter file in tickd).
public protocol RejectRecorder: Sendable {
    /// Records one reject of `source` at `line`; `raw` is the line (or its kept prefix when
    /// `length` is larger); `header` the CSV header line it was read under, if any.
    func record(source: String, line: Int, reject: Reject, raw: UnsafeBufferPointer<UInt8>, length: Int?, header: [UInt8]?) throws
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
    /// Lines skipped because an earlier run already committed them (a resumed file).
    public var resumed = 0

    public init() {}

    /// Adds another source's (or connection's) counts to these.
    public mutating func add(_ other: SourceCounts) {
        read += other.read
        accepted += other.accepted
        filtered += other.filtered
        resumed += other.resumed
        for (reason, count) in other.rejectedByReason { rejectedByReason[reason, default: 0] += count }
    }
}

/// A tick as a source hands it on: keyed for storage, with where its line ends in the stream.
public struct SourceTick: Sendable {
    public var keyed: KeyedTick
    /// The stream offset just past the tick's line: once the tick is committed, a resumed read
    /// starts there.
    public var end: Int64

    public init(keyed: KeyedTick, end: Int64) {
        self.keyed = keyed
        self.end = end
    }
}

/// The per-source front of the pipeline: bytes → lines (with the length limit) → records →
/// ticks, rejects recorded, ticks filtered and keyed (`TradeKeyAssigner`), counts kept. One per
/// file or connection.
///
/// A resumed source (`resumeAfter` > 0) is read again from its start, so that its state — the CSV
/// header, the trade keys of same-instant trades — is what it was, but the lines that end at or
/// before `resumeAfter` (committed by an earlier run) are neither handed on nor dead-lettered.
public struct SourceDecoder {
    public let source: String
    public private(set) var counts = SourceCounts()
    /// Lines ending at or before this stream offset were committed before: skip them.
    public var resumeAfter: Int64 = 0
    /// The number of the last line handed out.
    public var lineNumber: Int { framer?.lineNumber ?? 0 }
    /// The stream offset just past the last line read.
    public var lineEnd: Int64 { framer?.lineEnd ?? 0 }
    private var keys = TradeKeyAssigner()
    /// Taken out while feeding (so the callback may mutate `self`), put back after.
    private var framer: LineFramer?
    private var decoder: FeedDecoder
    private let filter: TickFilter
    private let rejects: any RejectRecorder
    private let maxLineBytes: Int
    /// The connected publisher's entitlement: a record of a symbol it may not send is rejected
    /// (`not_entitled`); nil lets every symbol through.
    public var entitlement: Entitlement?

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
    public mutating func decode(_ chunk: UnsafeRawBufferPointer, now: Timestamp, _ tick: (SourceTick) throws -> Void) throws {
        decoder.normaliser.now = now
        var lines = framer.take()!
        defer { framer = lines }
        try lines.feed(chunk, withEnds: { framed, number, end in try handle(framed, number, end, tick) })
    }

    /// Hands out the last line when the input ended without a newline (end of file, or the peer
    /// closed the connection).
    public mutating func finish(_ tick: (SourceTick) throws -> Void) throws {
        var lines = framer.take()!
        defer { framer = lines }
        try lines.finish(withEnds: { framed, number, end in try handle(framed, number, end, tick) })
    }

    private mutating func handle(_ framed: FramedLine, _ number: Int, _ end: Int64,
                                 _ tick: (SourceTick) throws -> Void) throws {
        if end <= resumeAfter {
            // Committed by an earlier run: only the state moves on (header, trade keys).
            if case .line(let line) = framed {
                switch decoder.decode(line) {
                case .tick(let accepted):
                    counts.resumed += 1
                    if filter.isEmpty || filter.keeps(accepted) { _ = keys.key(accepted) }
                case .reject: counts.resumed += 1
                case .header, .blank: break
                }
            } else {
                counts.resumed += 1
            }
            return
        }
        switch framed {
        case .line(let line):
            switch decoder.decode(line) {
            case .tick(let accepted):
                counts.read += 1
                if let entitlement, !entitlement.allows(accepted.symbol) {
                    let reject = Reject(.notEntitled, "publisher \(entitlement.identity) may not send \(accepted.symbol.rawValue)")
                    counts.rejectedByReason[.notEntitled, default: 0] += 1
                    try rejects.record(source: source, line: number, reject: reject, raw: line, length: nil,
                                       header: line.first { $0 != 0x20 && $0 != 0x09 } == UInt8(ascii: "{") ? nil : decoder.csvHeader)
                    return
                }
                counts.accepted += 1
                if filter.isEmpty || filter.keeps(accepted) {
                    try tick(SourceTick(keyed: keys.key(accepted), end: end))
                } else {
                    counts.filtered += 1
                }
            case .reject(let reject):
                counts.read += 1
                counts.rejectedByReason[reject.reason, default: 0] += 1
                let isJSON = line.first { $0 != 0x20 && $0 != 0x09 } == UInt8(ascii: "{")
                try rejects.record(source: source, line: number, reject: reject, raw: line, length: nil,
                                   header: isJSON ? nil : decoder.csvHeader)
            case .header, .blank:
                break
            }
        case .overLong(let prefix, let length):
            counts.read += 1
            counts.rejectedByReason[.lineTooLong, default: 0] += 1
            let reject = Reject(.lineTooLong, "line of \(length) bytes is over the \(maxLineBytes)-byte limit")
            try rejects.record(source: source, line: number, reject: reject, raw: prefix, length: length, header: nil)
        }
    }
}
