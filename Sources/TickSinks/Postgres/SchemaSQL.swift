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

    /// TimescaleDB: hypertable, compression and retention policies, continuous aggregates.
    static func timescale(_ o: SchemaOptions) -> String {
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
        let candles: [(String, String, String, String, String)] = [
            ("market_candles_1m", "time_bucket(INTERVAL '1 minute', time)", "3 hours", "1 minute", "1 minute"),
            ("market_candles_1h", "time_bucket(INTERVAL '1 hour', time)", "3 days", "1 hour", "30 minutes"),
            ("market_candles_1d", "time_bucket(INTERVAL '1 day', time, \(sqlLiteral(o.exchangeZone)))", "30 days", "1 hour", "1 hour"),
        ]
        for (view, bucket, start, end, every) in candles {
            sql += """
            CREATE MATERIALIZED VIEW IF NOT EXISTS \(view) WITH (timescaledb.continuous) AS
                SELECT \(bucket) AS bucket, symbol,
                       first(open, time) AS open, max(high) AS high, min(low) AS low, last(close, time) AS close,
                       sum(volume) AS volume, count(*) AS ticks
                FROM \(ticks) GROUP BY bucket, symbol WITH NO DATA;
            SELECT add_continuous_aggregate_policy('\(view)', start_offset => INTERVAL '\(start)',
                end_offset => INTERVAL '\(end)', schedule_interval => INTERVAL '\(every)', if_not_exists => TRUE);

            """
        }
        return sql
    }

    /// Plain PostgreSQL: a time index and plain views with the same names and columns.
    static func plain(_ o: SchemaOptions) -> String {
        let ticks = o.ticksTable.sql
        var sql = "CREATE INDEX IF NOT EXISTS \(o.ticksTable.derived("time_idx")) ON \(ticks) (time DESC);\n"
        let candles = [("market_candles_1m", "date_trunc('minute', time)"), ("market_candles_1h", "date_trunc('hour', time)"),
                       ("market_candles_1d", "date_trunc('day', time, \(sqlLiteral(o.exchangeZone)))")]
        for (view, bucket) in candles {
            sql += """
            CREATE OR REPLACE VIEW \(view) AS
                SELECT \(bucket) AS bucket, symbol,
                       (array_agg(open ORDER BY time, trade_seq))[1] AS open, max(high) AS high, min(low) AS low,
                       (array_agg(close ORDER BY time DESC, trade_seq DESC))[1] AS close,
                       sum(volume) AS volume, count(*) AS ticks
                FROM \(ticks) GROUP BY 1, 2;

            """
        }
        return sql
    }
}
