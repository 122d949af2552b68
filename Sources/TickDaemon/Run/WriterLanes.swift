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
        let opened = try await io.run { () -> OnOneTask<([PostgresSink], Set<Symbol>?, CandleRefresher?)> in
            var sinks: [PostgresSink] = []
            for index in 0..<count {
                let sink = try PostgresSink(conninfo: url, options: options,
                                            maxBackoff: .milliseconds(config.retryMaxBackoffMilliseconds),
                                            logger: Logger(label: index == 0 ? "tickd.postgres" : "tickd.postgres.\(index)"))
                sink.publishingOff = !publishing
                sink.rejects = rejects
                sinks.append(sink)
            }
            let known = config.unknownSymbols == .reject ? try sinks[0].knownSymbols() : nil
            let candles = try config.candleRefresher(url: url)
            for sink in sinks { sink.candles = candles }
            return OnOneTask((sinks, known, candles))
        }
        let (sinks, known, candles) = opened.value
        return WriterLanes(lanes: sinks.enumerated().map { WriterLane(index: $0.offset, sink: $0.element) }, known: known, candles: candles)
    }

    /// Ends the lanes' threads and the candle refresher.
    func stop() {
        lanes.forEach { $0.stop() }
        candles?.stop()
    }
}
