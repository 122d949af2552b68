import LibPQ
import TickModel

extension PostgresSink {
    /// Reads ranges of stored ticks back by minute for the live candles (after a commit), with
    /// the aggregates of the candle views: open and close by (time, trade_seq), with their keys.
    func candleMinutes(_ ranges: [CandleRange]) throws(PostgresError) -> [CandleRange: [Int64: Candle]] {
        let rows = try connected().execute(BatchSQL.candleMinutes(options.ticksTable.sql), [
            PostgresArray.text(ranges.map(\.symbol.rawValue)),
            PostgresArray.plain(ranges.map { $0.from.rfc3339(fractionDigits: 6) }),
            PostgresArray.plain(ranges.map { $0.to.rfc3339(fractionDigits: 6) }),
        ])
        var loaded: [CandleRange: [Int64: Candle]] = [:]
        for row in rows.rows {
            func int(_ column: Int) -> Int64? { row[column].flatMap { Int64($0) } }
            func price(_ column: Int) -> Price? { row[column].flatMap { Self.price($0) } }
            guard let index = int(0), index >= 1, index <= ranges.count, let minute = int(1),
                  let open = price(2), let openMicros = int(3), let openSeq = int(4), let high = price(5), let low = price(6),
                  let close = price(7), let closeMicros = int(8), let closeSeq = int(9), let volume = int(10), let ticks = int(11),
                  let turnover = price(12)
            else { throw PostgresError(sqlState: .internalError, message: "a candle row could not be read", operation: "read live candles") }
            let candle = Candle(open: open, openKey: Candle.Key(nanoseconds: openMicros * 1000, tradeSeq: openSeq), high: high, low: low,
                                close: close, closeKey: Candle.Key(nanoseconds: closeMicros * 1000, tradeSeq: closeSeq),
                                volume: volume, ticks: ticks, turnoverUnits: Int128(turnover.units), turnoverScale: turnover.scale)
            loaded[ranges[Int(index) - 1], default: [:]][minute * 60_000_000_000] = candle
        }
        return loaded
    }

    /// Moves the live candles with a committed batch; a failed read forgets the batch's symbols
    /// (their next batch reads their day back) and publishes no candle for this one.
    func reviseCandles(_ result: BatchResult) -> [CandleUpdate] {
        guard var book = liveCandles, !result.stored.isEmpty else { return [] }
        defer { liveCandles = book }
        do {
            return try book.apply(result) { ranges in try self.candleMinutes(ranges) }
        } catch {
            book.forget(Set(result.stored.map(\.keyed.tick.symbol)))
            logger.warning("database: could not read candles back; this batch's live candles are not published", metadata: ["error": "\(error)"])
            return []
        }
    }
}

extension BatchSQL {
    /// Ticks of ranges ($1 symbols, $2 froms, $3 tos: from ≤ time < to) by minute, with each
    /// range's ordinal: minute (since the epoch), open with its time (µs) and trade_seq, high,
    /// low, close with its key, volume, ticks, turnover — the candle views' aggregates.
    static func candleMinutes(_ ticks: String) -> String {
        """
        SELECT r.i, floor(extract(epoch FROM m.time) / 60)::int8 AS minute,
               (array_agg(m.open ORDER BY m.time, m.trade_seq))[1],
               (array_agg((extract(epoch FROM m.time) * 1000000)::int8 ORDER BY m.time, m.trade_seq))[1],
               (array_agg(m.trade_seq ORDER BY m.time, m.trade_seq))[1],
               max(m.high), min(m.low),
               (array_agg(m.close ORDER BY m.time DESC, m.trade_seq DESC))[1],
               (array_agg((extract(epoch FROM m.time) * 1000000)::int8 ORDER BY m.time DESC, m.trade_seq DESC))[1],
               (array_agg(m.trade_seq ORDER BY m.time DESC, m.trade_seq DESC))[1],
               sum(m.volume), count(*), sum(m.close * m.volume)
        FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS r(symbol, first, last, i)
        JOIN \(ticks) m ON m.symbol = r.symbol AND m.time >= r.first AND m.time < r.last
        GROUP BY r.i, 2
        """
    }
}
