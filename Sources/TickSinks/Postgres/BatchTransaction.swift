import CoreMetrics
import LibPQ
import TickModel
import TickNormalisation

/// One batch, one transaction, in as few round trips as libpq allows:
///
/// 1. a pipeline: `BEGIN`, the transaction id, the count of trading-status changes (halts,
///    resumptions) the batch was classified under, and for the fast path a savepoint and the seq reservation of every
///    symbol in the batch;
/// 2. binary `COPY` of the numbered rows into the ticks table (COPY cannot be pipelined) — or,
///    when a tick is already stored, the merge path's statements;
/// 3. a pipeline: the latest prices, the bookkeeping (offsets, positions, outbox watermark), and
///    `COMMIT`.
extension PostgresSink {
    /// Returns nil, having rolled back, when `verifyHolds` and status changes were recorded since
    /// the batch was classified (`priceGate.holds`, now read again): classify it again.
    func writeOnce(_ ticks: [KeyedTick], quarantine: [PriceGate.Held] = [], progress: BatchProgress, verifyHolds: Bool,
                   committing: (String, BatchResult) -> Void) throws(PostgresError) -> BatchResult? {
        let db = try connected()
        do throws(PostgresError) {
            let numbering = ticks.isEmpty ? nil : SeqNumbering(ticks)
            var head = [Statement("BEGIN", operation: "begin"), Statement(BatchSQL.transactionID, operation: "begin")]
            if verifyHolds { head.append(Statement(prepared: "tickd_status_changes", [], operation: "read tickd_trading_status_changes")) }
            let countersIndex = head.count + 1
            if let numbering {
                head += [Statement("SAVEPOINT tickd_new", operation: "savepoint"),
                         Statement(prepared: "tickd_reserve_seqs", [
                            PostgresArray.text(numbering.symbols), PostgresArray.int64(numbering.counts),
                            PostgresArray.plain(numbering.firsts.map { $0.rfc3339(fractionDigits: 6) }),
                            PostgresArray.plain(numbering.lasts.map { $0.rfc3339(fractionDigits: 6) }),
                            PostgresArray.int64(numbering.firstTradeSeqs),
                         ], operation: "update tickd_symbol_seq")]
            }
            let opened = try db.pipeline(head)
            let transaction = opened[1].value(row: 0, column: 0) ?? ""
            if verifyHolds, opened[2].value(row: 0, column: 0).flatMap({ Int64($0) }) != priceGate.holds.count {
                try db.execute("ROLLBACK")
                priceGate.holds = try TradingHolds(db.execute(TradingStatusSQL.changes))
                return nil
            }
            var stored: [StoredTick]?
            if let numbering { stored = try storeNew(numbering, counters: opened[countersIndex], on: db) }
            var tail: [Statement] = []
            if stored != nil { tail.append(Statement("RELEASE SAVEPOINT tickd_new", operation: "savepoint")) }
            let merging = !ticks.isEmpty && stored == nil
            if merging { stored = try storeMerging(ticks, on: db) }
            let newest = SeqNumbering.newest(stored ?? [])
            let latestIndex = newest.isEmpty ? nil : tail.count
            if !newest.isEmpty {
                tail.append(latestStatement(newest))
                tail.append(officialCloseStatement((stored ?? []).map(\.keyed)))
            }
            let quarantineIndex = quarantine.isEmpty ? nil : tail.count
            if !quarantine.isEmpty { tail.append(quarantineStatement(quarantine)) }
            tail += bookkeeping(progress, stored: stored?.count ?? 0)
            var result = BatchResult(stored: stored ?? [])
            if merging { result.revised = result.stored.map(\.keyed) }
            committing(transaction, result)
            try commitFault?(.beforeCommit, db)
            tail.append(Statement("COMMIT", operation: "commit"))
            let done = try db.pipeline(tail)
            try commitFault?(.afterCommit, db)
            if merging {
                // Counted once committed: a retried batch (deadlock, lost connection) is one batch.
                mergedBatches += 1
                Counter(label: "tickd_database_merge_batches_total").increment()
            }
            if let quarantineIndex { result.heldButStored = done[quarantineIndex].value(row: 0, column: 0).flatMap { Int($0) } ?? 0 }
            if let latestIndex {
                let moved = done[latestIndex]
                result.latestMoved = Set((0..<moved.rowCount).compactMap { moved.value(row: $0, column: 0).map { Symbol($0) } })
            }
            return result
        } catch {
            if db.isOpen && db.isInTransaction { _ = try? db.execute("ROLLBACK") }
            throw error
        }
    }

