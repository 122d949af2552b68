/// The SQL of each migration step, built from validated names (identifiers are quoted;
/// nothing from feed data ever appears here).
enum SchemaSQL {
    static func tables(_ o: SchemaOptions) -> String {
        let ticks = o.ticksTable.sql
        return """
        CREATE TABLE IF NOT EXISTS \(o.stocksTable.sql) (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            symbol varchar(32) NOT NULL UNIQUE,
            name varchar(255) NOT NULL,
            exchange varchar(16) NOT NULL DEFAULT 'NSE',
            sector varchar(64),
            currency varchar(3) NOT NULL DEFAULT 'KES',
            lot_size integer NOT NULL DEFAULT 100,
            market_cap numeric,
            latest_price numeric,
            previous_close numeric,
            pe_ratio numeric,
            dividend_yield numeric,
            metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS \(ticks) (
            time timestamptz NOT NULL,
            symbol text NOT NULL,
            trade_seq bigint NOT NULL,
            open numeric NOT NULL,
            high numeric NOT NULL,
            low numeric NOT NULL,
            close numeric NOT NULL,
            volume bigint NOT NULL,
            seq bigint NOT NULL,
            CONSTRAINT \(o.ticksTable.derived("key")) UNIQUE (symbol, time, trade_seq)
        );
        CREATE INDEX IF NOT EXISTS \(o.ticksTable.derived("symbol_seq_idx")) ON \(ticks) (symbol, seq);
        CREATE TABLE IF NOT EXISTS tickd_symbol_seq (
            symbol text PRIMARY KEY,
            last_seq bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS tickd_latest (
            symbol text PRIMARY KEY,
            time timestamptz NOT NULL,
            trade_seq bigint NOT NULL,
            close numeric NOT NULL,
            trading_day date NOT NULL,
            previous_close numeric
        );
        CREATE TABLE IF NOT EXISTS tickd_source_offsets (
            source text PRIMARY KEY,
            line bigint NOT NULL,
            ticks bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        """
    }

    /// Reliability bookkeeping: resumable stream positions and the Redis outbox watermark.
    static let reliability = """
        CREATE TABLE IF NOT EXISTS tickd_positions (
            stream text PRIMARY KEY,
            identity text NOT NULL,
            applied bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        ALTER TABLE tickd_symbol_seq ADD COLUMN IF NOT EXISTS published_seq bigint;
        UPDATE tickd_symbol_seq SET published_seq = last_seq WHERE published_seq IS NULL;
        ALTER TABLE tickd_symbol_seq ALTER COLUMN published_seq SET DEFAULT 0,
                                     ALTER COLUMN published_seq SET NOT NULL;
        """

    /// The database's identity: a random id made once, by `migrate`. It is data, so a restored
    /// backup keeps it, and any other database has another: a journal bound to one id is never
    /// applied to a database with another.
    static let identity = """
        CREATE TABLE IF NOT EXISTS tickd_database (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            created_at timestamptz NOT NULL DEFAULT now(),
            one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row)
        );
        INSERT INTO tickd_database DEFAULT VALUES ON CONFLICT DO NOTHING;
        """

    /// The trading day for which `previous_close` holds the official close of the day before;
    /// a tick of a later day, or a late tick of an earlier one, makes tickd set it again.
    static let officialClose = """
        ALTER TABLE tickd_latest ADD COLUMN IF NOT EXISTS previous_close_day date;
        """

    /// Trades the price checks held back, until an operator releases them (`tickd quarantine`),
    /// and the exchange's changes to a symbol's daily limit (`limit_percent` NULL: lifted).
    static let priceChecks = """
        CREATE TABLE IF NOT EXISTS tickd_quarantine (
            id bigserial PRIMARY KEY,
            quarantined_at timestamptz NOT NULL DEFAULT now(),
            time timestamptz NOT NULL,
            symbol text NOT NULL,
            trade_seq bigint NOT NULL,
            open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL, close numeric NOT NULL,
            volume bigint NOT NULL,
            violations text[] NOT NULL,
            previous_close numeric,
            limit_percent numeric,
            released_at timestamptz
        );
        CREATE INDEX IF NOT EXISTS tickd_quarantine_held_idx ON tickd_quarantine (id) WHERE released_at IS NULL;
        CREATE TABLE IF NOT EXISTS tickd_price_limits (
            symbol text NOT NULL,
            trading_day date NOT NULL,
            limit_percent numeric CHECK (limit_percent > 0),
            note text,
            PRIMARY KEY (symbol, trading_day)
        );
        """

