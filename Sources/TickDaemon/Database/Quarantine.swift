import LibPQ
import Logging
import TickModel
import TickPipeline
import TickSinks

/// `tickd quarantine list|release`: the trades the price checks held back, and letting an
/// operator send them on through the normal path (stored, numbered, latest price, Redis).
public enum Quarantine {
    /// One held-back trade.
    public struct Entry: Sendable, Equatable {
        public var id: Int64
        public var keyed: KeyedTick
        public var violations: [String]
        public var previousClose: String?
        public var limitPercent: String?
        public var quarantinedAt: String
    }

    static let columns = """
        id, (extract(epoch FROM time) * 1000000)::int8, symbol, trade_seq, open::text, high::text, low::text, close::text,
        volume, array_to_string(violations, ','), previous_close::text, limit_percent::text, quarantined_at::text
        """

    /// The trades held now (not released), oldest first; only `ids` when given.
    public static func held(config: TickdConfig, ids: [Int64]? = nil) throws -> [Entry] {
        try held(on: DatabaseCommands.connect(config, purpose: "quarantine"), ids: ids)
    }

    static func held(on db: Connection, ids: [Int64]?) throws -> [Entry] {
        let filter = ids.map { "AND id = ANY('{\($0.map(String.init).joined(separator: ","))}'::int8[])" } ?? ""
        let rows: [[String?]]
        do {
            rows = try db.execute("SELECT \(columns) FROM tickd_quarantine WHERE released_at IS NULL \(filter) ORDER BY id").rows
        } catch {
            throw SinkError(table: "tickd_quarantine", underlying: error)
        }
        return rows.compactMap(entry)
    }

    static func entry(_ row: [String?]) -> Entry? {
        guard let id = row[0].flatMap({ Int64($0) }), let micros = row[1].flatMap({ Int64($0) }), let symbol = row[2],
              let tradeSeq = row[3].flatMap({ Int64($0) }), let open = row[4].flatMap(PostgresSink.price),
              let high = row[5].flatMap(PostgresSink.price), let low = row[6].flatMap(PostgresSink.price),
              let close = row[7].flatMap(PostgresSink.price), let volume = row[8].flatMap({ Int64($0) }) else { return nil }
        let tick = Tick(time: Timestamp(nanosecondsSinceEpoch: micros * 1000), symbol: Symbol(symbol),
                        open: open, high: high, low: low, close: close, volume: volume)
        return Entry(id: id, keyed: KeyedTick(tick: tick, tradeSeq: tradeSeq), violations: (row[9] ?? "").split(separator: ",").map(String.init),
                     previousClose: row[10], limitPercent: row[11], quarantinedAt: row[12] ?? "")
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
        let entries = try held(on: db, ids: ids)
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
        do {
            try db.execute("UPDATE tickd_quarantine SET released_at = now() WHERE id = ANY($1::int8[])",
                           ["{" + entries.map { String($0.id) }.joined(separator: ",") + "}"])
        } catch {
            throw SinkError(table: "tickd_quarantine", underlying: error)
        }
        logger.notice("released quarantined trades", metadata: ["released": "\(released.released)", "stored": "\(released.stored)",
                                                                 "published": "\(released.published)"])
        return released
    }
}
