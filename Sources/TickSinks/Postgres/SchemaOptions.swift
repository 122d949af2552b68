import TickModel

/// What `tickd migrate` creates, from the `database` and `timescale` sections of the config.
public struct SchemaOptions: Sendable {
    /// Whether to use TimescaleDB: `auto` uses it when the extension can be created.
    public enum TimescaleMode: String, Sendable, CaseIterable { case auto, on, off }

    public var ticksTable: TableName
    public var stocksTable: TableName
    public var timescale: TimescaleMode
    /// Hypertable chunk interval, hours.
    public var chunkIntervalHours: Int
    /// Compress chunks older than this many days.
    public var compressAfterDays: Int
    /// Drop chunks older than this many days; 0 = keep forever (no retention policy).
    public var retentionDays: Int
    /// The exchange time zone (tz name), for daily candles and trading days.
    public var exchangeZone: String
    /// The exchange's official-close rule and price grid: `previous_close` follows them.
    public var closingPrice: ClosingPriceRule
    /// The grid official closes are rounded to. The price checks hold the grid too, apart:
    /// `tickd quarantine release` turns the checks off and still rounds closes.
    public var tickSizes: TickSizeTable?
    /// The price checks batches go through (limit band, tick grid) and their actions.
    public var priceCheck: PriceCheck
    /// When the exchange trades: stored ticks outside it are counted; nil: no session.
    public var session: TradingSession?

    public init(ticksTable: TableName = TableName("market_ticks")!, stocksTable: TableName = TableName("stocks")!,
                timescale: TimescaleMode = .auto, chunkIntervalHours: Int = 24, compressAfterDays: Int = 7,
                retentionDays: Int = 0, exchangeZone: String = "Africa/Nairobi",
                closingPrice: ClosingPriceRule = .lastTrade, tickSizes: TickSizeTable? = nil,
                priceCheck: PriceCheck = PriceCheck(limitPercent: nil, tickSizes: nil), session: TradingSession? = nil) {
        self.priceCheck = priceCheck
        self.session = session
        self.closingPrice = closingPrice
        self.tickSizes = tickSizes
        self.ticksTable = ticksTable
        self.stocksTable = stocksTable
        self.timescale = timescale
        self.chunkIntervalHours = chunkIntervalHours
        self.compressAfterDays = compressAfterDays
        self.retentionDays = retentionDays
        self.exchangeZone = exchangeZone
    }
}

/// How `market_ticks` is stored.
public enum StorageMode: String, Sendable {
    /// A TimescaleDB hypertable with compression, retention and continuous aggregates.
    case timescale
    /// A plain PostgreSQL table with plain views for the candles.
    case plain
}
