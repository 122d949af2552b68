import CoreMetrics
import Foundation
import LibPQ
import Logging
import TickCodecs
import TickModel
import TickNormalisation

/// Writes batches of ticks to PostgreSQL/TimescaleDB through libpq.
///
/// One batch is one transaction (`BatchTransaction.swift`): new ticks are COPYed straight into
/// `market_ticks` with per-symbol sequence numbers; a batch holding stored ticks is merged
/// through a staging table; then the `latest_price` / `previous_close` update of `stocks` and the
/// bookkeeping (source offsets, positions, outbox watermark). A transient failure (connection
/// lost, serialization failure, shutdown, lack of resources — by SQLSTATE class) is retried with
/// capped exponential backoff on a fresh connection, so the batch is not lost; a permanent one
/// throws `SinkError`. Its calls block in libpq and suspend between retries: they run on the
/// caller's executor (`nonisolated(nonsending)`), a writer lane's thread.
public final class PostgresSink {
    public let options: SchemaOptions
    public var logger: Logger
    /// The pauses between retries: from 100 ms, doubling, capped at `maxBackoff`.
    public var retry: Backoff
    /// Transient failures retried so far.
    public private(set) var retries = 0
    /// Batches stored by the merge path (staging table, unchanged-row check, upsert) rather than
    /// COPY straight into the ticks table: replays of stored data, corrected trades.
    public internal(set) var mergedBatches = 0
    /// True when nothing publishes on Redis: every stored seq then counts as published at once,
    /// so that turning publishing on later does not send history.
    public var publishingOff = false
    /// Fault injection for tests: runs just before COMMIT is sent and right after it succeeded;
    /// throwing from it stands for a connection lost at that moment.
    public var commitFault: ((CommitPhase, Connection) throws(PostgresError) -> Void)?

    /// What tickd adds to every DATABASE_URL, for the keys the URL does not set.
    public static let connectionDefaults = ["fallback_application_name": "tickd", "connect_timeout": "10"]

    /// A session of tickd's own beside the writers' (candle refresher, stream positions): the
    /// connection defaults, and no JIT (compiling a candle refresh's statements took 300-400 ms of
    /// a refresh that runs in 5-16 ms without it).
    static func session(_ conninfo: String) throws(PostgresError) -> Connection {
        let db = try Connection(conninfo: conninfo, defaults: connectionDefaults)
        try db.execute(BatchSQL.sessionSettings)
        return db
    }

    /// Told of every commit that stored ticks, so the candle aggregates follow (TimescaleDB only).
    public var candles: CandleRefresher?
    /// The live candles (`redis.live_candles`), moved with every committed batch
    /// (`BatchResult.candles`); nil: off.
    public var liveCandles: LiveCandleBook?
    /// Where trades the price checks reject go (the dead-letter file), once their batch committed.
    public var rejects: (any RejectRecorder)?
    /// The exchange's price checks (limit band, tick grid).
    let priceGate: PriceGate

    /// Where `commitFault` is called.
    public enum CommitPhase: Sendable { case beforeCommit, afterCommit }

    private let conninfo: String
    let sql: BatchSQL
    let amendmentSQL: AmendmentSQL
    private var connection: Connection?
    /// Set once a connection succeeded: from then on even a permanent connect error (a rotated
    /// password, a changed pg_hba.conf) is retried, since the operator may put it right.
    private var hasConnected = false

    /// A sink for the database at `conninfo`; nothing is opened before `connect`.
    public init(conninfo: String, options: SchemaOptions, maxBackoff: Duration = .seconds(5),
                logger: Logger = Logger(label: "tickd.postgres")) {
        self.conninfo = conninfo
        self.options = options
        retry = Backoff(initial: .milliseconds(100), cap: maxBackoff)
        self.logger = logger
        sql = BatchSQL(options)
        amendmentSQL = AmendmentSQL(options)
        priceGate = PriceGate(options)
    }

    /// Connects (retrying transient failures; a permanent one, such as bad credentials, throws
    /// at once) and prepares the staging table.
    public nonisolated(nonsending) func connect() async throws(SinkError) {
        try await withRetries(table: "connection") { () throws(PostgresError) in _ = try self.connected() }
    }