    /// The fast path: the seqs are reserved (`counters`); COPY the numbered rows straight into
    /// the ticks table. Returns nil when the batch overlaps stored ticks (nothing was reserved),
    /// or, with the savepoint rolled back, when a tick is already stored (the unique key refuses
    /// the COPY: another writer stored it since).
    private func storeNew(_ numbering: SeqNumbering, counters: QueryResult, on db: Connection) throws(PostgresError) -> [StoredTick]? {
        guard counters.rowCount > 0 else { return nil }
        var lastSeqs: [Symbol: Int64] = [:]
        for row in counters.rows {
            if let symbol = row[0], let last = row[1].flatMap({ Int64($0) }) { lastSeqs[Symbol(symbol)] = last }
        }
        guard let stored = numbering.stored(lastSeqs: lastSeqs) else {
            throw PostgresError(sqlState: .internalError, message: "a symbol's seq counter was not returned", operation: "update tickd_symbol_seq")
        }
        var copy = BinaryCopyWriter(capacity: stored.count * 100 + 32)
        for tick in stored { Self.appendRow(tick.keyed, seq: tick.seq, to: &copy) }
        copy.finish()
        do {
            try db.copyIn(sql.copyNew, bytes: copy.bytes)
        } catch where error.sqlState == .uniqueViolation {
            try db.execute("ROLLBACK TO SAVEPOINT tickd_new")
            return nil
        } catch { throw error.during("copy into \(options.ticksTable)", table: options.ticksTable.description) }
        return stored
    }

