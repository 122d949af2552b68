import CoreMetrics
import Foundation
import LibPQ
import Logging
import TickModel
import TickPipeline

/// Writes batches of ticks to PostgreSQL/TimescaleDB through libpq.
///
/// One batch is one transaction: binary COPY into a session-private staging table, then the
/// upsert into `market_ticks` (with per-symbol sequence numbers), the `latest_price` /
/// `previous_close` update of `stocks`, and the source offset. A transient failure (connection
/// lost, serialization failure, shutdown, lack of resources — by SQLSTATE class) is retried
/// with capped exponential backoff on a fresh connection, so the batch is not lost; a permanent
/// one throws `SinkError`. Calls block: run them on a dedicated thread.
public final class PostgresSink {
    public let options: SchemaOptions
    public var logger: Logger
    /// First and largest pause between retries.
    public var initialBackoff: Duration = .milliseconds(100)
    public var maxBackoff: Duration
    /// How a retry waits; tests may shorten it.
    public var sleep: (Duration) -> Void = { Thread.sleep(forTimeInterval: $0.seconds) }
    /// Transient failures retried so far.
    public private(set) var retries = 0

    private let conninfo: String
    private let sql: BatchSQL
    private var connection: Connection?

    /// Connects (retrying transient failures) and prepares the staging table.
    public init(conninfo: String, options: SchemaOptions, maxBackoff: Duration = .seconds(5),
                logger: Logger = Logger(label: "tickd.postgres")) throws(SinkError) {
        self.conninfo = conninfo
        self.options = options
        self.maxBackoff = maxBackoff
        self.logger = logger
        sql = BatchSQL(options)
        try withRetries(table: "connection") { () throws(PostgresError) in _ = try self.connected() }
    }

    /// The symbols of `stocks`: the listed instruments for the unknown-symbol policy.
    public func knownSymbols() throws(SinkError) -> Set<Symbol> {
        try withRetries(table: options.stocksTable.description) { () throws(PostgresError) -> Set<Symbol> in
            let rows = try self.connected().execute("SELECT symbol FROM \(self.options.stocksTable.sql)").rows
            return Set(rows.compactMap { row in row[0].map { Symbol($0) } })
        }
    }

    /// Writes one batch (from `source`, which has now been read through line `throughLine`) and
    /// returns the ticks stored — new or changed rows — in per-symbol seq order, and the symbols
    /// whose latest price moved.
    public func write(_ batch: [KeyedTick], source: String, throughLine: Int) throws(SinkError) -> BatchResult {
        try write(batch, offsets: [source: throughLine])
    }

    /// Writes one batch whose ticks came from several sources; `offsets` gives, per source, the
    /// last line read into it.
    public func write(_ batch: [KeyedTick], offsets: [String: Int]) throws(SinkError) -> BatchResult {
        let ticks = Self.lastPerKey(batch)
        var copy = BinaryCopyWriter(capacity: ticks.count * 96 + 32)
        for keyed in ticks { Self.appendRow(keyed, to: &copy) }
        copy.finish()
        let byKey = Dictionary(ticks.map { (StorageKey($0), $0) }, uniquingKeysWith: { _, last in last })
        return try withRetries(table: options.ticksTable.description) { () throws(PostgresError) -> BatchResult in
            try self.writeOnce(copy.bytes, byKey: byKey, offsets: offsets)
        }
    }

