import LibPQ
import Logging
import Synchronization
import TickEngine
import TickModel
import TickNormalisation
import TickSinks

/// `tickd quarantine list|release`: the trades the price checks held back, and letting an
/// operator send them on through the normal path (stored, numbered, latest price, Redis).
public enum Quarantine {
    /// One held-back trade.
    public typealias Entry = QuarantineStore.HeldTrade

    /// The trades held now (not released), oldest first; only `ids` when given.
    public static func held(config: TickdConfig, ids: [Int64]? = nil) throws -> [Entry] {
        try QuarantineStore.held(on: DatabaseCommands.connect(config, purpose: "quarantine"), ids: ids)
    }

    /// What a release did.
    public struct Released: Sendable, Equatable {
        public var released = 0
        public var stored = 0
        public var published = 0
    }

    /// Writes the held trades `ids` (all when nil) through the engine, as one chunk, without the
    /// price checks and the trading holds — the operator vouched for them — publishes what was stored, and marks them
    /// released. Releasing twice stores nothing twice (a stored trade is unchanged the second time).
    public static func release(config: TickdConfig, ids: [Int64]?, logger: Logger = Logger(label: "tickd.quarantine")) async throws -> Released {
        let db = try DatabaseCommands.connect(config, purpose: "quarantine release")
        let entries = try QuarantineStore.held(on: db, ids: ids)
        guard !entries.isEmpty else { return Released() }
        let url = try config.requireDatabaseURL(for: "quarantine release")
        var options = config.schemaOptions
        // Nor the trading holds: a trade released while its instrument is still halted is stored,
        // its message flagged `halted`.
        options.priceCheck = PriceCheck(limitPercent: nil, tickSizes: nil, onHalted: .accept)
        let io = BlockingIO.start()
        do {
            let released = try await release(entries, on: db, config: config, url: url, options: options, io: io, logger: logger)
            await io.shutdown()
            return released
        } catch {
            await io.shutdown()
            throw DatabaseCommands.explainingPermission(error, command: .run, config: config)
        }
    }

    /// Writes held trades through the engine again with the configuration's checks (after a
    /// corporate action changed the band they broke): those that pass are stored, published and
    /// marked released; the rest stay held.
    static func recheck(_ entries: [Entry], config: TickdConfig, logger: Logger) async throws -> Released {
        guard !entries.isEmpty else { return Released() }
        let db = try DatabaseCommands.connect(config, purpose: "re-check held trades")
        let url = try config.requireDatabaseURL(for: "re-check held trades")
        let io = BlockingIO.start()
        do {
            let outcome = try await release(entries, on: db, config: config, url: url, options: config.schemaOptions, io: io, logger: logger,
                                            onlyStored: true)
            await io.shutdown()
            return outcome
        } catch {
            await io.shutdown()
            throw DatabaseCommands.explainingPermission(error, command: .run, config: config)
        }
    }

    private static func release(_ entries: [Entry], on db: Connection, config: TickdConfig, url: String, options: SchemaOptions,
                                io: BlockingIO, logger: Logger, onlyStored: Bool = false) async throws -> Released {
        let engine = try await EngineAssembly.open(config: config, url: url, io: io, options: options, logger: logger)
        return try await engine.using { engine in
            try await engine.recoverOutbox()
            let stored = Mutex(0)
            let pipeline = try await engine.pipeline(linger: nil, onCommitted: { result in stored.withLock { $0 += result.stored.count } },
                                                     logger: logger)
            async let ingest: Void = pipeline.run()
            await engine.queue.send(TickChunk(source: "quarantine release", throughLine: 0, ticks: entries.map(\.keyed)))
            engine.queue.finish()
            try await ingest
            _ = try await engine.flushCandles()
            var released = Released(released: entries.count, stored: stored.withLock { $0 })
            released.published = try await pipeline.finish()?.published ?? 0
            if onlyStored {
                released.released = try QuarantineStore.markReleasedWhereStored(entries.map(\.id), ticksTable: options.ticksTable, on: db)
            } else {
                try QuarantineStore.markReleased(entries.map(\.id), on: db)
            }
            logger.notice("released quarantined trades", metadata: ["released": "\(released.released)", "stored": "\(released.stored)",
                                                                     "published": "\(released.published)"])
            return released
        }
    }
}
