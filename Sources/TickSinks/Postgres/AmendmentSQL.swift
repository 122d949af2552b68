import TickModel

/// The statements of corrections and cancels (`TradeAmendments`). Values travel as parameters;
/// table names are validated identifiers.
struct AmendmentSQL {
    /// How many trading days before a correction's or cancel's own the trade it names is looked
    /// for (exchanges bust and correct trades the same day; a week covers a late feed).
    static let windowDays = 7

    /// The stored trades of symbol $1 with trade id $2 in the window that ends with the trading day
    /// (zone $4) of time $3.
    let find: String
    /// Whether trade id $2 of symbol $1 was cancelled in that window (a cancel replayed).
    let cancelled: String
    /// Whether this correction ($1 symbol, $2 trade id, $3 time, $5-$9 values) was applied
    /// before (a replayed correction, maybe followed by a later one that must stand).
    static let corrected = """
        SELECT count(*) FROM tickd_trade_events
        WHERE symbol = $1 AND trade_seq = $2 AND action = 'correct' AND time = $3 AND $4::text IS NOT NULL
          AND (open, high, low, close, volume) = ($5::numeric, $6::numeric, $7::numeric, $8::numeric, $9::int8)
        """
    /// Takes the symbol's next seq ($1); returns it.
    static let nextSeq = "UPDATE tickd_symbol_seq SET last_seq = last_seq + 1 WHERE symbol = $1 RETURNING last_seq"
    /// Removes the trade ($1 symbol, $2 time, $3 trade id).
    let delete: String
    /// Stores a correction's trade under the seq just taken ($1 symbol, $2 time, $3 trade id,
    /// $4-$7 open, high, low, close, $8 volume).
    let insertCorrected: String
    /// Records the event under the seq just taken: $1 symbol, $2 action, $3 trade id, $4 time and
    /// $5-$9 the values its message carries, $10 the seq the trade had, $11 its time before and
    /// $12-$16 its values before.
    static let record = """
        INSERT INTO tickd_trade_events (symbol, seq, action, trade_seq, time, open, high, low, close, volume, ref_seq,
                                        previous_time, previous_open, previous_high, previous_low, previous_close, previous_volume)
        VALUES ($1, (SELECT last_seq FROM tickd_symbol_seq WHERE symbol = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        """
    /// Moves latest_price of symbols $2 (zone $1) to their newest stored trade where it is not
    /// that trade any more; returns that trade of each symbol (symbol, trade_seq, µs, open, high,
    /// low, close, volume, seq) and whether latest_price moved. A symbol with no trade left gets
    /// back the price it had before its first (`tickd_latest.previous_close`), its newest-tick
    /// row goes (its next trade is a first again), and it comes back with NULLs.
    let restoreLatest: String
    /// The seq an event is stored under, if it is (`UncertainCommit`).
    static let storedEvent = "SELECT seq FROM tickd_trade_events WHERE symbol = $1 AND seq = $2"

    init(_ options: SchemaOptions) {
        let ticks = options.ticksTable.sql
        func window(_ column: String) -> String {
            """
            \(column) >= (((($3::timestamptz AT TIME ZONE $4)::date - \(Self.windowDays))::timestamp) AT TIME ZONE $4)
            AND \(column) < (((($3::timestamptz AT TIME ZONE $4)::date + 1)::timestamp) AT TIME ZONE $4)
            """
        }
        find = """
            SELECT (extract(epoch FROM time) * 1000000)::int8, open, high, low, close, volume, seq FROM \(ticks)
            WHERE symbol = $1 AND trade_seq = $2 AND \(window("time"))
            """
        cancelled = """
            SELECT count(*) FROM tickd_trade_events
            WHERE symbol = $1 AND trade_seq = $2 AND action = 'cancel' AND \(window("previous_time"))
            """
        delete = "DELETE FROM \(ticks) WHERE symbol = $1 AND time = $2 AND trade_seq = $3"
        insertCorrected = """
            INSERT INTO \(ticks) (time, symbol, trade_seq, open, high, low, close, volume, seq)
            VALUES ($2, $1, $3, $4, $5, $6, $7, $8, (SELECT last_seq FROM tickd_symbol_seq WHERE symbol = $1))
            """
        restoreLatest = """
            WITH newest AS (
                SELECT s.symbol, t.time, t.trade_seq, t.open, t.high, t.low, t.close, t.volume, t.seq
                FROM unnest($2::text[]) AS s(symbol)
                CROSS JOIN LATERAL (SELECT m.time, m.trade_seq, m.open, m.high, m.low, m.close, m.volume, m.seq FROM \(ticks) m
                                    WHERE m.symbol = s.symbol ORDER BY m.time DESC, m.trade_seq DESC LIMIT 1) t
            ), moved AS (
                UPDATE tickd_latest l SET time = n.time, trade_seq = n.trade_seq, close = n.close,
                    trading_day = (n.time AT TIME ZONE $1)::date
                FROM newest n WHERE l.symbol = n.symbol AND (l.time, l.trade_seq, l.close) IS DISTINCT FROM (n.time, n.trade_seq, n.close)
                RETURNING l.symbol
            ), updated AS (
                UPDATE \(options.stocksTable.sql) AS st SET latest_price = n.close, updated_at = now()
                FROM newest n JOIN moved USING (symbol) WHERE st.symbol = n.symbol
            ), emptied AS (
                DELETE FROM tickd_latest l USING unnest($2::text[]) AS s(symbol)
                WHERE l.symbol = s.symbol AND NOT EXISTS (SELECT 1 FROM newest n WHERE n.symbol = s.symbol)
                RETURNING l.symbol, l.previous_close
            ), reverted AS (
                UPDATE \(options.stocksTable.sql) AS st SET latest_price = e.previous_close, updated_at = now()
                FROM emptied e WHERE st.symbol = e.symbol AND e.previous_close IS NOT NULL
            )
            SELECT n.symbol, n.trade_seq, (extract(epoch FROM n.time) * 1000000)::int8, n.open, n.high, n.low, n.close, n.volume, n.seq,
                   moved.symbol IS NOT NULL
            FROM newest n LEFT JOIN moved USING (symbol)
            UNION ALL
            SELECT e.symbol, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true FROM emptied e
            """
    }
}
