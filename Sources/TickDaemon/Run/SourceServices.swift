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
/// the thread pool; on graceful shutdown it stops between chunks.
struct FileSourceService: Service, CustomStringConvertible {
    let path: String
    let format: FeedFormat?
    let speed: ReplaySpeed
    let defaultFormat: FeedFormat
    let maxLineBytes: Int
    let wiring: SourceWiring
    let pool: NIOThreadPool
    var logger: Logger { wiring.logger }

    var description: String { "file \(path)" }

    func run() async throws {
        nonisolated(unsafe) let reader = try FeedFileReader(path: path)
        var decoder = wiring.makeDecoder(reader.sourceName, format ?? defaultFormat, maxLineBytes)
        var keys = TradeKeyAssigner()
        var pacer = Pacer(speed: speed)
        var observer = SourceObserver(source: reader.sourceName)
        logger.notice("replaying file", metadata: ["file": "\(path)", "speed": "\(speed)"])
        func pass(_ ticks: [Tick]) async throws -> Bool {
            var keyed: [KeyedTick] = []
            for tick in ticks {
                if let due = pacer.due(tick.time, now: .now) {
                    if !keyed.isEmpty {
                        guard await wiring.deliver(TickChunk(source: decoder.source, throughLine: decoder.lineNumber, ticks: keyed)) else { return false }
                        keyed.removeAll()
                    }
                    try await Task.sleep(until: due, clock: .continuous)
                }
                keyed.append(keys.key(tick))
            }
            return await wiring.deliver(TickChunk(source: decoder.source, throughLine: decoder.lineNumber, ticks: keyed))
        }
        while !Task.isShuttingDownGracefully, let chunk = try await pool.runIfActive({ try reader.next() }) {
            var ticks: [Tick] = []
            try chunk.withUnsafeBytes { try decoder.decode($0, now: wiring.clock()) { ticks.append($0) } }
            observer.observe(decoder.counts, logger: logger)
            guard try await pass(ticks) else { break }
        }
        if !Task.isShuttingDownGracefully {
            var last: [Tick] = []
            try decoder.finish { last.append($0) }
            _ = try await pass(last)
        }
        observer.observe(decoder.counts, logger: logger)
        observer.flushWarning(logger: logger)
        wiring.report(decoder.source, decoder.counts)
        logger.notice("file done", metadata: ["file": "\(path)", "records": "\(decoder.counts.read)",
                                              "accepted": "\(decoder.counts.accepted)", "rejected": "\(decoder.counts.rejected)"])
        // A finished file leaves the daemon running; wait for shutdown like the other sources.
        try? await gracefulShutdown()
    }
}
