import CoreMetrics
import Foundation
import LibPQ
import Logging
import TickCodecs
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
    /// Batches stored by the merge path (staging table, unchanged-row check, upsert) rather than
    /// COPY straight into the ticks table: replays of stored data, corrected trades.
    public private(set) var mergedBatches = 0
    /// True when nothing publishes on Redis: every stored seq then counts as published at once,
    /// so that turning publishing on later does not send history.
    public var publishingOff = false
    /// Fault injection for tests: runs just before COMMIT is sent and right after it succeeded;
    /// throwing from it stands for a connection lost at that moment.
    public var commitFault: ((CommitPhase, Connection) throws(PostgresError) -> Void)?

    /// Where `commitFault` is called.
    public enum CommitPhase: Sendable { case beforeCommit, afterCommit }

    private let conninfo: String
    private let sql: BatchSQL
    private var connection: Connection?
    /// Batches still to take the merge path after the fast path met stored ticks, and how many
    /// times in a row it did (the pause doubles, up to 64 batches).
    private var mergeBatchesLeft = 0
    private var mergeStreak = 0

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
        try write(batch, progress: BatchProgress(lines: [source: throughLine]))
    }

    /// Writes one batch and, in the same transaction, the bookkeeping of `progress`: source lines,
    /// stream positions, the Redis outbox watermark.
    ///
    /// When the connection is lost during COMMIT, the outcome is unknown: the sink then asks the
    /// server for the fate of that transaction (`txid_status`) on a new connection, and either
    /// returns the batch as committed or writes it again — never both, never neither.
    public func write(_ batch: [KeyedTick], progress: BatchProgress) throws(SinkError) -> BatchResult {
        let ticks = Self.lastPerKey(batch)
        var uncertain: (transaction: String, result: BatchResult)?
        return try withRetries(table: options.ticksTable.description) { () throws(PostgresError) -> BatchResult in
            if let pending = uncertain {
                let status = try self.connected().execute(BatchSQL.transactionStatus, [pending.transaction]).value(row: 0, column: 0)
                switch status {
                case "committed":
                    uncertain = nil
                    self.logger.warning("database: the commit's acknowledgement was lost, but the batch was committed",
                                        metadata: ["transaction": "\(pending.transaction)", "stored": "\(pending.result.stored.count)"])
                    return pending.result
                case "in progress":
                    throw PostgresError(sqlState: "40001", message: "transaction \(pending.transaction) still in progress",
                                        operation: "commit status")
                default:
                    uncertain = nil
                    self.logger.warning("database: the batch was not committed, writing it again",
                                        metadata: ["transaction": "\(pending.transaction)", "status": "\(status ?? "unknown")"])
                }
            }
            return try self.writeOnce(ticks, progress: progress) { uncertain = ($0, $1) }
        }
    }

    private func writeOnce(_ ticks: [KeyedTick], progress: BatchProgress,
                           committing: (String, BatchResult) -> Void) throws(PostgresError) -> BatchResult {
        let db = try connected()
        // The staging table is small and market_ticks large: a nested loop of index probes is
        // the right plan whatever the statistics say (a merge join would read the whole index).
        let transaction: String
        do {
            transaction = try db.execute("BEGIN; SET LOCAL enable_mergejoin = off; SET LOCAL enable_hashjoin = off; \(BatchSQL.transactionID)")
                .value(row: 0, column: 0) ?? ""
        }
        do throws(PostgresError) {
            // A batch of bookkeeping only (a file's end, the outbox watermark) has nothing to store.
            let result = ticks.isEmpty ? BatchResult() : try store(ticks, on: db)
            try record(progress, stored: result.stored.count, on: db)
            committing(transaction, result)
            try commitFault?(.beforeCommit, db)
            do { try db.execute("COMMIT") } catch { throw error.during("commit") }
            try commitFault?(.afterCommit, db)
            return result
        } catch {
            if db.isOpen && db.isInTransaction { _ = try? db.execute("ROLLBACK") }
            throw error
        }
    }

    /// The ticks of a batch, inside its transaction: stored by the fast path when they are all
    /// new, by the merge path otherwise; then the latest prices move. Returns what was stored.
    private func store(_ ticks: [KeyedTick], on db: Connection) throws(PostgresError) -> BatchResult {
        var fast: [StoredTick]? = nil
        if mergeBatchesLeft > 0 {
            mergeBatchesLeft -= 1
        } else {
            fast = try storeNew(ticks, on: db)
        }
        let all: [StoredTick]
        if let fast { all = fast } else { all = try storeMerging(ticks, on: db) }
        let newest = SeqNumbering.newest(all)
        guard !newest.isEmpty else { return BatchResult() }
        let moved: QueryResult
        do {
            moved = try db.execute(sql.latest, [
                options.exchangeZone, Self.textArray(newest.map(\.tick.symbol.rawValue)),
                "{" + newest.map { $0.tick.time.rfc3339(fractionDigits: 6) }.joined(separator: ",") + "}",
                "{" + newest.map { String($0.tradeSeq) }.joined(separator: ",") + "}",
                "{" + newest.map { $0.tick.close.description }.joined(separator: ",") + "}",
            ])
        } catch { throw error.during("update \(options.stocksTable)", table: options.stocksTable.description) }
        let latestMoved = Set((0..<moved.rowCount).compactMap { moved.value(row: $0, column: 0).map { Symbol($0) } })
        return BatchResult(stored: all, latestMoved: latestMoved)
    }

    /// The fast path: takes each symbol's seqs and COPYs the numbered rows straight into the
    /// ticks table, inside a savepoint. Returns nil, with the savepoint rolled back, when a tick
    /// is already stored (the unique key refuses the COPY); the next few batches then go
    /// straight to the merge path (a replay of stored data would otherwise pay twice).
    private func storeNew(_ ticks: [KeyedTick], on db: Connection) throws(PostgresError) -> [StoredTick]? {
        let numbering = SeqNumbering(ticks)
        try db.execute("SAVEPOINT tickd_new")
        let counters: QueryResult
        do {
            counters = try db.execute(sql.reserveSeqs, [Self.textArray(numbering.symbols),
                                                        "{" + numbering.counts.map(String.init).joined(separator: ",") + "}"])
        } catch { throw error.during("update tickd_symbol_seq", table: "tickd_symbol_seq") }
        var lastSeqs: [Symbol: Int64] = [:]
        for row in counters.rows {
            if let symbol = row[0], let last = row[1].flatMap({ Int64($0) }) { lastSeqs[Symbol(symbol)] = last }
        }
        guard let stored = numbering.stored(lastSeqs: lastSeqs) else {
            throw PostgresError(sqlState: "XX000", message: "a symbol's seq counter was not returned", operation: "update tickd_symbol_seq")
        }
        var copy = BinaryCopyWriter(capacity: stored.count * 100 + 32)
        for tick in stored { Self.appendRow(tick.keyed, seq: tick.seq, to: &copy) }
        copy.finish()
        do {
            try db.copyIn(sql.copyNew, bytes: copy.bytes)
        } catch where error.sqlState == "23505" {
            try db.execute("ROLLBACK TO SAVEPOINT tickd_new")
            mergeStreak = min(mergeStreak + 1, 6)
            mergeBatchesLeft = 1 << mergeStreak
            return nil
        } catch { throw error.during("copy into \(options.ticksTable)", table: options.ticksTable.description) }
        try db.execute("RELEASE SAVEPOINT tickd_new")
        mergeStreak = 0
        return stored
    }

    /// The merge path: COPY into staging, drop the unchanged, upsert the rest with seq numbers.
    private func storeMerging(_ ticks: [KeyedTick], on db: Connection) throws(PostgresError) -> [StoredTick] {
        mergedBatches += 1
        Counter(label: "tickd_database_merge_batches_total").increment()
        var copy = BinaryCopyWriter(capacity: ticks.count * 96 + 32)
        for keyed in ticks { Self.appendRow(keyed, seq: nil, to: &copy) }
        copy.finish()
        do {
            try db.copyIn(sql.copy, bytes: copy.bytes)
        } catch { throw error.during("copy into tickd_staging", table: "tickd_staging") }
        do {
            try db.execute(sql.deleteUnchanged)
        } catch { throw error.during("compare with \(options.ticksTable)", table: options.ticksTable.description) }
        let inserted: QueryResult
        do { inserted = try db.execute(sql.upsert) } catch {
            throw error.during("insert into \(options.ticksTable)", table: options.ticksTable.description)
        }
        let byKey = Dictionary(ticks.map { (StorageKey($0), $0) }, uniquingKeysWith: { _, last in last })
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
        return stored
    }

    /// Source lines, stream positions and the outbox watermark, inside the batch's transaction.
    private func record(_ progress: BatchProgress, stored: Int, on db: Connection) throws(PostgresError) {
        do {
            // Stored rows are credited to the first source; the others advance their line only.
            for (index, source) in progress.lines.keys.sorted().enumerated() {
                try db.execute(sql.offsets, [source, String(progress.lines[source]!), String(index == 0 ? stored : 0)])
            }
        } catch { throw error.during("update tickd_source_offsets", table: "tickd_source_offsets") }
        do {
            for position in progress.positions.values.sorted(by: { $0.stream < $1.stream }) {
                try db.execute(sql.position, [position.stream, position.identity, String(position.offset)])
            }
        } catch { throw error.during("update tickd_positions", table: "tickd_positions") }
        do {
            if publishingOff {
                try db.execute(sql.markAllPublished)
            } else if !progress.published.isEmpty {
                let pairs = progress.published.sorted { $0.key.rawValue < $1.key.rawValue }
                try db.execute(sql.published, [Self.textArray(pairs.map(\.key.rawValue)), "{" + pairs.map { String($0.value) }.joined(separator: ",") + "}"])
            }
        } catch { throw error.during("update tickd_symbol_seq", table: "tickd_symbol_seq") }
    }

    /// Records the Redis outbox watermark alone (when no batch is due to carry it: at exit).
    public func recordPublished(_ published: [Symbol: Int64]) throws(SinkError) {
        guard !published.isEmpty, !publishingOff else { return }
        _ = try write([], progress: BatchProgress(published: published))
    }

    /// Where `stream` was applied to, if it was and it is still the same stream (`identity`).
    public func appliedPosition(stream: String, identity: String) throws(SinkError) -> Int64? {
        try withRetries(table: "tickd_positions") { () throws(PostgresError) -> Int64? in
            let row = try self.connected().execute(self.sql.readPosition, [stream]).rows.first
            guard let row, row[0] == identity, let applied = row[1].flatMap({ Int64($0) }) else { return nil }
            return applied
        }
    }

    /// Stored ticks that were never published on Redis (tickd stopped before they went out),
    /// oldest first per symbol, at most `limit`; `latestMoved` names the symbols whose newest
    /// tick is among them. Publish them before anything new.
    public func unpublished(limit: Int) throws(SinkError) -> BatchResult {
        try withRetries(table: options.ticksTable.description) { () throws(PostgresError) -> BatchResult in
            let rows = try self.connected().execute(self.sql.unpublished, [String(limit)])
            var result = BatchResult()
            for row in 0..<rows.rowCount {
                let text = { (column: Int) in rows.value(row: row, column: column) ?? "" }
                guard let micros = Int64(text(1)), let tradeSeq = Int64(text(2)), let volume = Int64(text(7)),
                      let seq = Int64(text(8)), let open = Self.price(text(3)), let high = Self.price(text(4)),
                      let low = Self.price(text(5)), let close = Self.price(text(6)) else { continue }
                let symbol = Symbol(text(0))
                let tick = Tick(time: Timestamp(nanosecondsSinceEpoch: micros * 1000), symbol: symbol,
                                open: open, high: high, low: low, close: close, volume: volume)
                result.stored.append(StoredTick(keyed: KeyedTick(tick: tick, tradeSeq: tradeSeq), seq: seq))
                if text(9) == "t" { result.latestMoved.insert(symbol) }
            }
            return result
        }
    }

    /// Gives up on publishing what is owed (more than a backlog holds): marks every stored seq
    /// as published and returns, per symbol, the seq range that was skipped.
    public func skipUnpublished() throws(SinkError) -> [(symbol: Symbol, seqs: ClosedRange<Int64>)] {
        try withRetries(table: "tickd_symbol_seq") { () throws(PostgresError) -> [(symbol: Symbol, seqs: ClosedRange<Int64>)] in
            let rows = try self.connected().execute(self.sql.skipUnpublished).rows
            return rows.compactMap { row in
                guard let symbol = row[0], let low = row[1].flatMap({ Int64($0) }), let high = row[2].flatMap({ Int64($0) }) else { return nil }
                return (Symbol(symbol), low...high)
            }.sorted { $0.symbol.rawValue < $1.symbol.rawValue }
        }
    }

    /// A numeric as PostgreSQL prints it, read back exactly.
    static func price(_ text: String) -> Price? {
        var text = text
        return text.withUTF8 { if case .value(let price) = DecimalText.parse($0) { price } else { nil } }
    }

    /// A PostgreSQL text[] literal, every element quoted.
    static func textArray(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
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

    /// One COPY row: the staging columns, then `seq` when given (the ticks table's columns).
    static func appendRow(_ keyed: KeyedTick, seq: Int64?, to copy: inout BinaryCopyWriter) {
        let tick = keyed.tick
        copy.beginRow(fields: seq == nil ? 8 : 9)
        copy.appendTimestamp(tick.time)
        copy.appendText(tick.symbol.rawValue)
        copy.appendInt64(keyed.tradeSeq)
        copy.appendNumeric(tick.open)
        copy.appendNumeric(tick.high)
        copy.appendNumeric(tick.low)
        copy.appendNumeric(tick.close)
        copy.appendInt64(tick.volume)
        if let seq { copy.appendInt64(seq) }
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
