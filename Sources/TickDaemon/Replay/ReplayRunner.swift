import Foundation
import TickCodecs
import TickModel
import TickPipeline
import TickSinks
import TickSources

/// What `tickd replay` was asked to do.
public struct ReplayRequest: Sendable {
    public var files: [String]
    /// Overrides `input.format` for these files.
    public var format: FeedFormat?
    public var dryRun: Bool
    /// Overrides `dead_letter.path`.
    public var deadLetterPath: String?

    public init(files: [String], format: FeedFormat? = nil, dryRun: Bool, deadLetterPath: String? = nil) {
        self.files = files
        self.format = format
        self.dryRun = dryRun
        self.deadLetterPath = deadLetterPath
    }
}

/// Replays recorded feeds: read (plain/gz/zst/stdin) → frame → decode → normalise; rejects go
/// to the dead-letter file; accepted ticks go to `sink` (nothing in a dry run).
public struct ReplayRunner {
    public let config: TickdConfig
    public let request: ReplayRequest
    /// The clock for the future-skew rule.
    public var clock: @Sendable () -> Timestamp = { Timestamp.now() }

    public init(config: TickdConfig, request: ReplayRequest) {
        self.config = config
        self.request = request
    }

    /// Runs the replay and returns the report. `sink` receives every accepted tick in order.
    public func run(sink: (Tick) throws -> Void = { _ in }) throws -> IngestReport {
        let started = ContinuousClock.now
        let normaliser = try config.makeNormaliser(now: clock())
        let deadLetters = try DeadLetterFile(path: request.deadLetterPath ?? config.deadLetterPath)
        var report = IngestReport()
        report.dryRun = request.dryRun
        for path in request.files {
            var decoder = config.makeFeedDecoder(format: request.format, normaliser: normaliser)
            var framer = LineFramer(maxLineBytes: config.maxLineBytes)
            let file = FeedFile(path: path)
            let source = file.sourceName
            func handle(_ framed: FramedLine, _ number: Int) throws {
                switch framed {
                case .line(let line):
                    switch decoder.decode(line) {
                    case .tick(let tick):
                        report.read += 1
                        report.accepted += 1
                        try sink(tick)
                    case .reject(let reject):
                        report.read += 1
                        report.countReject(reject.reason)
                        try deadLetters.record(source: source, line: number, reject: reject, raw: line)
                    case .header, .blank:
                        break
                    }
                case .overLong(let prefix, let length):
                    report.read += 1
                    report.countReject(.lineTooLong)
                    let reject = Reject(.lineTooLong, "line of \(length) bytes is over the \(config.maxLineBytes)-byte limit")
                    try deadLetters.record(source: source, line: number, reject: reject, raw: prefix, length: length)
                }
            }
            try file.read { chunk in
                decoder.normaliser.now = clock()
                try framer.feed(chunk, handle)
            }
            try framer.finish(handle)
        }
        try deadLetters.flush()
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }
}

extension Timestamp {
    /// The system clock now.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(secondsSinceEpoch: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }
}

extension Duration {
    /// The duration in seconds as a Double, for reports.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
