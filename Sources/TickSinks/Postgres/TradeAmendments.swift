import CoreMetrics
import LibPQ
import TickCodecs
import TickModel
import TickNormalisation

/// Corrections and cancels: a run of them is one transaction, applied in feed order.
///
/// Each names its trade by symbol and trade id, looked for among the stored trades of its own
/// trading day and the `AmendmentSQL.windowDays` before. A cancel deletes the trade from the ticks
/// table; a correction deletes it and stores the new values (time, prices, size). Either takes
/// the symbol's next seq and is recorded under it in `tickd_trade_events` (with the values the
/// trade had), so the candles, the day's VWAP and official close, which are computed from the
/// ticks, follow; `latest_price` moves back to the newest remaining trade; `previous_close` is
/// computed again where the trade's day lies before the symbol's current one. Replaying one
/// changes nothing: a correction whose values are stored already, or a cancel whose trade was
/// cancelled already, is skipped. One that names no stored trade is dead-lettered as
/// `unknown_trade` once the transaction committed (redrivable when the trade is in).
extension PostgresSink {
    /// A correction or cancel that found no trade to change, and why.
    struct UnknownTrade {
        let keyed: KeyedTick
        let detail: String
    }

    /// Writes a run of corrections and cancels (and the bookkeeping of `progress`).
    nonisolated(nonsending) func writeAmendments(_ events: [KeyedTick], progress: BatchProgress) async throws(SinkError) -> BatchResult {
        var unknown: [UnknownTrade] = []
        var result = try await writeOnceCommitted { (committing) throws(PostgresError) -> BatchResult in
            try self.writeAmendmentsOnce(events, progress: progress, unknown: &unknown, committing: committing)
        }
        if !result.stored.isEmpty {
            candles?.noteCommit()
            // A day's price band is centred on a close that may have changed.
            priceGate.forget(Set(result.stored.map(\.keyed.tick.symbol)))
        }
        for event in result.stored {
            Counter(label: "tickd_trade_amendments_total", dimensions: [("action", event.keyed.tick.action.description)]).increment()
        }
        result.unknownTrades = unknown.count
        for miss in unknown { recordUnknown(miss) }
        return result
    }

    private func writeAmendmentsOnce(_ events: [KeyedTick], progress: BatchProgress, unknown: inout [UnknownTrade],
                                     committing: (String, BatchResult) -> Void) throws(PostgresError) -> BatchResult {
        let db = try connected()
        unknown = []
        do throws(PostgresError) {
            let opened = try db.pipeline([Statement("BEGIN", operation: "begin"), Statement(BatchSQL.transactionID, operation: "begin")])
            var stored: [StoredTick] = []
            var touched: [KeyedTick] = []  // the trades' times before and after, for previous_close
            for event in events {
                guard let applied = try apply(event, on: db, unknown: &unknown) else { continue }
                stored.append(applied.message)
                touched += applied.touched
            }
            var tail: [Statement] = []
            let symbols = Set(stored.map(\.keyed.tick.symbol)).map(\.rawValue).sorted()
            if !symbols.isEmpty {
                tail.append(Statement(amendmentSQL.restoreLatest, [options.exchangeZone, PostgresArray.text(symbols)],
                                      operation: "update \(options.stocksTable)"))
                tail.append(officialCloseStatement(touched))
            }
            tail += bookkeeping(progress, stored: 0)
            var result = BatchResult(stored: stored)
            result.revised = touched
            committing(opened[1].value(row: 0, column: 0) ?? "", result)
            try commitFault?(.beforeCommit, db)
            tail.append(Statement("COMMIT", operation: "commit"))
            let done = try db.pipeline(tail)
            try commitFault?(.afterCommit, db)
            if !symbols.isEmpty { restored(done[0], into: &result) }
            return result
        } catch {
            if db.isOpen && db.isInTransaction { _ = try? db.execute("ROLLBACK") }
            throw error
        }
    }