    /// A sink, connected (`connect`).
    public nonisolated(nonsending) static func connected(conninfo: String, options: SchemaOptions, maxBackoff: Duration = .seconds(5),
                                                         logger: Logger = Logger(label: "tickd.postgres")) async throws(SinkError) -> PostgresSink {
        let sink = PostgresSink(conninfo: conninfo, options: options, maxBackoff: maxBackoff, logger: logger)
        try await sink.connect()
        return sink
    }

    /// The id `migrate` gave this database (`tickd_database`); a journal is bound to it.
    public nonisolated(nonsending) func databaseIdentity() async throws(SinkError) -> String {
        try await withRetries(table: "tickd_database") { () throws(PostgresError) -> String in
            do throws(PostgresError) {
                guard let id = try self.connected().execute("SELECT id::text FROM tickd_database").value(row: 0, column: 0) else {
                    throw PostgresError(sqlState: .noDataFound, message: "tickd_database is empty: run tickd migrate", operation: "read the database identity")
                }
                return id
            } catch where error.sqlState == .undefinedTable {
                throw PostgresError(sqlState: .undefinedTable, message: "tickd_database does not exist: run tickd migrate", operation: "read the database identity")
            }
        }
    }

    /// The symbols of `stocks`: the listed instruments for the unknown-symbol policy.
    /// Each symbol's newest stored trade time (`tickd_latest`), for the market watch.
    public nonisolated(nonsending) func lastTrades() async throws(SinkError) -> [Symbol: Timestamp] {
        try await withRetries(table: "tickd_latest") { () throws(PostgresError) -> [Symbol: Timestamp] in
            let rows = try self.connected().execute("SELECT symbol, (extract(epoch FROM time) * 1000000)::int8 FROM tickd_latest").rows
            var trades: [Symbol: Timestamp] = [:]
            for row in rows {
                if let symbol = row[0], let micros = row[1].flatMap({ Int64($0) }) {
                    trades[Symbol(symbol)] = Timestamp(nanosecondsSinceEpoch: micros * 1000)
                }
            }
            return trades
        }
    }

    public nonisolated(nonsending) func knownSymbols() async throws(SinkError) -> Set<Symbol> {
        try await withRetries(table: options.stocksTable.description) { () throws(PostgresError) -> Set<Symbol> in
            let rows = try self.connected().execute("SELECT symbol FROM \(self.options.stocksTable.sql)").rows
            return Set(rows.compactMap { row in row[0].map { Symbol($0) } })
        }
    }

    /// Writes one batch (from `source`, which has now been read through line `throughLine`) and
    /// returns the ticks stored — new or changed rows — in per-symbol seq order, and the symbols
    /// whose latest price moved.
    public nonisolated(nonsending) func write(_ batch: [KeyedTick], source: String, throughLine: Int) async throws(SinkError) -> BatchResult {
        try await write(batch, progress: BatchProgress(lines: [source: throughLine]))
    }

    /// Writes one batch and, in the same transaction, the bookkeeping of `progress`: source lines,
    /// stream positions, the Redis outbox watermark.
    ///
    /// When the connection is lost during COMMIT, the outcome is unknown: the sink then asks the
    /// server on a new connection whether the batch's rows are stored (`UncertainCommit`), and
    /// either returns the batch as committed or writes it again — never both, never neither.
    ///
    /// Corrections, cancels and status records (`TradeAction`) are applied in feed order: the
    /// batch is written as runs of trades, of amendments and of status records, one transaction
    /// each, the bookkeeping with the last.
    public nonisolated(nonsending) func write(_ batch: [KeyedTick], progress: BatchProgress) async throws(SinkError) -> BatchResult {
        var result = try await writeRuns(batch, progress: progress)
        if liveCandles != nil { result.candles = reviseCandles(result) }
        return result
    }

    private nonisolated(nonsending) func writeRuns(_ batch: [KeyedTick], progress: BatchProgress) async throws(SinkError) -> BatchResult {
        guard batch.contains(where: { $0.tick.action != .trade }) else { return try await writeTrades(batch, progress: progress) }
        func kind(_ action: TradeAction) -> Int { action == .trade ? 0 : action == .status ? 2 : 1 }
        var runs: [[KeyedTick]] = []
        for keyed in batch {
            if let last = runs.last?.last, kind(last.tick.action) == kind(keyed.tick.action) {
                runs[runs.count - 1].append(keyed)
            } else {
                runs.append([keyed])
            }
        }
        var result = BatchResult()
        for (index, run) in runs.enumerated() {
            let part = index == runs.count - 1 ? progress : BatchProgress()
            let written = switch kind(run[0].tick.action) {
            case 0: try await writeTrades(run, progress: part)
            case 1: try await writeAmendments(run, progress: part)
            default: try await writeStatuses(run, progress: part)
            }
            result.add(written)
        }
        return result
    }

