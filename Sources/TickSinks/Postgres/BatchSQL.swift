import TickModel

/// The statements of one batch write. Feed values never appear in them: ticks travel as binary
/// COPY data, the zone, source and counts as parameters; table names are validated identifiers.
struct BatchSQL {
    let createStaging: String
    let copy: String
    let reserveSeqs: String
    let copyNew: String
    /// The seq a trade is stored under, if it is (`UncertainCommit`).
    let storedSeq: String
    let deleteUnchanged: String
    let deleteSuperseded: String
    let upsert: String
    let latest: String
    let officialClose: String
    let offsets: String
    let position: String
    let readPosition: String
    let published: String
    let markAllPublished: String
    let unpublished: String
    let skipUnpublished = """
        WITH owed AS (SELECT symbol, published_seq FROM tickd_symbol_seq WHERE published_seq < last_seq FOR UPDATE)
        UPDATE tickd_symbol_seq c SET published_seq = c.last_seq FROM owed WHERE c.symbol = owed.symbol
        RETURNING c.symbol, owed.published_seq + 1, c.last_seq
        """
    static let transactionID = "SELECT txid_current()"
    /// Trades held back by the price checks and the trading holds ($9: each one's violations,
    /// comma-separated). A trade held or released before is left as it is, unless it comes with
    /// other values (a correction): then it is held again with them. A trade stored as it is (a
    /// replay of a day whose halt was learnt after its trades went in) is not held; the statement
    /// returns how many were left out so.
    let quarantine: String
    /// Per session. JIT compiles a statement whose estimated cost passes jit_above_cost; a batch
    /// statement is small, but a chunk that compression left full of dead rows until VACUUM
    /// inflates its estimate, and the merge path's check spent 175 of its 229 ms compiling.
    static let sessionSettings = "SET jit = off"
    /// The statements of every batch, prepared once per connection (parsed and planned once).
    var prepared: [(name: String, sql: String)] {
        [("tickd_reserve_seqs", reserveSeqs), ("tickd_latest", latest), ("tickd_official_close", officialClose), ("tickd_offsets", offsets),
         ("tickd_position", position), ("tickd_published", published), ("tickd_mark_published", markAllPublished),
         ("tickd_status_changes", TradingStatusSQL.changeCount)]
    }
    /// Whether a transaction is still running (`UncertainCommit`).
    static let transactionStatus = "SELECT txid_status($1)"

