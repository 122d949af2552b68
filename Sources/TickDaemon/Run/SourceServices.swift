import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import TickModel
import TickPipeline
import TickSources

/// A TCP listener as a service: on graceful shutdown it stops accepting and closes connections.
struct ListenerService: Service, CustomStringConvertible {
    let server: TCPFeedServer
    var description: String { "listener \(server.options.name)" }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            server.shutdown()
        }
    }
}

/// An upstream connection as a service: reconnects until graceful shutdown.
struct UpstreamService: Service, CustomStringConvertible {
    let client: TCPFeedClient
    var description: String { "upstream \(client.options.name)" }

    func run() async throws {
        await withGracefulShutdownHandler {
            await client.run()
        } onGracefulShutdown: {
            client.shutdown()
        }
    }
}

/// A recorded feed replayed into the running daemon at its configured pace. File reads happen on
/// the I/O threads (`BlockingIO`); on graceful shutdown it stops between chunks. Like `tickd replay`, it resumes
/// after what an earlier run committed of the same file, and its chunks carry the file's position.
struct FileSourceService: Service, CustomStringConvertible {
    let path: String
    let format: FeedFormat?
    let speed: ReplaySpeed
    let defaultFormat: FeedFormat
    let maxLineBytes: Int
    let wiring: SourceWiring
    let pool: NIOThreadPool
    let sink: SinkThread
    var logger: Logger { wiring.logger }

    var description: String { "file \(path)" }

    func run() async throws {
        nonisolated(unsafe) let reader = try FeedFileReader(path: path)
        var decoder = wiring.makeDecoder(reader.sourceName, format ?? defaultFormat, maxLineBytes)
        var stream: StreamPosition?
        if let identity = reader.identity {
            let name = FileStream.name(path)
            let applied = try await sink.appliedPosition(stream: name, identity: identity) ?? 0
            stream = StreamPosition(stream: name, identity: identity, offset: applied)
            decoder.resumeAfter = applied
        }
        var pacer = Pacer(speed: speed)
        var observer = SourceObserver(source: reader.sourceName)
        logger.notice("replaying file", metadata: ["file": "\(path)", "speed": "\(speed)", "resume_offset": "\(decoder.resumeAfter)"])
        func chunk(_ ticks: [KeyedTick], through end: Int64) -> TickChunk {
            var position = stream
            position?.offset = end
            return TickChunk(source: decoder.source, throughLine: decoder.lineNumber, ticks: ticks, position: position)
        }
        func pass(_ ticks: [SourceTick], through end: Int64) async throws -> Bool {
            var keyed: [KeyedTick] = []
            var lastEnd = end
            for tick in ticks {
                if let due = pacer.due(tick.keyed.tick.time, now: .now) {
                    if !keyed.isEmpty {
                        guard await wiring.deliver(chunk(keyed, through: lastEnd)) else { return false }
                        keyed.removeAll()
                    }
                    try await Task.sleep(until: due, clock: .continuous)
                }
                keyed.append(tick.keyed)
                lastEnd = tick.end
            }
            // The whole chunk read: its position is past every line read, ticks or not.
            return await wiring.deliver(chunk(keyed, through: end))
        }
        while !Task.isShuttingDownGracefully, let bytes = try await pool.runIfActive({ try reader.next() }) {
            var ticks: [SourceTick] = []
            try bytes.withUnsafeBytes { try decoder.decode($0, now: wiring.clock()) { ticks.append($0) } }
            observer.observe(decoder.counts, logger: logger)
            guard try await pass(ticks, through: decoder.lineEnd) else { break }
        }
        if !Task.isShuttingDownGracefully {
            var last: [SourceTick] = []
            try decoder.finish { last.append($0) }
            _ = try await pass(last, through: decoder.lineEnd)
        }
        observer.observe(decoder.counts, logger: logger)
        observer.flushWarning(logger: logger)
        wiring.report(decoder.source, decoder.counts)
        logger.notice("file done", metadata: ["file": "\(path)", "records": "\(decoder.counts.read)",
                                              "accepted": "\(decoder.counts.accepted)", "rejected": "\(decoder.counts.rejected)",
                                              "resumed": "\(decoder.counts.resumed)"])
        // A finished file leaves the daemon running; wait for shutdown like the other sources.
        try? await gracefulShutdown()
    }
}

/// The stream name of a feed file in `tickd_positions`: `file:` and its absolute, resolved path.
enum FileStream {
    static func name(_ path: String) -> String {
        "file:" + URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
