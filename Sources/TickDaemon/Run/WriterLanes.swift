import Logging
import TickEngine
import TickModel
import TickNormalisation
import TickSinks

/// The database side of a pipeline, connected: `database.writers` lanes, the listed symbols (with
/// `unknown_symbols: reject`) and the candle refresher (TimescaleDB).
struct WriterLanes {
    let lanes: [WriterLane]
    let known: Set<Symbol>?
    let candles: CandleRefresher?

    /// Connects the lanes one by one on an I/O thread (each connection retries transient failures
    /// and fails fast on permanent ones), reads the listing, starts the candle refresher.
    /// `publishing`: whether a Redis publisher takes the stored ticks (otherwise each batch marks
    /// them published). `rejects` takes the trades the price checks reject.
    static func open(config: TickdConfig, url: String, publishing: Bool, rejects: DeadLetterFile, io: BlockingIO,
                     writers: Int? = nil, options: SchemaOptions? = nil) async throws -> WriterLanes {
        let options = options ?? config.schemaOptions
        let count = max(1, writers ?? config.databaseWriters)
        let (lanes, known, candles) = try await io.run { () -> ([WriterLane], Set<Symbol>?, CandleRefresher?) in
            var candles: CandleRefresher?
            var known: Set<Symbol>?
            // Each lane's thread owns its connection from here on.
            var lanes: [WriterLane] = []
            for index in 0..<count {
                let sink: PostgresSink
                do {
                    sink = try PostgresSink(conninfo: url, options: options,
                                            maxBackoff: .milliseconds(config.retryMaxBackoffMilliseconds),
                                            logger: Logger(label: index == 0 ? "tickd.postgres" : "tickd.postgres.\(index)"))
                    if index == 0 {
                        if config.unknownSymbols == .reject { known = try sink.knownSymbols() }
                        candles = try config.candleRefresher(url: url)
                    }
                } catch {
                    // Nothing opened so far outlives a failed start.
                    lanes.forEach { $0.stop() }
                    candles?.stop()
                    throw error
                }
                sink.publishingOff = !publishing
                sink.rejects = rejects
                sink.candles = candles
                lanes.append(WriterLane(index: index, sink: sink))
            }
            return (lanes, known, candles)
        }
        return WriterLanes(lanes: lanes, known: known, candles: candles)
    }

    /// Ends the lanes' threads and the candle refresher.
    func stop() {
        lanes.forEach { $0.stop() }
        candles?.stop()
    }
}