    init(_ options: SchemaOptions) {
        let ticks = options.ticksTable.sql
        let stocks = options.stocksTable.sql
        quarantine = """
            WITH q AS (
                SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::int8[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[],
                                     $8::int8[], $9::text[], $10::numeric[], $11::numeric[])
                     AS q(time, symbol, trade_seq, open, high, low, close, volume, violations, previous_close, limit_percent)
            ), stored AS (
                SELECT q.* FROM q WHERE EXISTS (
                    SELECT 1 FROM \(ticks) m WHERE m.symbol = q.symbol AND m.time = q.time AND m.trade_seq = q.trade_seq
                    AND (m.open, m.high, m.low, m.close, m.volume) = (q.open, q.high, q.low, q.close, q.volume))
            ), held AS (
                INSERT INTO tickd_quarantine (time, symbol, trade_seq, open, high, low, close, volume, violations, previous_close, limit_percent)
                SELECT q.time, q.symbol, q.trade_seq, q.open, q.high, q.low, q.close, q.volume, string_to_array(q.violations, ','),
                       q.previous_close, q.limit_percent
                FROM q WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.symbol = q.symbol AND s.time = q.time AND s.trade_seq = q.trade_seq)
                ON CONFLICT (symbol, time, trade_seq) DO UPDATE SET
                    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume,
                    violations = EXCLUDED.violations, previous_close = EXCLUDED.previous_close, limit_percent = EXCLUDED.limit_percent,
                    quarantined_at = now(), released_at = NULL
                WHERE (tickd_quarantine.open, tickd_quarantine.high, tickd_quarantine.low, tickd_quarantine.close, tickd_quarantine.volume)
                      IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
            )
            SELECT count(*) FROM stored
            """
        createStaging = """
            CREATE TEMP TABLE IF NOT EXISTS tickd_staging (
                time timestamptz NOT NULL, symbol text NOT NULL, trade_seq bigint NOT NULL,
                open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL, close numeric NOT NULL,
                volume bigint NOT NULL) ON COMMIT DELETE ROWS
            """
        copy = "COPY tickd_staging (time, symbol, trade_seq, open, high, low, close, volume) FROM STDIN (FORMAT binary)"
        // The fast path, for a batch of new ticks only: take each symbol's seqs ($1 symbols, $2
        // counts), then COPY the numbered rows straight into the ticks table. Nothing is taken
        // (no row returned) when a stored tick of a symbol lies within the batch's key range of
        // that symbol, from its first (time $3, trade_seq $5) to its last time ($4): the batch then
        // takes the merge path below. (A range of times alone would send every batch of a fast
        // feed to the merge path: its first trades share an instant with the last batch's last.)
        // The probe is an index range scan, or on a compressed chunk a look at the batches' time
        // metadata (as a LATERAL with LIMIT; as a plain EXISTS, TimescaleDB decompressed every
        // batch of the symbol up to the range); a failed COPY would cost far more there, since
        // TimescaleDB decompresses the batches a COPY touches to check the unique key. A tick
        // stored meanwhile by another writer still makes the COPY fail on the unique key, and the
        // batch is merged then. A symbol whose batch starts after its newest stored tick
        // (`tickd_latest`, moved in every batch's transaction) has nothing stored in the range:
        // the probe is skipped (a one-time filter), which is every batch of a live feed. Were
        // `tickd_latest` behind the ticks table, the unique key would still catch a duplicate.
        storedSeq = "SELECT seq FROM \(ticks) WHERE symbol = $1 AND time = $2::timestamptz AND trade_seq = $3"
        reserveSeqs = """
            INSERT INTO tickd_symbol_seq AS c (symbol, last_seq) SELECT * FROM unnest($1::text[], $2::int8[])
            WHERE NOT EXISTS (
                SELECT 1 FROM unnest($1::text[], $3::timestamptz[], $5::int8[], $4::timestamptz[]) AS r(symbol, first, first_seq, last)
                    LEFT JOIN tickd_latest l ON l.symbol = r.symbol,
                    LATERAL (SELECT 1 FROM \(ticks) t
                             WHERE (l.symbol IS NULL OR (l.time, l.trade_seq) >= (r.first, r.first_seq))
                               AND t.symbol = r.symbol AND t.time >= r.first AND t.time <= r.last
                               AND (t.time > r.first OR t.trade_seq >= r.first_seq) LIMIT 1) m)
            AND NOT EXISTS (
                SELECT 1 FROM unnest($1::text[], $3::timestamptz[], $4::timestamptz[]) AS r(symbol, first, last)
                    JOIN tickd_trade_events e ON e.symbol = r.symbol AND e.previous_time >= r.first AND e.previous_time <= r.last)
            ON CONFLICT (symbol) DO UPDATE SET last_seq = c.last_seq + EXCLUDED.last_seq
            RETURNING c.symbol, c.last_seq
            """
        copyNew = "COPY \(ticks) (time, symbol, trade_seq, open, high, low, close, volume, seq) FROM STDIN (FORMAT binary)"
        // A trade a correction or cancel superseded (the same key and values as an event's
        // trade before it) is not stored again: a replay of a feed that cancelled or corrected
        // trades changes nothing. The probe above sends a batch with such a key in its range here.
        deleteSuperseded = """
            DELETE FROM tickd_staging s USING tickd_trade_events e
            WHERE e.symbol = s.symbol AND e.previous_time = s.time AND e.trade_seq = s.trade_seq
              AND (e.previous_open, e.previous_high, e.previous_low, e.previous_close, e.previous_volume) = (s.open, s.high, s.low, s.close, s.volume)
            """
        // The merge path. Ticks already stored with the same values are not stored again (a replay
        // changes nothing). The stored rows are read per symbol over the batch's time range of
        // that symbol (LATERAL, kept a nested loop by OFFSET 0): an index range scan on a plain
        // chunk, and on a compressed chunk only the batches of that symbol and range are
        // decompressed (one probe per staged tick would decompress the symbol's whole segment);
        // they are then hash-joined with the staged ticks.
        deleteUnchanged = """
            DELETE FROM tickd_staging s
            USING (SELECT symbol, min(time) AS first, max(time) AS last FROM tickd_staging GROUP BY symbol) r,
                  LATERAL (SELECT * FROM \(ticks) t WHERE t.symbol = r.symbol AND t.time >= r.first AND t.time <= r.last OFFSET 0) m
            WHERE m.symbol = s.symbol AND m.time = s.time AND m.trade_seq = s.trade_seq
              AND m.open = s.open AND m.high = s.high AND m.low = s.low AND m.close = s.close AND m.volume = s.volume
            """
        // Every remaining tick is new or changed: number them per symbol in time order, take that
        // many sequence numbers from the symbol's counter, and store them.
        upsert = """
            WITH numbered AS (
                SELECT s.*, row_number() OVER (PARTITION BY symbol ORDER BY time, trade_seq) AS rn,
                       count(*) OVER (PARTITION BY symbol) AS n
                FROM tickd_staging s
            ), counters AS (
                INSERT INTO tickd_symbol_seq AS c (symbol, last_seq)
                SELECT symbol, max(n) FROM numbered GROUP BY symbol
                ON CONFLICT (symbol) DO UPDATE SET last_seq = c.last_seq + EXCLUDED.last_seq
                RETURNING c.symbol, c.last_seq
            )
            INSERT INTO \(ticks) AS m (time, symbol, trade_seq, open, high, low, close, volume, seq)
            SELECT n.time, n.symbol, n.trade_seq, n.open, n.high, n.low, n.close, n.volume, c.last_seq - n.n + n.rn
            FROM numbered n JOIN counters c USING (symbol)
            ON CONFLICT (symbol, time, trade_seq) DO UPDATE SET
                open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
                volume = EXCLUDED.volume, seq = EXCLUDED.seq
            RETURNING m.symbol, (extract(epoch FROM m.time) * 1000000)::int8, m.trade_seq, m.seq
            """
        // latest_price follows the newest stored tick of each symbol ($2 symbols, $3 times, $4
        // trade_seqs, $5 closes, $1 the exchange zone; a corrected newest trade moves it too). A
        // symbol's first tick ever takes previous_close from the price stocks held until then;
        // after that, officialClose sets it.
        latest = """
            WITH newest AS (
                SELECT symbol, time, trade_seq, close, (time AT TIME ZONE $1)::date AS day
                FROM unnest($2::text[], $3::timestamptz[], $4::int8[], $5::numeric[]) AS v(symbol, time, trade_seq, close)
            ), moved AS (
                INSERT INTO tickd_latest AS l (symbol, time, trade_seq, close, trading_day, previous_close)
                SELECT n.symbol, n.time, n.trade_seq, n.close, n.day, st.latest_price
                FROM newest n LEFT JOIN \(stocks) st ON st.symbol = n.symbol
                ON CONFLICT (symbol) DO UPDATE SET
                    trading_day = EXCLUDED.trading_day, time = EXCLUDED.time, trade_seq = EXCLUDED.trade_seq,
                    close = EXCLUDED.close
                WHERE (EXCLUDED.time, EXCLUDED.trade_seq) >= (l.time, l.trade_seq)
                RETURNING l.symbol, l.close, l.previous_close
            ), updated AS (
                UPDATE \(stocks) AS s SET latest_price = moved.close,
                    previous_close = COALESCE(moved.previous_close, s.previous_close), updated_at = now()
                FROM moved WHERE s.symbol = moved.symbol
            )
            SELECT symbol FROM moved
            """
        officialClose = Self.officialClose(options, stocks: stocks)
        offsets = """
            INSERT INTO tickd_source_offsets AS o (source, line, ticks, updated_at) VALUES ($1, $2, $3, now())
            ON CONFLICT (source) DO UPDATE SET line = EXCLUDED.line, ticks = o.ticks + EXCLUDED.ticks, updated_at = now()
            """
        // Where a stream (file or journal) is applied to; written with the ticks, read to resume.
        // Parallel writers commit in any order, so a stream's position only moves forward.
        position = """
            INSERT INTO tickd_positions AS p (stream, identity, applied, updated_at) VALUES ($1, $2, $3, now())
            ON CONFLICT (stream) DO UPDATE SET identity = EXCLUDED.identity, updated_at = now(),
                applied = CASE WHEN p.identity = EXCLUDED.identity THEN GREATEST(p.applied, EXCLUDED.applied) ELSE EXCLUDED.applied END
            """
        readPosition = "SELECT identity, applied FROM tickd_positions WHERE stream = $1"
        // The Redis outbox: per symbol, every seq up to published_seq went out (or was logged as a gap).
        published = """
            UPDATE tickd_symbol_seq AS c SET published_seq = GREATEST(c.published_seq, v.seq)
            FROM unnest($1::text[], $2::int8[]) AS v(symbol, seq) WHERE c.symbol = v.symbol AND v.seq > c.published_seq
            """
        markAllPublished = "UPDATE tickd_symbol_seq SET published_seq = last_seq WHERE published_seq < last_seq"
        // Trades from the ticks table, corrections and cancels from the events table (which says
        // what their messages said), each under its seq.
        unpublished = """
            SELECT u.symbol, (extract(epoch FROM u.time) * 1000000)::int8, u.trade_seq, u.open, u.high, u.low, u.close,
                   u.volume, u.seq, (l.time = u.time AND l.trade_seq = u.trade_seq AND u.action <> 'cancel'), u.action, u.ref_seq
            FROM (
                SELECT m.symbol, m.time, m.trade_seq, m.open, m.high, m.low, m.close, m.volume, m.seq, 'trade' AS action, NULL::int8 AS ref_seq
                FROM tickd_symbol_seq c JOIN \(ticks) m ON m.symbol = c.symbol AND m.seq > c.published_seq
                WHERE c.published_seq < c.last_seq
                  AND NOT EXISTS (SELECT 1 FROM tickd_trade_events e WHERE e.symbol = m.symbol AND e.seq = m.seq)
                UNION ALL
                SELECT e.symbol, e.time, e.trade_seq, e.open, e.high, e.low, e.close, e.volume, e.seq, e.action, e.ref_seq
                FROM tickd_symbol_seq c JOIN tickd_trade_events e ON e.symbol = c.symbol AND e.seq > c.published_seq
                WHERE c.published_seq < c.last_seq
            ) u LEFT JOIN tickd_latest l ON l.symbol = u.symbol
            ORDER BY u.symbol, u.seq LIMIT $1
            """
    }