    /// Applies one correction or cancel; nil when it changes nothing (a replay) or names no
    /// stored trade (then in `unknown`). Returns its message and the trades it touched.
    private func apply(_ event: KeyedTick, on db: Connection, unknown: inout [UnknownTrade]) throws(PostgresError)
        -> (message: StoredTick, touched: [KeyedTick])? {
        let tick = event.tick
        let symbol = tick.symbol.rawValue, tradeID = String(event.tradeSeq)
        let lookup = [symbol, tradeID, tick.time.rfc3339(fractionDigits: 6), options.exchangeZone]
        let found = try db.execute(amendmentSQL.find, lookup)
        guard found.rowCount == 1, let old = Self.storedTrade(found, row: 0, symbol: tick.symbol, tradeID: event.tradeSeq) else {
            let within = "within \(AmendmentSQL.windowDays) days before \(tick.time.rfc3339(fractionDigits: 6))"
            if found.rowCount > 1 {
                unknown.append(UnknownTrade(keyed: event, detail: "\(found.rowCount) stored trades of \(symbol) carry trade id \(tradeID) \(within)"))
                return nil
            }
            if try db.execute(amendmentSQL.cancelled, lookup).value(row: 0, column: 0) != "0" {
                if tick.action == .cancel { return nil }  // a replayed cancel
                unknown.append(UnknownTrade(keyed: event, detail: "trade \(tradeID) of \(symbol) was cancelled"))
                return nil
            }
            unknown.append(UnknownTrade(keyed: event, detail: "no stored trade of \(symbol) has trade id \(tradeID) \(within)"))
            return nil
        }
        if tick.action == .correct {
            if Self.sameValues(old.tick, tick) { return nil }  // applied already
            // A correction replayed after a later one: the later one stands.
            if try db.execute(AmendmentSQL.corrected, lookup + Self.values(tick)).value(row: 0, column: 0) != "0" { return nil }
        }
        let oldTime = old.tick.time.rfc3339(fractionDigits: 6)
        var statements = [Statement(AmendmentSQL.nextSeq, [symbol], operation: "update tickd_symbol_seq"),
                          Statement(amendmentSQL.delete, [symbol, oldTime, tradeID], operation: "delete from \(options.ticksTable)")]
        var message = tick.action == .cancel ? old.tick : tick
        message.action = tick.action
        message.feedSequence = event.tradeSeq
        if tick.action == .correct {
            statements.append(Statement(amendmentSQL.insertCorrected, [symbol, tick.time.rfc3339(fractionDigits: 6), tradeID] + Self.values(tick),
                                        operation: "insert into \(options.ticksTable)"))
        }
        statements.append(Statement(AmendmentSQL.record, [symbol, tick.action.description, tradeID, message.time.rfc3339(fractionDigits: 6)]
                                    + Self.values(message) + [String(old.seq), oldTime] + Self.values(old.tick),
                                    operation: "insert tickd_trade_events"))
        let done = try db.pipeline(statements)
        guard let seq = done[0].value(row: 0, column: 0).flatMap({ Int64($0) }) else {
            throw PostgresError(sqlState: .internalError, message: "\(symbol) has no seq counter", operation: "update tickd_symbol_seq")
        }
        let stored = StoredTick(keyed: KeyedTick(tick: message, tradeSeq: event.tradeSeq), seq: seq,
                                amends: TickMessage.Amended(tradeID: event.tradeSeq, seq: old.seq))
        return (stored, [KeyedTick(tick: old.tick, tradeSeq: event.tradeSeq), event])
    }

    /// A row of `find` or `restoreLatest` from column `first` on: µs, open, high, low, close, volume, seq.
    private static func storedTrade(_ rows: QueryResult, row: Int, from first: Int = 0, symbol: Symbol, tradeID: Int64) -> LatestTrade? {
        let text = { (column: Int) in rows.value(row: row, column: first + column) ?? "" }
        guard let micros = Int64(text(0)), let open = price(text(1)), let high = price(text(2)), let low = price(text(3)),
              let close = price(text(4)), let volume = Int64(text(5)), let seq = Int64(text(6)) else { return nil }
        return LatestTrade(tick: Tick(time: Timestamp(nanosecondsSinceEpoch: micros * 1000), symbol: symbol, open: open, high: high, low: low,
                                      close: close, volume: volume, feedSequence: tradeID), seq: seq)
    }

    /// Each touched symbol's newest trade after the run: what `last:<SYMBOL>` is set to (it may
    /// be a trade of an earlier batch, once a cancel took the newer one away).
    private func restored(_ rows: QueryResult, into result: inout BatchResult) {
        for row in 0..<rows.rowCount {
            if let name = rows.value(row: row, column: 0), rows.value(row: row, column: 1) == nil {
                // No trade left: `last` is deleted.
                result.latestMoved.insert(Symbol(name))
                result.clearedLatest.insert(Symbol(name))
                continue
            }
            guard let name = rows.value(row: row, column: 0), let tradeID = rows.value(row: row, column: 1).flatMap({ Int64($0) }),
                  let trade = Self.storedTrade(rows, row: row, from: 2, symbol: Symbol(name), tradeID: tradeID) else { continue }
            result.restoredLatest[trade.tick.symbol] = trade
            if rows.value(row: row, column: 9) == "t" { result.latestMoved.insert(trade.tick.symbol) }
        }
    }

    private static func sameValues(_ a: Tick, _ b: Tick) -> Bool {
        a.time == b.time && a.volume == b.volume && a.open.compare(b.open) == 0 && a.high.compare(b.high) == 0
            && a.low.compare(b.low) == 0 && a.close.compare(b.close) == 0
    }

    private static func values(_ tick: Tick) -> [String?] {
        [tick.open.description, tick.high.description, tick.low.description, tick.close.description, String(tick.volume)]
    }

    /// A correction or cancel as a CSV line under `amendmentCSVHeader` (its dead letter; `tickd
    /// redrive` reads it back as the same event).
    static let amendmentCSVHeader = "time,symbol,action,open,high,low,close,volume,trade_id"
    static func amendmentCSVLine(_ keyed: KeyedTick) -> String {
        let tick = keyed.tick
        return "\(tick.time.rfc3339(fractionDigits: 6)),\(tick.symbol.rawValue),\(tick.action),\(tick.open),\(tick.high),\(tick.low),"
            + "\(tick.close),\(tick.volume),\(keyed.tradeSeq)"
    }

    private func recordUnknown(_ miss: UnknownTrade) {
        Counter(label: "tickd_ticks_rejected_total", dimensions: [("reason", RejectReason.unknownTrade.rawValue)]).increment()
        deadLetter(Reject(.unknownTrade, miss.detail), source: "trade amendments", line: Self.amendmentCSVLine(miss.keyed), header: Self.amendmentCSVHeader)
    }
}
