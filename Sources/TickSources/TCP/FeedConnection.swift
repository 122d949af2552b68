import Logging
import NIOCore
import TickModel
import TickNormalisation

/// Makes the decoder of a new connection or file: source name, record format, line limit.
public typealias DecoderFactory = @Sendable (_ source: String, _ format: FeedFormat, _ maxLineBytes: Int) -> SourceDecoder
/// Takes decoded ticks; suspends while the pipeline is full (that is the backpressure), and
/// returns false when tickd no longer takes input (shutting down).
public typealias ChunkSink = @Sendable (TickChunk) async -> Bool
/// Reports what a source did when it ends (a connection closes, a file is done).
public typealias CountsSink = @Sendable (_ source: String, _ counts: SourceCounts) -> Void

/// How a source is connected to the rest of tickd: how to decode, where ticks go, where its
/// counts go when it ends, the clock, and the logger. The same for every kind of source.
public struct SourceWiring: Sendable {
    public var makeDecoder: DecoderFactory
    public var deliver: ChunkSink
    public var report: CountsSink
    public var clock: @Sendable () -> Timestamp
    public var logger: Logger

    public init(makeDecoder: @escaping DecoderFactory, deliver: @escaping ChunkSink,
                report: @escaping CountsSink = { _, _ in }, clock: @escaping @Sendable () -> Timestamp, logger: Logger) {
        self.makeDecoder = makeDecoder
        self.deliver = deliver
        self.report = report
        self.clock = clock
        self.logger = logger
    }

    /// The same wiring with another logger label.
    public func logging(as label: String) -> SourceWiring {
        var copy = self
        copy.logger = Logger(label: label)
        return copy
    }
}

/// The reading loop shared by accepted and outgoing TCP connections: bytes → ticks → the
/// pipeline, with the line limit, CSV header per connection, and trade keys per connection.
struct FeedConnectionReader {
    var decoder: SourceDecoder
    var observer: SourceObserver
    let wiring: SourceWiring
    /// Called after a read that completed one or more lines (the listener's idle and eviction clock).
    let completedLines: (@Sendable () -> Void)?

    init(decoder: SourceDecoder, wiring: SourceWiring, completedLines: (@Sendable () -> Void)? = nil) {
        self.decoder = decoder
        self.wiring = wiring
        self.completedLines = completedLines
        observer = SourceObserver(source: decoder.source)
    }

    /// Reads until the peer closes or delivery is refused. Returns true when the peer closed
    /// (end of stream), false when tickd stopped taking input.
    mutating func read(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws -> Bool {
        for try await buffer in inbound {
            var ticks: [KeyedTick] = []
            let linesBefore = decoder.lineNumber
            try buffer.withUnsafeReadableBytes { bytes in
                try decoder.decode(bytes, now: wiring.clock()) { ticks.append($0.keyed) }
            }
            if decoder.lineNumber != linesBefore { completedLines?() }
            observer.observe(decoder.counts, logger: wiring.logger)
            if !ticks.isEmpty {
                guard await wiring.deliver(TickChunk(source: decoder.source, throughLine: decoder.lineNumber, ticks: ticks)) else {
                    return false
                }
            }
        }
        return true
    }

    /// The peer ended the stream: a last line without a newline is a record too.
    mutating func finish() async throws {
        var ticks: [KeyedTick] = []
        try decoder.finish { ticks.append($0.keyed) }
        observer.observe(decoder.counts, logger: wiring.logger)
        if !ticks.isEmpty { _ = await wiring.deliver(TickChunk(source: decoder.source, throughLine: decoder.lineNumber, ticks: ticks)) }
    }

    /// The connection ended: report the counts and any rejects not yet warned about.
    mutating func close() {
        observer.flushWarning(logger: wiring.logger)
        wiring.report(decoder.source, decoder.counts)
    }
}
