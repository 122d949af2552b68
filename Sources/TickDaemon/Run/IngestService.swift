import Logging
import ServiceLifecycle
import TickEngine

/// The pipeline as the daemon's first service: on SIGTERM the group shuts it down last, when
/// every source has stopped; it then drains the queue, commits the rest, publishes, and returns.
struct IngestService: Service, CustomStringConvertible {
    let pipeline: Pipeline
    let logger: Logger

    var description: String { "ingest" }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: { [queue = pipeline.queue] in
            queue.finish()
        }
        let published = try await pipeline.finish()
        logger.notice("ingest stopped", metadata: ["inserted": "\(pipeline.stats.snapshot.inserted)",
                                                   "published": "\(published?.published ?? 0)"])
    }
}