    private nonisolated(nonsending) func writeTrades(_ batch: [KeyedTick], progress: BatchProgress) async throws(SinkError) -> BatchResult {
        let ticks = Self.lastPerKey(batch)
        // With price checks, one trading day per transaction: a day's limit band is relative to
        // the previous day's close, which must be stored first. Earlier days go first; the
        // bookkeeping rides with the last.
        guard priceGate.check.isActive, let first = ticks.first.map({ priceGate.day(of: $0.tick.time) }),
              ticks.contains(where: { priceGate.day(of: $0.tick.time) != first }) else {
            return try await writeDay(ticks, progress: progress)
        }
        let days = Dictionary(grouping: ticks) { priceGate.day(of: $0.tick.time) }
        var result = BatchResult()
        let order = days.keys.sorted()
        for day in order {
            result.add(try await writeDay(days[day]!, progress: day == order.last ? progress : BatchProgress()))
        }
        return result
    }

    private nonisolated(nonsending) func writeDay(_ ticks: [KeyedTick], progress: BatchProgress) async throws(SinkError) -> BatchResult {
        var checked = PriceGate.Outcome()
        let result = try await writeOnceCommitted { (committing) throws(PostgresError) -> BatchResult in
            // Again when a halt, suspension or resumption committed since the last batch.
            while true {
                checked = try self.priceGate.classify(ticks, on: self.connected())
                if let written = try self.writeOnce(checked.passed, quarantine: checked.quarantined, progress: progress,
                                                    verifyHolds: !ticks.isEmpty, committing: committing) {
                    return written
                }
            }
        }
        if !result.stored.isEmpty { candles?.noteCommit() }
        return try settle(checked, result)
    }

    /// Runs `attempt` (one transaction) with retries until it commits once: `attempt` tells
    /// `committing` its transaction id and result just before `COMMIT`; when the connection is
    /// lost around the commit, the next attempt first asks what became of it (`resolve`) and
    /// returns that result instead of writing again when it did commit.
    nonisolated(nonsending) func writeOnceCommitted(
        _ attempt: (_ committing: (String, BatchResult) -> Void) throws(PostgresError) -> BatchResult
    ) async throws(SinkError) -> BatchResult {
        var uncertain: UncertainCommit?
        return try await withRetries(table: options.ticksTable.description) { () throws(PostgresError) -> BatchResult in
            if let pending = uncertain {
                let committed = try self.resolve(pending)  // throws while its transaction is still running
                uncertain = nil
                if let committed { return committed }
            }
            return try attempt { uncertain = UncertainCommit(transaction: $0, result: $1) }
        }
    }

    /// Appends a record the sink turned down (a price check's reject, a correction or cancel of no
    /// stored trade) to the dead-letter file, as `line` under the CSV `header` (`tickd redrive`
    /// reads it back); a failure to write it is logged.
    func deadLetter(_ reject: Reject, source: String, line: String, header: String) {
        var raw = Array(line.utf8)
        do {
            try raw.withUnsafeMutableBufferPointer {
                try rejects?.record(source: source, line: 0, reject: reject, raw: UnsafeBufferPointer($0), length: nil, header: Array(header.utf8))
            }
        } catch {
            logger.error("could not dead-letter a record", metadata: ["error": "\(error)", "source": "\(source)", "record": "\(line)"])
        }
    }

    /// What became of a batch whose commit was not acknowledged: its result when it committed,
    /// nil when it did not (write it again); throws while its transaction is still running (a
    /// transient error: the caller asks again after backoff).
    func resolve(_ pending: UncertainCommit) throws(PostgresError) -> BatchResult? {
        switch try pending.fate(on: connected(), sql: sql) {
        case .committed:
            logger.warning("database: the commit's acknowledgement was lost, but the batch was committed",
                           metadata: ["transaction": "\(pending.transaction)", "stored": "\(pending.result.stored.count)"])
            var result = pending.result
            result.latestMoved = try latestHeld(by: result.stored)
            return result
        case .inProgress:
            throw PostgresError(sqlState: .serializationFailure, message: "transaction \(pending.transaction) still in progress",
                                operation: "commit status")
        case .notCommitted:
            logger.warning("database: the batch was not committed, writing it again", metadata: ["transaction": "\(pending.transaction)"])
            return nil
        }
    }

