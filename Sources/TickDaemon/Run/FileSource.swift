import Blocking
import Foundation
import Logging
import TickEngine
import TickModel
import TickNormalisation
import TickSources

/// A recorded feed read into the pipeline — by `tickd replay`, and by the daemon's
/// `sources.files` — at its pace. File reads run on the I/O threads. When `resume` is on and the
/// file is a regular file, it resumes after what an earlier run committed of it (its position in
/// `tickd_positions`), and every chunk carries the file's position so that the batch that stores
/// its last tick records it.
struct FileSource: Sendable {
    /// Reads where a stream (`file:<path>`) of an identity was committed to.
    typealias PositionReader = @Sendable (_ stream: String, _ identity: String) async throws -> Int64?

    let path: String
    let speed: ReplaySpeed
    /// The decoder of the file (its source name comes from the reader: the path, or `stdin`).
    let makeDecoder: @Sendable (_ source: String) -> SourceDecoder
    /// Passes a chunk on; false when the pipeline takes no more (shutdown).
    let deliver: ChunkSink
    /// Where the file's committed position is read; nil: positions are off (dry run, filters).
    let positions: PositionReader?
    let io: BlockingIO
    var logger: Logger
    /// Sees every tick passed on, at its pace (tests, dry runs).
    var onTick: (@Sendable (Tick) -> Void)?
    /// Draws the replay's progress line on a terminal.
    var progress = false
    /// Counts into metrics and warns of reject storms (the daemon; a replay reports its counts).
    var observing = false
    /// Stops between chunks when this returns true (the daemon's graceful shutdown).
    var stopping: @Sendable () -> Bool = { false }
    let clock: @Sendable () -> Timestamp

    /// Reads the file to its end (or until `stopping`), and returns what its lines gave.
    func run() async throws -> SourceCounts {
        // Opening reads the file's head (its identity): on an I/O thread too.
        let opened = try await io.run { () -> Exclusive<FeedFileReader> in
            let reader = try FeedFileReader(path: path)
            _ = reader.identity
            return Exclusive(reader)
        }
        let (sourceName, identity, fileSize) = opened.withLock { ($0.sourceName, $0.identity, $0.fileSize) }
        var decoder = makeDecoder(sourceName)
        var stream: StreamPosition?
        if let positions, let identity {
            let name = FileStream.name(path)
            let applied = try await positions(name, identity) ?? 0
            stream = StreamPosition(stream: name, identity: identity, offset: applied)
            decoder.resumeAfter = applied
            if applied > 0 {
                logger.notice("resuming file after what an earlier run committed", metadata: ["file": "\(path)", "offset": "\(applied)"])
            }
        }
        var pacer = Pacer(speed: speed)
        var observer = SourceObserver(source: sourceName)
        var line = ProgressLine(enabled: progress)
        defer { line.finish() }
        func chunk(_ ticks: [KeyedTick], through end: Int64) -> TickChunk {
            var position = stream
            position?.offset = end
            return TickChunk(source: decoder.source, throughLine: decoder.lineNumber, ticks: ticks, position: position)
        }
        /// Passes `ticks` on at the file's pace; the last chunk's position is `end`, past every line read.
        func pass(_ ticks: [SourceTick], through end: Int64) async throws -> Bool {
            var keyed: [KeyedTick] = []
            keyed.reserveCapacity(ticks.count)
            var lastEnd = end
            for tick in ticks {
                if let due = pacer.due(tick.keyed.tick.time, now: .now) {
                    if !keyed.isEmpty {
                        guard await deliver(chunk(keyed, through: lastEnd)) else { return false }
                        keyed.removeAll()
                    }
                    try await Task.sleep(until: due, clock: .continuous)
                }
                onTick?(tick.keyed.tick)
                keyed.append(tick.keyed)
                lastEnd = tick.end
            }
            if let last = ticks.last {
                line.update(records: decoder.counts.read, feedTime: last.keyed.tick.time, bytesRead: opened.withLock { $0.bytesRead },
                            fileSize: fileSize, label: sourceName)
            }
            return await deliver(chunk(keyed, through: end))
        }
        var ended = false
        while !stopping() {
            guard let bytes = try await io.run({ try opened.withLock { try $0.next() } }) else {
                ended = true
                break
            }
            var ticks: [SourceTick] = []
            try bytes.withUnsafeBytes { try decoder.decode($0, now: clock()) { ticks.append($0) } }
            if observing { observer.observe(decoder.counts, logger: logger) }
            guard try await pass(ticks, through: decoder.lineEnd) else { break }
        }
        if ended {
            var last: [SourceTick] = []
            try decoder.finish { last.append($0) }
            _ = try await pass(last, through: decoder.lineEnd)
        }
        if observing {
            observer.observe(decoder.counts, logger: logger)
            observer.flushWarning(logger: logger)
        }
        return decoder.counts
    }
}

/// The stream name of a feed file in `tickd_positions`: `file:` and its absolute, resolved path.
enum FileStream {
    static func name(_ path: String) -> String {
        "file:" + URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