    /// A trade is held once: a replay of the same feed finds it held (or released) already.
    static let quarantineOncePerTrade = """
        DELETE FROM tickd_quarantine a USING tickd_quarantine b
        WHERE a.symbol = b.symbol AND a.time = b.time AND a.trade_seq = b.trade_seq AND a.id > b.id;
        CREATE UNIQUE INDEX IF NOT EXISTS tickd_quarantine_trade_idx ON tickd_quarantine (symbol, time, trade_seq);
        """

    /// Corrections and cancels, each under the seq its message went out with: what the message
    /// said (a cancel: the cancelled trade; a correction: the new values), the seq and values the
    /// trade had before. The gap-fill query and the outbox read messages from here for these seqs.
    static let tradeEvents = """
        CREATE TABLE IF NOT EXISTS tickd_trade_events (
            symbol text NOT NULL,
            seq bigint NOT NULL,
            action text NOT NULL CHECK (action IN ('correct', 'cancel')),
            trade_seq bigint NOT NULL,
            time timestamptz NOT NULL,
            open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL, close numeric NOT NULL,
            volume bigint NOT NULL,
            ref_seq bigint NOT NULL,
            previous_time timestamptz NOT NULL,
            previous_open numeric NOT NULL, previous_high numeric NOT NULL, previous_low numeric NOT NULL, previous_close numeric NOT NULL,
            previous_volume bigint NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (symbol, seq)
        );
        -- A batch of trades looks here for superseded versions in its range of times.
        CREATE INDEX IF NOT EXISTS tickd_trade_events_previous_idx ON tickd_trade_events (symbol, previous_time);
        """

    /// The status of each instrument that was ever halted, suspended or resumed, and of the market
    /// (symbol `*`): what it is, since when, why, and who said so (`feed`, `operator`, `clock`);
    /// the Stock Soko backend reads it. And every change, from which the sink knows whether an
    /// instrument was halted at a trade's time.
    static let tradingStatus = """
        CREATE TABLE IF NOT EXISTS tickd_trading_status (
            symbol text PRIMARY KEY,
            status text NOT NULL CHECK (status IN ('halted', 'suspended', 'resumed', 'pre_open', 'open', 'closed')),
            since timestamptz NOT NULL,
            reason text,
            source text NOT NULL CHECK (source IN ('feed', 'operator', 'clock')),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        -- Every change, for what was in force when: a trade is held by the status at its time.
        CREATE TABLE IF NOT EXISTS tickd_trading_status_changes (
            symbol text NOT NULL,
            since timestamptz NOT NULL,
            status text NOT NULL CHECK (status IN ('halted', 'suspended', 'resumed', 'pre_open', 'open', 'closed')),
            reason text,
            source text NOT NULL CHECK (source IN ('feed', 'operator', 'clock')),
            recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (symbol, since, status)
        )
        """

    /// Splits, bonus issues and consolidations (`tickd corporate-actions import`), and an exact
    /// product aggregate for their ratios.
    static let corporateActions = """
        CREATE TABLE IF NOT EXISTS tickd_corporate_actions (
            symbol text NOT NULL,
            ex_date date NOT NULL,
            kind text NOT NULL CHECK (kind IN ('split', 'bonus', 'consolidation')),
            ratio_new bigint NOT NULL CHECK (ratio_new > 0),
            ratio_old bigint NOT NULL CHECK (ratio_old > 0),
            imported_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (symbol, ex_date, kind)
        );
        CREATE OR REPLACE AGGREGATE tickd_product(numeric) (sfunc = numeric_mul, stype = numeric, initcond = '1');
        """

    /// The candles in today's shares: every bucket before a corporate action's ex-date has its
    /// prices times old/new (4 places) and its volume times new/old; `price_factor` says by what.
    /// Buckets on or after the last ex-date, and instruments without one, are as traded.
    static func adjustedCandles(_ o: SchemaOptions, schema: String) -> String {
        candles(o).map { candle in
            func price(_ column: String) -> String { "CASE WHEN f.new = f.old THEN c.\(column) ELSE round(c.\(column) * f.old / f.new, 4) END AS \(column)" }
            return """
                CREATE OR REPLACE VIEW \(quotedIdentifier(schema)).\(candle.view)_adjusted AS
                SELECT c.bucket, c.symbol, \(price("open")), \(price("high")), \(price("low")), \(price("close")),
                       CASE WHEN f.new = f.old THEN c.volume ELSE round(c.volume * f.new / f.old, 4) END AS volume,
                       c.ticks, c.turnover, \(price("vwap")), round(f.old / f.new, 10) AS price_factor
                FROM \(candle.name(in: schema)) c
                CROSS JOIN LATERAL (SELECT tickd_product(a.ratio_old) AS old, tickd_product(a.ratio_new) AS new
                                    FROM tickd_corporate_actions a
                                    WHERE a.symbol = c.symbol AND a.ex_date > (c.bucket AT TIME ZONE \(sqlLiteral(o.exchangeZone)))::date) f;

                """
        }.joined()
    }

