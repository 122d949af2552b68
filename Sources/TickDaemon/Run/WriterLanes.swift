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
        var lanes: [WriterLane] = []
        var known: Set<Symbol>?
        var candles: CandleRefresher?
        do {
            for index in 0..<count {
                let (lane, listed) = try await io.run { () throws -> (WriterLane, Set<Symbol>?) in
                    let sink = try PostgresSink(conninfo: url, options: options,
                                                maxBackoff: .milliseconds(config.retryMaxBackoffMilliseconds),
                                                logger: Logger(label: index == 0 ? "tickd.postgres" : "tickd.postgres.\(index)"))
                    let listed = index == 0 && config.unknownSymbols == .reject ? try sink.knownSymbols() : nil
                    sink.publishingOff = !publishing
                    sink.rejects = rejects
                    // The lane's thread owns the connection from here on.
                    return (WriterLane(index: index, sink: sink), listed)
                }
                lanes.append(lane)
                if index == 0 {
                    known = listed
                    candles = try await config.candleRefresher(url: url)
                }
            }
            for lane in lanes { try await lane.perform { [candles] in $0.candles = candles } }
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
