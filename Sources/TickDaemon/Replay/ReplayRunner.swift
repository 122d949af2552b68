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
    /// Pace of the replay (`--speed`).
    public var speed: ReplaySpeed
    /// `--from`, `--to`, `--symbols`.
    public var filter: TickFilter
    /// Print a progress line on stderr (only when stderr is a terminal).
    public var progress: Bool
    /// Resume each file from the position an earlier replay of it committed (`--no-resume` turns
    /// it off). Only replays without filters record and use positions.
    public var resume: Bool

    public init(files: [String], format: FeedFormat? = nil, dryRun: Bool, deadLetterPath: String? = nil,
                speed: ReplaySpeed = .max, filter: TickFilter = TickFilter(), progress: Bool = false, resume: Bool = true) {
        self.resume = resume
        self.files = files
        self.format = format
        self.dryRun = dryRun
        self.deadLetterPath = deadLetterPath
        self.speed = speed
        self.filter = filter
        self.progress = progress
    }
}

/// Replays recorded feeds: read (plain/gz/zst/stdin) → frame → decode → normalise → filter →
/// pace → batch → PostgreSQL → Redis (nothing after filter in a dry run). Rejects go to the
/// dead-letter file. Runs on the calling thread (libpq and hiredis calls block, which is fine
/// for a one-shot command; the publisher has a thread of its own).
public struct ReplayRunner {
    public let config: TickdConfig
    public let request: ReplayRequest
    /// The clock for the future-skew rule.
    public var clock: @Sendable () -> Timestamp = { Timestamp.now() }
    public var logger = Logger(label: "tickd.replay")
    public var publisherLogger = Logger(label: "tickd.redis")

    public init(config: TickdConfig, request: ReplayRequest) {
        self.config = config
        self.request = request
    }