    /// How many days back the official close looks for a day that has one (NSE: a day under
    /// 100 shares keeps the previous close, so the close may come from an earlier day).
    static let officialCloseWindowDays = 10

    /// Sets previous_close to the official close of the last trading day before each symbol's
    /// current one ($1 zone, $2 symbols, $3 the earliest stored time of each in this batch), for
    /// the symbols whose trading day moved on since it was last set, or that got a tick of an
    /// earlier day (a late tick changes that day's close). Computed from the stored ticks, after
    /// `latest` moved the trading day, so one batch holding two days is right too. No day with a
    /// close in the window: previous_close stands.
    static func officialClose(_ options: SchemaOptions, stocks: String) -> String {
        """
            WITH touched AS (
                SELECT v.symbol, min(v.time) AS first FROM unnest($2::text[], $3::timestamptz[]) AS v(symbol, time) GROUP BY v.symbol
            ), due AS (
                SELECT l.symbol, l.trading_day, (l.trading_day::timestamp AT TIME ZONE $1) AS day_start
                FROM touched t JOIN tickd_latest l ON l.symbol = t.symbol
                WHERE l.previous_close_day IS DISTINCT FROM l.trading_day OR t.first < (l.trading_day::timestamp AT TIME ZONE $1)
            ), \(officialCloses(options, of: "due", dayColumn: "trading_day")), settled AS (
                UPDATE tickd_latest l SET previous_close = COALESCE(o.close, l.previous_close), previous_close_day = u.trading_day
                FROM due u LEFT JOIN official o ON o.symbol = u.symbol
                WHERE l.symbol = u.symbol
                RETURNING l.symbol, l.previous_close
            )
            UPDATE \(stocks) AS s SET previous_close = settled.previous_close, updated_at = now()
            FROM settled WHERE s.symbol = settled.symbol AND s.previous_close IS DISTINCT FROM settled.previous_close
            """
    }

