import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import TickEngine
import TickModel
import TickNormalisation
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

/// A recorded feed replayed into the running daemon at its configured pace (`FileSource`, as in
/// `tickd replay`): it resumes after what an earlier run committed of the same file, stops between
/// chunks on graceful shutdown, and once the file is done waits for shutdown like the other sources.
struct FileSourceService: Service, CustomStringConvertible {
    let path: String
    let format: FeedFormat
    let speed: ReplaySpeed
    let maxLineBytes: Int
    let wiring: SourceWiring
    let io: BlockingIO
    /// Where the file's committed position is read.
    let lane: WriterLane
    var logger: Logger { wiring.logger }

    var description: String { "file \(path)" }

    func run() async throws {
        let source = FileSource(path: path, speed: speed,
                                makeDecoder: { [wiring, format, maxLineBytes] in wiring.makeDecoder($0, format, maxLineBytes) },
                                deliver: wiring.deliver,
                                positions: { [lane] stream, identity in
                                    try await lane.perform { try await $0.sink.appliedPosition(stream: stream, identity: identity) }
                                },
                                io: io, logger: logger, observing: true, stopping: { Task.isShuttingDownGracefully }, clock: wiring.clock)
        logger.notice("replaying file", metadata: ["file": "\(path)", "speed": "\(speed)"])
        let counts = try await source.run()
        wiring.report(path == "-" ? "stdin" : path, counts)
        logger.notice("file done", metadata: ["file": "\(path)", "records": "\(counts.read)", "accepted": "\(counts.accepted)",
                                              "rejected": "\(counts.rejected)", "resumed": "\(counts.resumed)"])
        // A finished file leaves the daemon running; wait for shutdown like the other sources.
        try? await gracefulShutdown()
    }
}