    private func writeOnce(_ data: [UInt8], byKey: [StorageKey: KeyedTick],
                           offsets: [String: Int]) throws(PostgresError) -> BatchResult {
        let db = try connected()
        // The staging table is small and market_ticks large: a nested loop of index probes is
        // the right plan whatever the statistics say (a merge join would read the whole index).
        try db.execute("BEGIN; SET LOCAL enable_mergejoin = off; SET LOCAL enable_hashjoin = off")
        do throws(PostgresError) {
            do {
                try db.copyIn(sql.copy, bytes: data)
            } catch { throw error.during("copy into tickd_staging", table: "tickd_staging") }
            do {
                try db.execute(sql.deleteUnchanged)
            } catch { throw error.during("compare with \(options.ticksTable)", table: options.ticksTable.description) }
            let inserted: QueryResult
            do { inserted = try db.execute(sql.upsert) } catch {
                throw error.during("insert into \(options.ticksTable)", table: options.ticksTable.description)
            }
            let moved: QueryResult
            do { moved = try db.execute(sql.latest, [options.exchangeZone]) } catch {
                throw error.during("update \(options.stocksTable)", table: options.stocksTable.description)
            }
            do {
                // Stored rows are credited to the first source; the others advance their line only.
                for (index, source) in offsets.keys.sorted().enumerated() {
                    try db.execute(sql.offsets, [source, String(offsets[source]!), String(index == 0 ? inserted.rowCount : 0)])
                }
            } catch { throw error.during("update tickd_source_offsets", table: "tickd_source_offsets") }
            do { try db.execute("COMMIT") } catch { throw error.during("commit") }
            var stored: [StoredTick] = []
            stored.reserveCapacity(inserted.rowCount)
            for row in 0..<inserted.rowCount {
                guard let symbol = inserted.value(row: row, column: 0),
                      let micros = inserted.value(row: row, column: 1).flatMap({ Int64($0) }),
                      let tradeSeq = inserted.value(row: row, column: 2).flatMap({ Int64($0) }),
                      let seq = inserted.value(row: row, column: 3).flatMap({ Int64($0) }),
                      let keyed = byKey[StorageKey(symbol: Symbol(symbol), micros: micros, tradeSeq: tradeSeq)]
                else { continue }
                stored.append(StoredTick(keyed: keyed, seq: seq))
            }
            stored.sort { ($0.keyed.tick.symbol.rawValue, $0.seq) < ($1.keyed.tick.symbol.rawValue, $1.seq) }
            let latestMoved = Set((0..<moved.rowCount).compactMap { moved.value(row: $0, column: 0).map { Symbol($0) } })
            return BatchResult(stored: stored, latestMoved: latestMoved)
        } catch {
            if db.isOpen && db.isInTransaction { _ = try? db.execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs `body`, retrying transient failures with capped exponential backoff (reconnecting
    /// when the connection is gone); a permanent failure becomes `SinkError`.
    func withRetries<T>(table: String, _ body: () throws(PostgresError) -> T) throws(SinkError) -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch {
                guard error.isTransient else { throw SinkError(table: table, underlying: error) }
                attempt += 1
                retries += 1
                Counter(label: "tickd_database_retries_total").increment()
                if connection?.isOpen != true { connection = nil }
                let pause = backoff(attempt: attempt)
                logger.warning("database error, retrying", metadata: [
                    "sqlstate": "\(error.sqlState ?? "none")", "operation": "\(error.operation)",
                    "error": "\(error.message)", "attempt": "\(attempt)", "retry_in_ms": "\(pause.milliseconds)"])
                sleep(pause)
            }
        }
    }

    /// The pause before retry number `attempt` (1-based): doubling from `initialBackoff`, capped at `maxBackoff`.
    public func backoff(attempt: Int) -> Duration {
        var pause = initialBackoff
        for _ in 1..<attempt where pause < maxBackoff { pause *= 2 }
        return min(pause, maxBackoff)
    }

    private func connected() throws(PostgresError) -> Connection {
        if let connection, connection.isOpen { return connection }
        connection = nil
        let db = try Connection(conninfo: conninfo, defaults: ["fallback_application_name": "tickd", "connect_timeout": "10"])
        try db.execute(sql.createStaging)
        logger.info("connected to PostgreSQL", metadata: ["server_version": "\(db.serverVersion)", "pid": "\(db.backendPID)"])
        connection = db
        return db
    }

    /// The backend process of the current connection (tests terminate it to simulate a failure).
    public var backendPID: Int32? { connection?.backendPID }

    static func appendRow(_ keyed: KeyedTick, to copy: inout BinaryCopyWriter) {
        let tick = keyed.tick
        copy.beginRow(fields: 8)
        copy.appendTimestamp(tick.time)
        copy.appendText(tick.symbol.rawValue)
        copy.appendInt64(keyed.tradeSeq)
        copy.appendNumeric(tick.open)
        copy.appendNumeric(tick.high)
        copy.appendNumeric(tick.low)
        copy.appendNumeric(tick.close)
        copy.appendInt64(tick.volume)
    }

    /// One tick per storage key, the last one seen winning (a feed that resends a trade with
    /// corrected values), in the original order.
    static func lastPerKey(_ batch: [KeyedTick]) -> [KeyedTick] {
        var lastIndex: [StorageKey: Int] = [:]
        lastIndex.reserveCapacity(batch.count)
        for (index, keyed) in batch.enumerated() { lastIndex[StorageKey(keyed)] = index }
        if lastIndex.count == batch.count { return batch }
        return batch.enumerated().filter { lastIndex[StorageKey($0.element)] == $0.offset }.map(\.element)
    }
}

/// The unique key of `market_ticks`: (symbol, time in µs, trade_seq).
struct StorageKey: Hashable {
    let symbol: Symbol
    let micros: Int64
    let tradeSeq: Int64

    init(symbol: Symbol, micros: Int64, tradeSeq: Int64) {
        self.symbol = symbol
        self.micros = micros
        self.tradeSeq = tradeSeq
    }

    init(_ keyed: KeyedTick) {
        self.init(symbol: keyed.tick.symbol, micros: keyed.tick.time.nanosecondsSinceEpoch / 1000, tradeSeq: keyed.tradeSeq)
    }
}