    /// After the commit: flags the accepted trades that broke a rule (for their Redis message),
    /// dead-letters the rejected ones, counts both and the quarantined.
    private func settle(_ checked: PriceGate.Outcome, _ committed: BatchResult) throws(SinkError) -> BatchResult {
        var result = committed
        result.quarantined = checked.quarantined.count - committed.heldButStored
        result.priceRejected = checked.rejected.count
        result.priceFlagged = checked.flags.count
        if !checked.flags.isEmpty {
            for index in result.stored.indices {
                result.stored[index].flags = checked.flags[StorageKey(result.stored[index].keyed)] ?? []
            }
        }
        PriceCheckMetrics.count(checked)
        if let session = options.session { countOutsideSession(result.stored, session) }
        for held in checked.rejected {
            let reason: RejectReason = held.violations.contains(where: { $0 == .halted || $0 == .suspended }) ? .halted
                : held.violations.contains(.priceLimit) ? .priceLimit : .offTick
            let detail = held.violations.map(\.rawValue).joined(separator: ",")
                + (held.previousClose.map { " (previous close \($0), limit \(held.limitPercent?.description ?? "none") %)" } ?? "")
            deadLetter(Reject(reason, detail), source: "price checks", line: PriceGate.csvLine(held.keyed), header: PriceGate.csvHeader)
        }
        return result
    }

    /// `tickd_ticks_outside_session_total{symbol}`: stored ticks outside the pre-open and the
    /// continuous session, or on a non-trading day (accepted: feeds carry auction and
    /// correction prints).
    private func countOutsideSession(_ stored: [StoredTick], _ session: TradingSession) {
        var outside: [Symbol: Int] = [:]
        for tick in stored where !session.isOpen(atLocalSeconds: priceGate.localSeconds(tick.keyed.tick.time)) {
            outside[tick.keyed.tick.symbol, default: 0] += 1
        }
        for (symbol, count) in outside {
            Counter(label: "tickd_ticks_outside_session_total", dimensions: [("symbol", symbol.rawValue)]).increment(by: Int64(count))
        }
    }

    /// Records the Redis outbox watermark alone (when no batch is due to carry it: at exit).
    public nonisolated(nonsending) func recordPublished(_ published: [Symbol: Int64]) async throws(SinkError) {
        guard !published.isEmpty, !publishingOff else { return }
        _ = try await write([], progress: BatchProgress(published: published))
    }

    /// Sets `position`, also back (a batch's position only moves forward): the journal's, when
    /// the journal lost an unsynced tail the database had applied.
    public nonisolated(nonsending) func resetPosition(_ position: StreamPosition) async throws(SinkError) {
        try await withRetries(table: "tickd_positions") { () throws(PostgresError) in
            _ = try self.connected().execute("""
                INSERT INTO tickd_positions (stream, identity, applied, updated_at) VALUES ($1, $2, $3, now())
                ON CONFLICT (stream) DO UPDATE SET identity = EXCLUDED.identity, applied = EXCLUDED.applied, updated_at = now()
                """, [position.stream, position.identity, String(position.offset)])
        }
    }

    /// Where `stream` was applied to, if it was and it is still the same stream (`identity`).
    public nonisolated(nonsending) func appliedPosition(stream: String, identity: String) async throws(SinkError) -> Int64? {
        try await withRetries(table: "tickd_positions") { () throws(PostgresError) -> Int64? in
            let row = try self.connected().execute(self.sql.readPosition, [stream]).rows.first
            guard let row, row[0] == identity, let applied = row[1].flatMap({ Int64($0) }) else { return nil }
            return applied
        }
    }