    /// The merge path: COPY into staging, drop the unchanged, upsert the rest with seq numbers.
    private func storeMerging(_ ticks: [KeyedTick], on db: Connection) throws(PostgresError) -> [StoredTick] {
        var copy = BinaryCopyWriter(capacity: ticks.count * 96 + 32)
        for keyed in ticks { Self.appendRow(keyed, seq: nil, to: &copy) }
        copy.finish()
        // The staging table has no statistics; a merge join would read the whole ticks index.
        do {
            try db.execute("SET LOCAL enable_mergejoin = off")
            try db.copyIn(sql.copy, bytes: copy.bytes)
        } catch { throw error.during("copy into tickd_staging", table: "tickd_staging") }
        let merged = try db.pipeline([
            Statement(sql.deleteSuperseded, operation: "compare with tickd_trade_events"),
            Statement(sql.deleteUnchanged, operation: "compare with \(options.ticksTable)"),
            Statement(sql.upsert, operation: "insert into \(options.ticksTable)"),
        ])
        let inserted = merged[2]
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

    /// After a commit whose acknowledgement was lost (the latest-price statement's answer with
    /// it): the symbols whose latest price is now this batch's newest tick.
    func latestHeld(by stored: [StoredTick]) throws(PostgresError) -> Set<Symbol> {
        let newest = SeqNumbering.newest(stored)
        guard !newest.isEmpty else { return [] }
        let rows = try connected().execute(
            "SELECT symbol, (extract(epoch FROM time) * 1000000)::int8, trade_seq FROM tickd_latest WHERE symbol = ANY($1::text[])",
            [PostgresArray.text(newest.map(\.tick.symbol.rawValue))]).rows
        let held = Set(rows.compactMap { row -> StorageKey? in
            guard let symbol = row[0], let micros = row[1].flatMap({ Int64($0) }), let tradeSeq = row[2].flatMap({ Int64($0) }) else { return nil }
            return StorageKey(symbol: Symbol(symbol), micros: micros, tradeSeq: tradeSeq)
        })
        return Set(newest.filter { held.contains(StorageKey($0)) }.map(\.tick.symbol))
    }

    /// Moves latest_price (and previous_close) to each symbol's newest stored tick.
    private func latestStatement(_ newest: [KeyedTick]) -> Statement {
        Statement(prepared: "tickd_latest", [
            options.exchangeZone, PostgresArray.text(newest.map(\.tick.symbol.rawValue)),
            PostgresArray.plain(newest.map { $0.tick.time.rfc3339(fractionDigits: 6) }),
            PostgresArray.int64(newest.map(\.tradeSeq)),
            PostgresArray.plain(newest.map { $0.tick.close.description }),
        ], operation: "update \(options.stocksTable)")
    }

    /// Sets previous_close to the official close where this batch moved a symbol to a new
    /// trading day or stored a tick of an earlier one.
    func officialCloseStatement(_ stored: [KeyedTick]) -> Statement {
        var earliest: [Symbol: Timestamp] = [:]
        for tick in stored.map(\.tick) where earliest[tick.symbol].map({ tick.time < $0 }) ?? true {
            earliest[tick.symbol] = tick.time
        }
        let symbols = earliest.keys.sorted { $0.rawValue < $1.rawValue }
        return Statement(prepared: "tickd_official_close", [
            options.exchangeZone, PostgresArray.text(symbols.map(\.rawValue)),
            PostgresArray.plain(symbols.map { earliest[$0]!.rfc3339(fractionDigits: 6) }),
        ], operation: "update \(options.stocksTable) previous_close")
    }

    /// Holds trades the price checks and the trading holds quarantined, in the batch's transaction.
    private func quarantineStatement(_ held: [PriceGate.Held]) -> Statement {
        func numbers(_ values: [Price?]) -> String { PostgresArray.plain(values.map { $0?.description ?? "NULL" }) }
        let ticks = held.map(\.keyed)
        return Statement(sql.quarantine, [
            PostgresArray.plain(ticks.map { $0.tick.time.rfc3339(fractionDigits: 6) }), PostgresArray.text(ticks.map(\.tick.symbol.rawValue)),
            PostgresArray.int64(ticks.map(\.tradeSeq)), numbers(ticks.map(\.tick.open)), numbers(ticks.map(\.tick.high)),
            numbers(ticks.map(\.tick.low)), numbers(ticks.map(\.tick.close)), PostgresArray.int64(ticks.map(\.tick.volume)),
            PostgresArray.text(held.map { $0.violations.map(\.rawValue).joined(separator: ",") }),
            numbers(held.map(\.previousClose)), numbers(held.map(\.limitPercent)),
        ], operation: "insert tickd_quarantine")
    }

    /// Source lines, stream positions and the outbox watermark, inside the batch's transaction.
    func bookkeeping(_ progress: BatchProgress, stored: Int) -> [Statement] {
        var statements: [Statement] = []
        // Stored rows are credited to the first source; the others advance their line only.
        for (index, source) in progress.lines.keys.sorted().enumerated() {
            statements.append(Statement(prepared: "tickd_offsets", [source, String(progress.lines[source]!), String(index == 0 ? stored : 0)],
                                        operation: "update tickd_source_offsets"))
        }
        for position in progress.positions.values.sorted(by: { $0.stream < $1.stream }) {
            statements.append(Statement(prepared: "tickd_position", [position.stream, position.identity, String(position.offset)],
                                        operation: "update tickd_positions"))
        }
        if publishingOff {
            statements.append(Statement(prepared: "tickd_mark_published", [], operation: "update tickd_symbol_seq"))
        } else if !progress.published.isEmpty {
            let pairs = progress.published.sorted { $0.key.rawValue < $1.key.rawValue }
            statements.append(Statement(prepared: "tickd_published", [PostgresArray.text(pairs.map(\.key.rawValue)), PostgresArray.int64(pairs.map(\.value))],
                                        operation: "update tickd_symbol_seq"))
        }
        return statements
    }
}