    /// Two CTEs: `days`, each stored day of the symbols of `input` (columns symbol, day_start and
    /// the trading day in `dayColumn`) in the window before its day_start, and `official`, per
    /// symbol the official close of the latest of those days that has one, in the shares of the
    /// input's day: divided by the ratios of the corporate actions whose ex-date lies after that
    /// day and on or before the input's (a 2-for-1 split halves it), rounded to the tick grid. The
    /// previous_close update and the price checks' references both read them.
    static func officialCloses(_ options: SchemaOptions, of input: String, dayColumn: String) -> String {
        let (close, qualifies) = officialCloseRule(options)
        return """
            days AS (
                SELECT i.symbol, (m.time AT TIME ZONE $1)::date AS day, sum(m.volume) AS volume,
                       sum(m.close * m.volume) / nullif(sum(m.volume), 0) AS vwap,
                       (array_agg(m.close ORDER BY m.time DESC, m.trade_seq DESC))[1] AS last
                FROM \(input) i JOIN \(options.ticksTable.sql) m ON m.symbol = i.symbol
                 AND m.time >= i.day_start - interval '\(officialCloseWindowDays) days' AND m.time < i.day_start
                GROUP BY 1, 2
            ), unadjusted AS (
                SELECT DISTINCT ON (d.symbol) d.symbol, d.day, \(close) AS close FROM days d WHERE \(qualifies) ORDER BY d.symbol, d.day DESC
            ), official AS (
                SELECT u.symbol, CASE WHEN f.new = f.old THEN u.close ELSE \(gridRounded("u.close * f.old / f.new", options, scaleOf: "u.close")) END AS close
                FROM unadjusted u JOIN \(input) i ON i.symbol = u.symbol
                CROSS JOIN LATERAL (SELECT tickd_product(a.ratio_old) AS old, tickd_product(a.ratio_new) AS new FROM tickd_corporate_actions a
                                    WHERE a.symbol = u.symbol AND a.ex_date > u.day AND a.ex_date <= i.\(dayColumn)) f
            )
            """
    }

