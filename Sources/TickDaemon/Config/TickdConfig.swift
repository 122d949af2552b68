import Logging
import TickCodecs
import TickJournal
import TickKafka
import TickModel
import TickNormalisation
import TickSinks
import TickSources

/// The effective configuration: defaults, then the config file, then environment variables,
/// then command-line flags. Every key is documented in `config/tickd.yaml`.
public struct TickdConfig: Sendable {
    /// `exchange.timezone`: zone of naive times and of the trading day.
    public var timezone = "Africa/Nairobi"
    /// `exchange.profile`: the exchange's rules (official close, tick sizes); NSE by default.
    public var exchangeProfile = try! ExchangeProfile.parse(ExchangeProfile.nse, key: "exchange.profile")
    /// `exchange.price_limit_action`, `exchange.off_tick_action`: what happens to a trade outside
    /// the day's limit band, or off the tick grid.
    public var priceLimitAction = PriceCheck.Action.quarantine
    public var offTickAction = PriceCheck.Action.accept
    /// `exchange.halted_action`: a trade on a halted or suspended instrument, or during a
    /// market-wide halt.
    public var haltedAction = PriceCheck.Action.quarantine
    /// `redis.status_prefix`: status messages go to `<prefix><SYMBOL>` and `<prefix>market`.
    public var redisStatusPrefix = "status:"
    /// `publishers`: per TLS client identity, the symbols it may send (listeners with a
    /// `client_ca_file`); nil: every identity the CA signed may send every symbol.
    public var publishers: PublisherEntitlements?
    /// `redis.candle_prefix`: live candles go to `<prefix>1m:<SYMBOL>` and `<prefix>1d:<SYMBOL>`.
    public var redisCandlePrefix = "candles:"
    /// `redis.live_candles`: publish each batch's revised minute and day candles.
    public var redisLiveCandles = true
    /// `exchange.stale_after_ms`, `exchange.feed_silent_after_ms`: during the session, an
    /// instrument without a trade this long is stale; no tick at all this long, the feed is silent.
    public var staleAfterMilliseconds = 1_800_000
    public var feedSilentAfterMilliseconds = 120_000

    /// `input.format`: csv, ndjson or auto.
    public var format: FeedFormat = .auto
    /// `input.max_line_bytes`: longer lines are rejected as `line_too_long`.
    public var maxLineBytes = 65_536
    /// `input.max_future_skew_seconds`: ticks further ahead of now are rejected as `future_time`.
    public var maxFutureSkewSeconds: Int64 = 300
    /// `input.csv.*`.
    public var csv = CSVOptions()

    /// `symbols.unknown`: reject or accept symbols that are not listed instruments.
    public var unknownSymbols: SymbolRules.UnknownPolicy = .reject
    /// `symbols.instruments_file`: the instrument list used for the known-symbol check when no
    /// database is involved (`--dry-run`), and by `tickd seed`.
    public var instrumentsFile = "Seeds/stocks.csv"
    /// `symbols.reload_interval_ms` (`tickd run`): how often the listed instruments are read again
    /// from `stocks`, so a new listing is accepted without a restart.
    public var instrumentReloadMilliseconds = 5000
    /// `symbols.strip_prefixes`, `symbols.strip_suffixes`.
    public var stripPrefixes = ["NSE:", "XNAI:"]
    public var stripSuffixes = [".NR", ".NSE", ".KE"]
    /// `symbols.aliases`: other name → symbol.
    public var aliases: [String: String] = ["SAFARICOM": "SCOM", "EQUITY": "EQTY"]

    /// `dead_letter.path`: JSON-lines file of rejected records.
    public var deadLetterPath = "tickd-dead-letters.jsonl"

    /// `database.ticks_table`, `database.stocks_table`: validated identifiers, optionally schema-qualified.
    public var ticksTable = TableName("market_ticks")!
    public var stocksTable = TableName("stocks")!
    /// `database.retry_max_backoff_ms`: the longest pause between retries of a transient failure.
    public var retryMaxBackoffMilliseconds = 5000
    /// `database.writers`: connections `run` and `replay` write through in parallel (symbols
    /// partitioned across them).
    public var databaseWriters = 2

    /// `timescale.*`: whether to use TimescaleDB, and its chunk, compression and retention settings.
    public var timescale: SchemaOptions.TimescaleMode = .auto
    public var chunkIntervalHours = 24
    public var compressAfterDays = 7
    public var retentionDays = 0
    /// `timescale.refresh_interval_ms`: how often, at most, the candle aggregates are refreshed
    /// behind tickd's commits.
    public var candleRefreshMilliseconds = 1000

    /// `redis.*`: channel prefix, backlog bound while Redis is away, timeouts.
    public var redisPrefix = "ticks:"
    public var redisMaxBacklog = 100_000
    /// `redis.stream_max_len`: entries kept (about) per symbol in `<prefix>stream:<SYMBOL>`; 0: no streams.
    public var redisStreamMaxLength = 100_000
    public var redisTimeoutMilliseconds = 2000
    public var redisRetryMaxBackoffMilliseconds = 5000
    /// How long a finishing replay waits for the publisher to send what is queued.
    public var redisDrainTimeoutMilliseconds = 10_000
    /// `redis.tls_ca_file`, `redis.tls_cert_file`, `redis.tls_key_file` (`rediss://`): the CAs
    /// that verify the server (default: the system's), and a client certificate and key.
    public var redisTLSCAFile: String?
    public var redisTLSCertFile: String?
    public var redisTLSKeyFile: String?