    /// The adjusted views go before the candles they read are dropped.
    static func dropAdjustedCandles(_ o: SchemaOptions, schema: String) -> String {
        candles(o).reversed().map { "DROP VIEW IF EXISTS \(quotedIdentifier(schema)).\($0.view)_adjusted;\n" }.joined()
    }

    /// Who owns `stocks` ($1: `tickd` or `application`): `tickd seed` updates the rows of a table
    /// tickd created, and only adds rows to the application's unless asked to overwrite.
    static let stocksOwner = [
        "ALTER TABLE tickd_database ADD COLUMN IF NOT EXISTS stocks_owner text CHECK (stocks_owner IN ('tickd', 'application'))",
        "UPDATE tickd_database SET stocks_owner = $1 WHERE stocks_owner IS NULL"]

    /// TimescaleDB storage: `market_ticks` as a hypertable (rows of a plain table are moved into
    /// chunks), compression by symbol and the compression and retention policies.
    static func hypertable(_ o: SchemaOptions) -> String {
        let ticks = o.ticksTable.sql
        var sql = """
        SELECT create_hypertable(\(o.ticksTable.literal), 'time',
            chunk_time_interval => INTERVAL '\(o.chunkIntervalHours) hours', if_not_exists => TRUE, migrate_data => TRUE);
        ALTER TABLE \(ticks) SET (timescaledb.compress,
            timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'time DESC, trade_seq');
        SELECT add_compression_policy(\(o.ticksTable.literal), INTERVAL '\(o.compressAfterDays) days', if_not_exists => TRUE);

        """
        if o.retentionDays > 0 {
            sql += "SELECT add_retention_policy(\(o.ticksTable.literal), INTERVAL '\(o.retentionDays) days', if_not_exists => TRUE);\n"
        }
        return sql
    }

    /// Plain PostgreSQL storage: a time index.
    static func plainStorage(_ o: SchemaOptions) -> String {
        "CREATE INDEX IF NOT EXISTS \(o.ticksTable.derived("time_idx")) ON \(o.ticksTable.sql) (time DESC);\n"
    }

    /// One candle view: its name and its bucket (one `unit`; in the exchange `zone` when it has one).
    /// The views live in the schema tickd creates its objects in (`current_schema()`, the first
    /// schema of the search_path), and every statement names that schema: an unqualified name
    /// resolves through the whole search_path and could reach another schema's candles.
    struct Candle {
        let view: String
        let unit: String
        let zone: String?

        /// The view in `schema`, quoted.
        func name(in schema: String) -> String { quotedIdentifier(schema) + "." + view }

        /// The bucket width as an interval literal's text (`1 minute`).
        var width: String { "1 \(unit)" }

        /// The bucket of a time expression (`time`, a finer candle's `bucket`, `now()`):
        /// TimescaleDB's time_bucket, or date_trunc on plain PostgreSQL (the same buckets).
        func bucket(_ time: String, timescale: Bool) -> String {
            let zoneArgument = zone.map { ", \(sqlLiteral($0))" } ?? ""
            return timescale ? "time_bucket(INTERVAL '\(width)', \(time)\(zoneArgument))" : "date_trunc('\(unit)', \(time)\(zoneArgument))"
        }
    }

    /// The three candles, finest first. The daily bucket is the exchange's trading day (midnight
    /// to midnight in its zone); minutes and hours are the same in every zone.
    static func candles(_ o: SchemaOptions) -> [Candle] {
        [Candle(view: "market_candles_1m", unit: "minute", zone: nil), Candle(view: "market_candles_1h", unit: "hour", zone: nil),
         Candle(view: "market_candles_1d", unit: "day", zone: o.exchangeZone)]
    }

