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

    /// Connects the lanes one by one, each on its own thread (each connection retries transient failures
    /// and fails fast on permanent ones), reads the listing, starts the candle refresher.
    /// `publishing`: whether a Redis publisher takes the stored ticks (otherwise each batch marks
    /// them published). `rejects` takes the trades the price checks reject.
    static func open(config: TickdConfig, url: String, publishing: Bool, rejects: DeadLetterFile, io: BlockingIO,
                     writers: Int? = nil, options: SchemaOptions? = nil) async throws -> WriterLanes {
        let options = options ?? config.schemaOptions
        let count = max(1, writers ?? config.databaseWriters)
        var lanes: [WriterLane] = []
        var known: Set<Symbol>?
        var candles: CandleRefresher?
        do {
            for index in 0..<count {
                // The lane's thread owns the connection: it connects there, then runs its batches.
                let lane = WriterLane(index: index, sink: PostgresSink(conninfo: url, options: options,
                                                                       maxBackoff: .milliseconds(config.retryMaxBackoffMilliseconds),
                                                                       logger: Logger(label: index == 0 ? "tickd.postgres" : "tickd.postgres.\(index)")))
                lanes.append(lane)
                let listed = try await lane.perform { lane -> Set<Symbol>? in
                    try await lane.sink.connect()
                    lane.sink.publishingOff = !publishing
                    // Its symbols are this lane's alone: the lane's book follows them.
                    if publishing && config.redisLiveCandles { lane.sink.liveCandles = LiveCandleBook(zone: try config.exchangeZone()) }
                    lane.sink.rejects = rejects
                    return index == 0 && config.unknownSymbols == .reject ? try await lane.sink.knownSymbols() : nil
                }
                if index == 0 {
                    known = listed
                    candles = try await config.candleRefresher(url: url)
                }
            }
            for lane in lanes { try await lane.perform { [candles] in $0.sink.candles = candles } }
        } catch {
            // Nothing opened so far outlives a failed start.
            lanes.forEach { $0.stop() }
            candles?.stop()
            throw error
        }
        return WriterLanes(lanes: lanes, known: known, candles: candles)
    }

    /// Ends the lanes' threads and the candle refresher's, once the work given to them has run.
    func stop() {
        lanes.forEach { $0.stop() }
        candles?.stop()
    }
}
