import Logging
import TickEngine
import TickJournal
import TickNormalisation
import TickSinks

/// The engine as every command that stores ticks assembles it from the configuration — `tickd
/// run`, `tickd replay` (and so `tickd redrive`) and `tickd quarantine release` — written once:
/// the dead-letter file, the Redis publisher (off without `REDIS_URL`, with one warning), the
/// writer lanes with the listing and the candle refresher, the queue, and the pipeline over them.
struct EngineAssembly {
    let config: TickdConfig
    let io: BlockingIO
    let deadLetters: DeadLetterFile
    let publisher: RedisPublisher?
    let publisherLogger: Logger
    let database: WriterLanes
    let queue: TickQueue
    var first: WriterLane { database.lanes[0] }

    /// Opens the parts: `deadLetters` when the caller has the file open already (else
    /// `dead_letter.path`), `options` to replace the configuration's schema options (a
    /// quarantine release turns the price checks off), `publisherLogger` for the publisher's lines.
    static func open(config: TickdConfig, url: String, io: BlockingIO, deadLetters: DeadLetterFile? = nil, options: SchemaOptions? = nil,
                     publisherLogger: Logger = Logger(label: "tickd.redis"), logger: Logger) async throws -> EngineAssembly {
        // A bad REDIS_URL (exit 2) stops the command before anything is opened.
        let publishing = try config.publisherOptions()
        let deadLetters = try deadLetters ?? DeadLetterFile(path: config.deadLetterPath)
        let publisher = publishing.map { RedisPublisher(options: $0, logger: publisherLogger) }
        if publisher == nil { logger.warning("REDIS_URL is not set: publishing to Redis is off; ticks still go to the database") }
        do {
            let database = try await WriterLanes.open(config: config, url: url, publishing: publisher != nil, rejects: deadLetters, io: io,
                                                      options: options)
            return EngineAssembly(config: config, io: io, deadLetters: deadLetters, publisher: publisher, publisherLogger: publisherLogger,
                                  database: database,
                                  queue: TickQueue(capacity: config.maxQueuedTicks))
        } catch {
            await publisher?.finish(timeout: .zero)
            throw error
        }
    }

    /// Queues on Redis the stored ticks nobody published (a tickd stopped between a commit and Redis).
    func recoverOutbox() async throws {
        try await first.perform { [publisher, publisherLogger] in _ = try await Outbox.recover(sink: $0.sink, publisher: publisher, logger: publisherLogger) }
    }

    /// The pipeline over these parts; `linger` is group commit, for live feeds.
    func pipeline(journal: Journal? = nil, linger: Duration?, stats: DaemonStats = DaemonStats(), watch: (any TradeWatch)? = nil,
                  onCommitted: (@Sendable (BatchResult) -> Void)? = nil, logger: Logger) async throws -> Pipeline {
        let settings = Pipeline.Settings(maxTicks: config.batchMaxTicks, maxAge: .milliseconds(config.batchMaxAgeMilliseconds),
                                         linger: linger, publishDrain: .milliseconds(config.redisDrainTimeoutMilliseconds))
        return try await Pipeline(queue: queue, lanes: database.lanes, publisher: publisher, journal: journal, settings: settings,
                                  deadLetters: deadLetters, io: io, stats: stats, watch: watch, onCommitted: onCommitted, logger: logger)
    }

    /// Refreshes the candles of what was stored (TimescaleDB), waiting up to `timeout` (nil: no
    /// limit); false when the time ran out.
    func flushCandles(timeout: Duration? = nil) async throws -> Bool {
        guard let candles = database.candles else { return true }
        return try await candles.flush(timeout: timeout)
    }

    /// Ends the lanes, the candle refresher and the publisher's thread (what it still holds stays
    /// owed in the outbox; after `Pipeline.finish` it holds nothing).
    func stop() async {
        database.stop()
        await publisher?.finish(timeout: .zero)
    }

    /// Runs `body` with the engine, then stops it, whether `body` returned or threw.
    func using<T>(_ body: (EngineAssembly) async throws -> T) async throws -> T {
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body(self)) } catch { outcome = .failure(error) }
        await stop()
        return try outcome.get()
    }
}
