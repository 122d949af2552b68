import LibPQ
import Logging
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

    /// Writes the held trades `ids` (all when nil) without the price checks — the operator
    /// vouched for them — publishes what was stored, and marks them released. Releasing twice
    /// stores nothing twice (a stored trade is unchanged the second time).
    public static func release(config: TickdConfig, ids: [Int64]?, logger: Logger = Logger(label: "tickd.quarantine")) throws -> Released {
        let db = try DatabaseCommands.connect(config, purpose: "quarantine release")
        let entries = try QuarantineStore.held(on: db, ids: ids)
        guard !entries.isEmpty else { return Released() }
        let url = try config.requireDatabaseURL(for: "quarantine release")
        var options = config.schemaOptions
        options.priceCheck = PriceCheck(limitPercent: nil, tickSizes: nil)
        let sink = try PostgresSink(conninfo: url, options: options, maxBackoff: .milliseconds(config.retryMaxBackoffMilliseconds))
        let publisher = try config.publisherOptions().map { RedisPublisher(options: $0, logger: Logger(label: "tickd.redis")) }
        try Outbox.recover(sink: sink, publisher: publisher, logger: Logger(label: "tickd.redis"))
        sink.candles = try config.candleRefresher(url: url)
        defer { sink.candles?.stop() }
        let result = try sink.write(entries.map(\.keyed), source: "quarantine release", throughLine: 0)
        publisher?.enqueue(result)
        var released = Released(released: entries.count, stored: result.stored.count)
        if let publisher {
            released.published = publisher.finish(timeout: .milliseconds(config.redisDrainTimeoutMilliseconds)).published
            try sink.recordPublished(publisher.retirement.seqs)
        }
        try sink.candles?.flush()
        try QuarantineStore.markReleased(entries.map(\.id), on: db)
        logger.notice("released quarantined trades", metadata: ["released": "\(released.released)", "stored": "\(released.stored)",
                                                                 "published": "\(released.published)"])
        return released
    }
}
