import Foundation
import Logging
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

/// Replays recorded feeds: read (plain/gz/zst/stdin) → frame → decode → normalise → batch →
/// PostgreSQL (nothing after normalise in a dry run). Rejects go to the dead-letter file.
public struct ReplayRunner {
    public let config: TickdConfig
    public let request: ReplayRequest
    /// The clock for the future-skew rule.
    public var clock: @Sendable () -> Timestamp = { Timestamp.now() }

    public init(config: TickdConfig, request: ReplayRequest) {
        self.config = config
        self.request = request
    }

    /// Where publisher messages go; tests may capture them.
    public var logger = Logger(label: "tickd.replay")
    public var publisherLogger = Logger(label: "tickd.redis")

    /// Runs the replay and returns the report. `onTick` sees every accepted tick in order;
    /// `onStored` every committed batch (what the Redis publisher is given).
    public func run(onTick: (Tick) throws -> Void = { _ in },
                    onStored: (BatchResult) throws -> Void = { _ in }) throws -> IngestReport {
        let started = ContinuousClock.now
        var sink: PostgresSink?
        var publisher: RedisPublisher?
        var known: Set<Symbol>?
        if !request.dryRun {
            let url = try config.requireDatabaseURL(for: "replay without --dry-run")
            let publishing = try config.publisherOptions()
            let database = try PostgresSink(conninfo: url, options: config.schemaOptions,
                                            maxBackoff: .milliseconds(config.retryMaxBackoffMilliseconds))
            if config.unknownSymbols == .reject { known = try database.knownSymbols() }
            sink = database
            if let publishing {
                publisher = RedisPublisher(options: publishing, logger: publisherLogger)
            } else {
                logger.warning("REDIS_URL is not set: publishing to Redis is off; ticks still go to the database")
            }
        }
        defer { publisher?.finish(timeout: .zero) }
        let normaliser = try config.makeNormaliser(now: clock(), known: known)
        let deadLetters = try DeadLetterFile(path: request.deadLetterPath ?? config.deadLetterPath)
        var report = IngestReport()
        report.dryRun = request.dryRun
        for path in request.files {
            var decoder = config.makeFeedDecoder(format: request.format, normaliser: normaliser)
            var framer = LineFramer(maxLineBytes: config.maxLineBytes)
            var keys = TradeKeyAssigner()
            var batcher = Batcher(maxTicks: config.batchMaxTicks, maxAge: .milliseconds(config.batchMaxAgeMilliseconds))
            let file = FeedFile(path: path)
            let source = file.sourceName
            var lastLine = 0
            func commit(_ batch: [KeyedTick]?) throws {
                guard let batch, let sink else { return }
                let result = try sink.write(batch, source: source, throughLine: lastLine)
                report.inserted += result.stored.count
                publisher?.enqueue(result)
                try onStored(result)
            }
            func handle(_ framed: FramedLine, _ number: Int) throws {
                lastLine = number
                switch framed {
                case .line(let line):
                    switch decoder.decode(line) {
                    case .tick(let tick):
                        report.read += 1
                        report.accepted += 1
                        try onTick(tick)
                        if sink != nil { try commit(batcher.append(keys.key(tick), now: .now)) }
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
                try commit(batcher.due(now: .now))
            }
            try framer.finish(handle)
            try commit(batcher.flush())
        }
        try deadLetters.flush()
        if let publisher {
            report.published = publisher.finish(timeout: .milliseconds(config.redisDrainTimeoutMilliseconds)).published
        }
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
