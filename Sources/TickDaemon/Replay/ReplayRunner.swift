import Foundation
import Logging
import Synchronization
import TickCodecs
import TickEngine
import TickModel
import TickNormalisation
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

/// Replays recorded feeds through the daemon's own engine (`Pipeline`), with file sources that
/// end: read (plain/gz/zst/stdin) → frame → decode → normalise → filter → pace → batch →
/// `database.writers` lanes → Redis. Files are read one after another. A dry run stops after the
/// filter. Rejects go to the dead-letter file.
public struct ReplayRunner: Sendable {
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
    public func run(onTick: (@Sendable (Tick) -> Void)? = nil,
                    onStored: (@Sendable (BatchResult) -> Void)? = nil) async throws -> IngestReport {
        let started = ContinuousClock.now
        let io = BlockingIO.start()
        do {
            var report = try await replay(io: io, onTick: onTick, onStored: onStored)
            await io.shutdown()
            report.seconds = (ContinuousClock.now - started).seconds
            return report
        } catch {
            await io.shutdown()
            throw DatabaseCommands.explainingPermission(error, command: .run, config: config)
        }
    }

    private func replay(io: BlockingIO, onTick: (@Sendable (Tick) -> Void)?,
                        onStored: (@Sendable (BatchResult) -> Void)?) async throws -> IngestReport {
        let deadLetters = try DeadLetterFile(path: request.deadLetterPath ?? config.deadLetterPath)
        var report = IngestReport()
        report.dryRun = request.dryRun
        guard !request.dryRun else {
            let normaliser = try config.makeNormaliser(now: clock(), known: nil)
            for path in request.files {
                report.add(try await fileSource(path, normaliser: normaliser, deadLetters: deadLetters, io: io,
                                                deliver: { _ in true }, positions: nil, onTick: onTick).run())
            }
            try await io.run { try deadLetters.flush() }
            return report
        }
        let url = try config.requireDatabaseURL(for: "replay without --dry-run")
        let engine = try await EngineAssembly.open(config: config, url: url, io: io, deadLetters: deadLetters, publisherLogger: publisherLogger,
                                                   logger: logger)
        return try await engine.using { engine in
            let first = engine.first
            try await engine.recoverOutbox()
            let normaliser = try config.makeNormaliser(now: clock(), known: engine.database.known)
            let queue = engine.queue
            let stored = Mutex(IngestReport())
            let pipeline = try await engine.pipeline(linger: nil, onCommitted: { result in
                stored.withLock { $0.addStored(result) }
                onStored?(result)
            }, logger: logger)
            // Positions apply to replays without filters (a filtered replay stores part of each line range).
            var positions: FileSource.PositionReader?
            if request.resume && request.filter.isEmpty {
                positions = { @Sendable stream, identity in
                    try await first.perform { try await $0.sink.appliedPosition(stream: stream, identity: identity) }
                }
            }
            let (files, positionReader) = (request.files, positions)
            let read = try await withThrowingTaskGroup(of: IngestReport?.self) { group in
                group.addTask {
                    do { try await pipeline.run() } catch {
                        queue.finish()   // the sources stop sending
                        throw error
                    }
                    return nil
                }
                group.addTask {
                    defer { queue.finish() }
                    var counts = IngestReport()
                    for path in files {
                        counts.add(try await fileSource(path, normaliser: normaliser, deadLetters: deadLetters, io: io,
                                                        deliver: { await queue.send($0) }, positions: positionReader, onTick: onTick).run())
                    }
                    return counts
                }
                var read: IngestReport?
                for try await part in group { if let part { read = part } }
                return read ?? IngestReport()
            }
            report.merge(read)
            report.merge(stored.withLock { $0 })
            // The replay returns with every candle of what it stored materialised.
            if engine.database.candles != nil {
                let refreshing = ContinuousClock.now
                _ = try await engine.flushCandles()
                logger.info("candles refreshed", metadata: ["seconds": "\((ContinuousClock.now - refreshing).seconds)"])
            }
            report.published = try await pipeline.finish()?.published ?? 0
            return report
        }
    }

    private func fileSource(_ path: String, normaliser: Normaliser, deadLetters: DeadLetterFile, io: BlockingIO, deliver: @escaping ChunkSink,
                            positions: FileSource.PositionReader?, onTick: (@Sendable (Tick) -> Void)?) -> FileSource {
        let (config, request) = (config, request)
        var source = FileSource(path: path, speed: request.speed, makeDecoder: { name in
            SourceDecoder(source: name, decoder: config.makeFeedDecoder(format: request.format, normaliser: normaliser),
                          maxLineBytes: config.maxLineBytes, filter: request.filter, rejects: deadLetters)
        }, deliver: deliver, positions: positions, io: io, logger: logger, clock: clock)
        source.onTick = onTick
        source.progress = request.progress
        return source
    }
}

extension IngestReport {
    /// Adds what a committed batch stored.
    mutating func addStored(_ result: BatchResult) {
        for stored in result.stored {
            switch stored.keyed.tick.action {
            case .trade: inserted += 1
            case .correct: corrected += 1
            case .cancel: cancelled += 1
            case .status: break
            }
        }
        if result.unknownTrades > 0 {
            unknownTrades += result.unknownTrades
            rejected += result.unknownTrades
            rejectedByReason[.unknownTrade, default: 0] += result.unknownTrades
        }
        statusChanges += result.statusChanges
        quarantined += result.quarantined
        priceRejected += result.priceRejected
        priceFlagged += result.priceFlagged
    }

    /// Adds the counts of `other` (a part of the same replay).
    mutating func merge(_ other: IngestReport) {
        read += other.read
        resumed += other.resumed
        accepted += other.accepted
        filtered += other.filtered
        rejected += other.rejected
        for (reason, count) in other.rejectedByReason { rejectedByReason[reason, default: 0] += count }
        inserted += other.inserted
        quarantined += other.quarantined
        priceRejected += other.priceRejected
        priceFlagged += other.priceFlagged
        corrected += other.corrected
        cancelled += other.cancelled
        unknownTrades += other.unknownTrades
        statusChanges += other.statusChanges
    }

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