    /// Stored ticks that were never published on Redis (tickd stopped before they went out),
    /// oldest first per symbol, at most `limit`; `latestMoved` names the symbols whose newest
    /// tick is among them. Publish them before anything new.
    public nonisolated(nonsending) func unpublished(limit: Int) async throws(SinkError) -> BatchResult {
        try await withRetries(table: options.ticksTable.description) { () throws(PostgresError) -> BatchResult in
            let rows = try self.connected().execute(self.sql.unpublished, [String(limit)])
            var result = BatchResult()
            for row in 0..<rows.rowCount {
                let text = { (column: Int) in rows.value(row: row, column: column) ?? "" }
                guard let micros = Int64(text(1)), let tradeSeq = Int64(text(2)), let volume = Int64(text(7)),
                      let seq = Int64(text(8)), let open = Self.price(text(3)), let high = Self.price(text(4)),
                      let low = Self.price(text(5)), let close = Self.price(text(6)) else { continue }
                let symbol = Symbol(text(0))
                let action = TradeAction.allCases.first { $0.description == text(10) } ?? .trade
                let tick = Tick(time: Timestamp(nanosecondsSinceEpoch: micros * 1000), symbol: symbol,
                                open: open, high: high, low: low, close: close, volume: volume, action: action)
                let amends = Int64(text(11)).map { TickMessage.Amended(tradeID: tradeSeq, seq: $0) }
                result.stored.append(StoredTick(keyed: KeyedTick(tick: tick, tradeSeq: tradeSeq), seq: seq, amends: amends))
                if text(9) == "t" { result.latestMoved.insert(symbol) }
            }
            return result
        }
    }

    /// Gives up on publishing what is owed (more than a backlog holds): marks every stored seq
    /// as published and returns, per symbol, the seq range that was skipped.
    public nonisolated(nonsending) func skipUnpublished() async throws(SinkError) -> [(symbol: Symbol, seqs: ClosedRange<Int64>)] {
        try await withRetries(table: "tickd_symbol_seq") { () throws(PostgresError) -> [(symbol: Symbol, seqs: ClosedRange<Int64>)] in
            let rows = try self.connected().execute(self.sql.skipUnpublished).rows
            return rows.compactMap { row in
                guard let symbol = row[0], let low = row[1].flatMap({ Int64($0) }), let high = row[2].flatMap({ Int64($0) }) else { return nil }
                return (Symbol(symbol), low...high)
            }.sorted { $0.symbol.rawValue < $1.symbol.rawValue }
        }
    }

    /// A numeric as PostgreSQL prints it, read back exactly.
    public static func price(_ text: String) -> Price? {
        var text = text
        return text.withUTF8 { if case .value(let price) = DecimalText.parse($0) { price } else { nil } }
    }

    /// Runs `body`, retrying transient failures with capped exponential backoff (reconnecting
    /// when the connection is gone); a permanent failure becomes `SinkError`.
    /// The pause between attempts suspends the caller (a lane's batch; the lane's next batches
    /// wait for it); a task cancelled meanwhile gives up with the last error.
    nonisolated(nonsending) func withRetries<T>(table: String, _ body: () throws(PostgresError) -> T) async throws(SinkError) -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch {
                let refusedAfterStart = !error.isTransient && error.operation == "connect" && hasConnected
                guard error.isTransient || refusedAfterStart else { throw SinkError(table: table, underlying: error) }
                attempt += 1
                retries += 1
                Counter(label: "tickd_database_retries_total").increment()
                if connection?.isOpen != true { connection = nil }
                let pause = retry.pause(attempt: attempt)
                let metadata: Logger.Metadata = [
                    "sqlstate": "\(error.sqlState ?? "none")", "operation": "\(error.operation)",
                    "error": "\(error.message)", "attempt": "\(attempt)", "retry_in_ms": "\(pause.milliseconds)"]
                if refusedAfterStart {
                    logger.error("database refuses the connection (credentials or pg_hba.conf changed?), retrying", metadata: metadata)
                } else {
                    logger.warning("database error, retrying", metadata: metadata)
                }
                let failure = error
                do { try await Task.sleep(for: pause) } catch { throw SinkError(table: table, underlying: failure) }
            }
        }
    }

    func connected() throws(PostgresError) -> Connection {
        if let connection, connection.isOpen { return connection }
        connection = nil
        let db = try Connection(conninfo: conninfo, defaults: Self.connectionDefaults)
        try db.execute(BatchSQL.sessionSettings)
        try db.execute(sql.createStaging)
        for (name, text) in sql.prepared { try db.prepare(name, text) }
        logger.info("connected to PostgreSQL", metadata: ["server_version": "\(db.serverVersion)", "pid": "\(db.backendPID)"])
        connection = db
        hasConnected = true
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