    /// `value` rounded to the nearest tick of the profile's grid, halves up (TickSizeTable.rounded
    /// does the same); without a grid, to the scale of `scaleOf`.
    static func gridRounded(_ value: String, _ options: SchemaOptions, scaleOf: String) -> String {
        guard let grid = options.tickSizes else { return "round(\(value), scale(\(scaleOf)))" }
        let bounds = grid.bands.map(\.from.description).joined(separator: ","), steps = grid.bands.map(\.tick.description).joined(separator: ",")
        return """
            (SELECT round((\(value)) / b.tick) * b.tick FROM unnest('{\(bounds)}'::numeric[], '{\(steps)}'::numeric[]) AS b(lower, tick)
             WHERE (\(value)) >= b.lower ORDER BY b.lower DESC LIMIT 1)
            """
    }

    /// The official close of a day `d` (columns volume, vwap, last) by the profile's rule: the
    /// SQL for its value, and the condition for the day to have one.
    static func officialCloseRule(_ options: SchemaOptions) -> (close: String, qualifies: String) {
        switch options.closingPrice {
        case .lastTrade:
            return ("d.last", "true")
        case .vwap(let minimumVolume):
            let qualifies = "d.volume >= \(minimumVolume) AND d.volume > 0"
            guard options.tickSizes != nil else { return ("d.vwap", qualifies) }
            return (gridRounded("d.vwap", options, scaleOf: "d.vwap"), qualifies)
        }
    }
}