    /// Every candle's columns, aggregated from ticks: open and close are the first and last trade
    /// by (time, trade_seq), so same-instant trades keep the feed's order; turnover is
    /// Σ close × volume and vwap = turnover ÷ volume to 4 places.
    /// TimescaleDB has first()/last() by one sort key: (time, trade_seq) packed into 16 bytes that
    /// compare (bytewise) in the pair's order — time's 8 big-endian bytes (within one bucket all
    /// times have the same sign, so they compare as the times do), then trade_seq with its sign
    /// bit flipped. A ROW key breaks the aggregate's parallel state ("input of anonymous composite
    /// types"); an exact numeric key made the minute aggregate 65 % slower, these bytes 15 %.
    /// Plain PostgreSQL takes the ends of an ordered array.
    static func candleFromTicks(_ bucket: String, timescale: Bool) -> String {
        let order = "timestamptz_send(time) || int8send(trade_seq # (-9223372036854775808)::int8)"
        let open = timescale ? "first(open, \(order))" : "(array_agg(open ORDER BY time, trade_seq))[1]"
        let close = timescale ? "last(close, \(order))" : "(array_agg(close ORDER BY time DESC, trade_seq DESC))[1]"
        return """
        \(bucket) AS bucket, symbol,
               \(open) AS open, max(high) AS high, min(low) AS low,
               \(close) AS close, sum(volume) AS volume, count(*) AS ticks,
               sum(close * volume) AS turnover, round(sum(close * volume) / NULLIF(sum(volume), 0), 4) AS vwap
        """
    }

    /// The same columns aggregated from one-minute candles (each minute is whole: first and last by bucket).
    static func candleFromMinutes(_ bucket: String) -> String {
        """
        \(bucket) AS bucket, symbol,
               first(open, bucket) AS open, max(high) AS high, min(low) AS low, last(close, bucket) AS close,
               sum(volume) AS volume, sum(ticks)::bigint AS ticks,
               sum(turnover) AS turnover, round(sum(turnover) / NULLIF(sum(volume), 0), 4) AS vwap
        """
    }

    /// TimescaleDB candles: continuous aggregates with real-time aggregation (buckets past the
    /// materialised ones are computed from the ticks when read). The minute candle aggregates the
    /// ticks; the hour and the day aggregate the minutes (hierarchical, so a refresh reads minutes,
    /// not ticks). tickd refreshes them after its commits (`CandleRefresher`); the policies are a
    /// backstop for rows written by anything else.
    static func candleAggregates(_ o: SchemaOptions, schema: String) -> String {
        var sql = ""
        let all = candles(o)
        for (index, candle) in all.enumerated() {
            let select = index == 0
                ? "SELECT \(candleFromTicks(candle.bucket("time", timescale: true), timescale: true)) FROM \(o.ticksTable.sql)"
                : "SELECT \(candleFromMinutes(candle.bucket("bucket", timescale: true))) FROM \(all[0].name(in: schema))"
            sql += """
            CREATE MATERIALIZED VIEW \(candle.name(in: schema)) WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
                \(select) GROUP BY 1, symbol WITH NO DATA;
            SELECT add_continuous_aggregate_policy(\(sqlLiteral(candle.name(in: schema))), start_offset => NULL,
                end_offset => INTERVAL '\(candle.width)', schedule_interval => INTERVAL '1 hour',
                initial_start => now() + INTERVAL '1 hour', if_not_exists => TRUE);

            """
        }
        return sql
    }

    /// Plain PostgreSQL candles: views with the same names, columns and definitions.
    static func candleViews(_ o: SchemaOptions, schema: String) -> String {
        var sql = ""
        for candle in candles(o) {
            let columns = candleFromTicks(candle.bucket("time", timescale: false), timescale: false)
            sql += "CREATE VIEW \(candle.name(in: schema)) AS\n    SELECT \(columns)\n    FROM \(o.ticksTable.sql) GROUP BY 1, symbol;\n"
        }
        return sql
    }

    /// Drops the candles of `mode` (coarsest first: the hour and day may be built on the minute).
    /// Without CASCADE: a view of the application's built on a candle stops the migration.
    static func dropCandles(_ o: SchemaOptions, mode: StorageMode, schema: String) -> String {
        dropAdjustedCandles(o, schema: schema) + candles(o).reversed().map { "DROP \(mode == .timescale ? "MATERIALIZED VIEW" : "VIEW") IF EXISTS \($0.name(in: schema));\n" }.joined()
    }

    /// The refresh of each candle aggregate, finest first, up to the start of the current bucket:
    /// buckets still open stay real-time (computed from the ticks when read). Each must run
    /// outside a transaction block.
    static func refreshCandles(_ o: SchemaOptions, schema: String) -> [String] {
        candles(o).map { "CALL refresh_continuous_aggregate(\(sqlLiteral($0.name(in: schema))), NULL, \($0.bucket("now()", timescale: true)))" }
    }

    /// The schema tickd creates its objects in.
    static let currentSchema = "SELECT current_schema()"
}