    /// `batch.max_ticks`, `batch.max_age_ms`: a batch closes at this many ticks or this age.
    public var batchMaxTicks = 10_000
    public var batchMaxAgeMilliseconds = 250
    /// `batch.linger_ms` (`tickd run`): a batch also closes when no more ticks are waiting and its
    /// oldest has waited this long (group commit); nil (`-1` in the file) turns it off.
    public var batchLingerMilliseconds: Int? = 0

    /// `DATABASE_URL` (environment only): libpq URI or key=value string.
    public var databaseURL: String?
    /// `REDIS_URL` (environment only): `redis://[user:pass@]host:port/db`.
    public var redisURL: String?

    /// `sources.listen[]`: TCP listeners feed publishers connect to (plus `--listen`).
    public var listeners: [ListenerOptions] = []
    /// `sources.connect[]`: upstream feeds tickd connects to (plus `--connect`).
    public var upstreams: [UpstreamOptions] = []
    /// `sources.files[]`: recorded feeds `tickd run` replays at their pace.
    public var files: [FileSourceOptions] = []
    /// `sources.kafka[]`: consumer groups whose partitions tickd reads (plus `--kafka-…`).
    public var kafka: [KafkaFeedOptions] = []
    /// `pipeline.max_queued_ticks`: ticks held between the sources and the database writer;
    /// when full, sources stop reading (TCP flow control reaches the publishers).
    public var maxQueuedTicks = 50_000
    /// `shutdown.drain_timeout_ms`: on SIGTERM/SIGINT, how long tickd may take to commit and
    /// publish what it has read before it gives up and exits.
    public var drainTimeoutMilliseconds = 15_000

    /// `journal.*`: the local journal of TCP feeds (see `Journal`).
    public var journalEnabled = true
    public var journalDirectory = "tickd-journal"
    public var journalSegmentBytes = 16 << 20
    public var journalMaxBytes = 1 << 30
    public var journalFsync: FsyncPolicy = .interval
    public var journalFsyncIntervalMilliseconds = 200

    /// The journal's options.
    public var journalOptions: JournalOptions {
        JournalOptions(directory: journalDirectory, segmentBytes: journalSegmentBytes, maxBytes: journalMaxBytes,
                       fsync: journalFsync, fsyncInterval: .milliseconds(journalFsyncIntervalMilliseconds))
    }

    /// `log.format`, `log.level`: how and how much tickd logs (stderr).
    public var logFormat: LogFormat = .logfmt
    public var logLevel: Logger.Level = .info
    /// `metrics.address`: HOST:PORT of /metrics, /healthz and /readyz; nil = off.
    public var metricsAddress: String?
    /// `metrics.allow_public`: binding the endpoint to a non-loopback address needs this.
    public var metricsAllowPublic = false

    /// Where the file values came from, for `check-config`.
    public var source = "built-in defaults"

    public init() {}

    /// The schema settings for `migrate` and the sink.
    public var schemaOptions: SchemaOptions {
        SchemaOptions(ticksTable: ticksTable, stocksTable: stocksTable, timescale: timescale,
                      chunkIntervalHours: chunkIntervalHours, compressAfterDays: compressAfterDays,
                      retentionDays: retentionDays, exchangeZone: timezone,
                      closingPrice: exchangeProfile.closingPrice, tickSizes: exchangeProfile.tickSizes,
                      priceCheck: PriceCheck(limitPercent: exchangeProfile.limitPercent, tickSizes: exchangeProfile.tickSizes,
                                             onPriceLimit: priceLimitAction, onOffTick: offTickAction, onHalted: haltedAction),
                      session: exchangeProfile.session)
    }

    /// `DATABASE_URL`, or a configuration error saying it is needed.
    public func requireDatabaseURL(for purpose: String) throws(ConfigError) -> String {
        guard let databaseURL else { throw ConfigError(key: "DATABASE_URL", "is not set; \(purpose) needs a database") }
        return databaseURL
    }

    /// The exchange zone, validated.
    public func exchangeZone() throws(ConfigError) -> ExchangeZone {
        guard let zone = ExchangeZone(identifier: timezone) else {
            throw ConfigError(key: "exchange.timezone", "'\(timezone)' is not a zone of the tz database (e.g. Africa/Nairobi)")
        }
        return zone
    }
}

/// A recorded feed replayed by `tickd run` (`sources.files[]`).
public struct FileSourceOptions: Sendable, Equatable {
    public var path: String
    /// Overrides `input.format`.
    public var format: FeedFormat?
    public var speed: ReplaySpeed

    public init(path: String, format: FeedFormat? = nil, speed: ReplaySpeed = .max) {
        self.path = path
        self.format = format
        self.speed = speed
    }
}

extension TickdConfig {
    /// The resident memory `tickd run` is built to stay under, from the configured sizes: a
    /// 96 MiB base (runtime, code, libpq/hiredis/NIO), 512 B per queued tick and per Redis backlog
    /// message, 2 batches of 512 B ticks, and per allowed TCP connection its read buffers and line
    /// limit (NIO reads up to 8 × 64 KiB ahead, plus three line-sized buffers). Every one of those is
    /// bounded by configuration; nothing grows with the feed rate.
    public var memoryBudgetBytes: Int {
        let mib = 1 << 20
        let connections = listeners.reduce(0) { $0 + $1.maxConnections * (8 * 65_536 + 3 * $1.maxLineBytes) }
            + upstreams.reduce(0) { $0 + 8 * 65_536 + 3 * $1.maxLineBytes }
        return 96 * mib + 512 * (maxQueuedTicks + redisMaxBacklog + 2 * batchMaxTicks) + connections
    }
}