    /// Runs the replay and returns the report. `onTick` sees every tick that is passed on, in
    /// order and at its pace; `onStored` every committed batch (what the Redis publisher is given).
    public func run(onTick: (Tick) throws -> Void = { _ in },
                    onStored: (BatchResult) throws -> Void = { _ in }) throws -> IngestReport {
        let started = ContinuousClock.now
        var sink: PostgresSink?
        var writers: ParallelWriters?
        var publisher: RedisPublisher?
        var candles: CandleRefresher?
        var known: Set<Symbol>?
        if !request.dryRun {
            let url = try config.requireDatabaseURL(for: "replay without --dry-run")
            let publishing = try config.publisherOptions()
            let connect = { try PostgresSink(conninfo: url, options: self.config.schemaOptions,
                                             maxBackoff: .milliseconds(self.config.retryMaxBackoffMilliseconds)) }
            let database = try connect()
            if config.unknownSymbols == .reject { known = try database.knownSymbols() }
            sink = database
            if let publishing {
                publisher = RedisPublisher(options: publishing, logger: publisherLogger)
            } else {
                logger.warning("REDIS_URL is not set: publishing to Redis is off; ticks still go to the database")
            }
            try Outbox.recover(sink: database, publisher: publisher, logger: publisherLogger)
            var sinks = [database]
            for _ in 1..<config.databaseWriters {
                let more = try connect()
                more.publishingOff = database.publishingOff
                sinks.append(more)
            }
            candles = try config.candleRefresher(url: url)
            for writer in sinks { writer.candles = candles }
            writers = ParallelWriters(sinks: sinks, publisher: publisher)
        }
        defer {
            writers?.stop()
            candles?.stop()
            publisher?.finish(timeout: .zero)
        }
        let normaliser = try config.makeNormaliser(now: clock(), known: known)
        let deadLetters = try DeadLetterFile(path: request.deadLetterPath ?? config.deadLetterPath)
        for writer in writers?.sinks ?? [] { writer.rejects = deadLetters }   // trades the price checks reject
        var report = IngestReport()
        report.dryRun = request.dryRun
        var progress = ProgressLine(enabled: request.progress)

        for path in request.files {
            let reader = try FeedFileReader(path: path)
            var source = SourceDecoder(source: reader.sourceName, decoder: config.makeFeedDecoder(format: request.format, normaliser: normaliser),
                                       maxLineBytes: config.maxLineBytes, filter: request.filter, rejects: deadLetters)
            let lanes = writers?.count ?? 1
            // `sink` is writer 0's: used here only between files, while the writers are idle.
            let streams = try resumePoints(of: reader, path: path, sink: sink, writers: lanes)
            source.resumeAfter = streams.map(\.offset).min() ?? 0
            var batchers = (0..<lanes).map { _ in
                Batcher(maxTicks: config.batchMaxTicks, maxAge: .milliseconds(config.batchMaxAgeMilliseconds))
            }
            var pacer = Pacer(speed: request.speed)
            /// Per writer: just past the line of the last tick handed to its batcher, the position
            /// its next commit reaches.
            var batchedThrough = Array(repeating: source.resumeAfter, count: lanes)

            func collect(_ results: [BatchResult]) throws {
                for result in results {
                    report.inserted += result.stored.count
                    report.quarantined += result.quarantined
                    report.priceRejected += result.priceRejected
                    report.priceFlagged += result.priceFlagged
                    try onStored(result)
                }
            }
            func commit(_ batch: [KeyedTick]?, writer index: Int, through end: Int64) throws {
                guard let batch, let writers else { return }
                var progress = BatchProgress(lines: index == 0 ? [source.source: source.lineNumber] : [:])
                if streams.indices.contains(index) {
                    var position = streams[index]
                    position.offset = end
                    progress.positions[position.stream] = position
                }
                if let publisher {
                    progress.published = publisher.retirement.seqs.filter { writers.writer(of: $0.key) == index }
                }
                try writers.submit(ParallelWriters.Job(batch: batch, progress: progress), to: index)
                try collect(writers.takeResults())
            }
            func commitDue() throws {
                for index in 0..<lanes { try commit(batchers[index].due(now: .now), writer: index, through: batchedThrough[index]) }
            }
            func pass(_ next: SourceTick) throws {
                // Wait for the tick's time at the replay's pace, closing batches that come of age meanwhile.
                if let due = pacer.due(next.keyed.tick.time, now: .now) {
                    while ContinuousClock.now < due {
                        let wake = min(due, batchers.compactMap(\.deadline).min() ?? due)
                        if wake > .now { Thread.sleep(forTimeInterval: (wake - .now).seconds) }
                        try commitDue()
                    }
                }
                try onTick(next.keyed.tick)
                if let writers {
                    let index = writers.writer(of: next.keyed.tick.symbol)
                    batchedThrough[index] = next.end
                    try commit(batchers[index].append(next.keyed, now: .now), writer: index, through: next.end)
                }
                progress.update(records: report.read + source.counts.read, feedTime: next.keyed.tick.time,
                                bytesRead: reader.bytesRead, fileSize: reader.fileSize, label: reader.sourceName)
            }
            while let chunk = try reader.next() {
                var ticks: [SourceTick] = []
                try chunk.withUnsafeBytes { try source.decode($0, now: clock()) { ticks.append($0) } }
                for tick in ticks { try pass(tick) }
                try commitDue()
            }
            var last: [SourceTick] = []
            try source.finish { last.append($0) }
            for tick in last { try pass(tick) }
            // Every writer commits the rest and records the end of the file (lines after the last
            // tick — rejects, blanks — are done too).
            for index in 0..<lanes {
                let rest = batchers[index].flush()
                try commit(rest ?? (streams.isEmpty ? nil : []), writer: index, through: source.lineEnd)
            }
            if let writers { try collect(writers.drain()) }
            report.add(source.counts)
        }
        progress.finish()
        try deadLetters.flush()
        // The replay returns with every candle of what it stored materialised.
        if let candles {
            let refreshing = ContinuousClock.now
            try candles.flush()
            logger.info("candles refreshed", metadata: ["seconds": "\((ContinuousClock.now - refreshing).seconds)"])
        }
        if let publisher, let sink {
            report.published = publisher.finish(timeout: .milliseconds(config.redisDrainTimeoutMilliseconds)).published
            try sink.recordPublished(publisher.retirement.seqs)
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }
}

extension ReplayRunner {
    /// The stream positions of a file, one per writer, when positions apply: a database replay
    /// without filters of a regular file, `resume` on. Each offset is where that writer committed
    /// to in the last replay of the same file (same device, inode and head), 0 when it never did;
    /// the file resumes from the smallest (lines a writer already stored come again and change
    /// nothing). Empty when positions do not apply.
    func resumePoints(of reader: FeedFileReader, path: String, sink: PostgresSink?, writers: Int) throws -> [StreamPosition] {
        guard let sink, request.resume, request.filter.isEmpty, let identity = reader.identity else { return [] }
        let base = FileStream.name(path)
        let positions = try (0..<writers).map { index in
            let name = writers == 1 ? base : "\(base)#w\(index)"
            return StreamPosition(stream: name, identity: identity,
                                  offset: try sink.appliedPosition(stream: name, identity: identity) ?? 0)
        }
        if let from = positions.map(\.offset).min(), from > 0 {
            logger.notice("resuming file after what an earlier run committed", metadata: ["file": "\(path)", "offset": "\(from)"])
        }
        return positions
    }
}

extension IngestReport {
    /// Adds one source's counts.
    public mutating func add(_ counts: SourceCounts) {
        read += counts.read
        resumed += counts.resumed
        accepted += counts.accepted
        filtered += counts.filtered
        for (reason, count) in counts.rejectedByReason {
            rejected += count
            rejectedByReason[reason, default: 0] += count
        }
    }
}
