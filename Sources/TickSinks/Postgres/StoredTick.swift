import TickCodecs
import TickModel
import TickNormalisation

/// A tick the database stored (new or changed) in a committed batch, with its per-symbol
/// publication sequence number.
public struct StoredTick: Sendable, Equatable {
    public var keyed: KeyedTick
    /// Increases by one per stored tick of the symbol, across batches and restarts.
    public var seq: Int64
    /// The exchange rules it broke although stored (action `accept`); its Redis message says so.
    public var flags: [PriceCheck.Violation]
    /// For a correction or cancel (`keyed.tick.action`): the trade it changed. A cancel's tick
    /// holds the cancelled trade's values; a correction's, the trade's new ones.
    public var amends: TickMessage.Amended?

    public init(keyed: KeyedTick, seq: Int64, flags: [PriceCheck.Violation] = [], amends: TickMessage.Amended? = nil) {
        self.keyed = keyed
        self.seq = seq
        self.flags = flags
        self.amends = amends
    }
}

/// A symbol's newest stored trade and its seq: what `last:<SYMBOL>` holds once a cancel took the
/// newer one away.
public struct LatestTrade: Sendable, Equatable {
    public var tick: Tick
    public var seq: Int64

    public init(tick: Tick, seq: Int64) {
        self.tick = tick
        self.seq = seq
    }
}

extension StoredTick {
    /// Per symbol, the index in `stored` of its newest tick (greatest time, then trade_seq): the
    /// tick latest_price follows and `last:<SYMBOL>` holds.
    static func newestIndices(_ stored: [StoredTick]) -> [Symbol: Int] {
        var newest: [Symbol: Int] = [:]
        // Stored ticks come grouped by symbol: the dictionary is touched once per run of one
        // symbol, not once per tick (a hash per tick was a visible share of tickd's CPU).
        var run: (symbol: Symbol, index: Int)?
        func close(_ run: (symbol: Symbol, index: Int)) {
            let candidate = stored[run.index].keyed
            if let current = newest[run.symbol].map({ stored[$0].keyed }),
               (current.tick.time, current.tradeSeq) >= (candidate.tick.time, candidate.tradeSeq) { return }
            newest[run.symbol] = run.index
        }
        for (index, tick) in stored.enumerated() {
            let keyed = tick.keyed
            if let current = run, current.symbol == keyed.tick.symbol {
                let held = stored[current.index].keyed
                if (keyed.tick.time, keyed.tradeSeq) > (held.tick.time, held.tradeSeq) { run = (current.symbol, index) }
                continue
            }
            if let current = run { close(current) }
            run = (keyed.tick.symbol, index)
        }
        if let current = run { close(current) }
        return newest
    }
}

/// What one committed batch stored.
public struct BatchResult: Sendable, Equatable {
    /// The ticks stored (new or changed rows), in per-symbol seq order.
    public var stored: [StoredTick]
    /// The symbols whose newest tick (and so `latest_price`) moved with this batch.
    public var latestMoved: Set<Symbol>

    /// Trades the price checks held back (`tickd_quarantine`), dead-lettered, and stored with a flag.
    public var quarantined = 0
    public var priceRejected = 0
    public var priceFlagged = 0
    /// Corrections and cancels dead-lettered as `unknown_trade`.
    public var unknownTrades = 0
    /// Per symbol a correction or cancel touched: its newest trade afterwards, what
    /// `last:<SYMBOL>` is set to (with the symbol's last message of the batch).
    public var restoredLatest: [Symbol: LatestTrade] = [:]
    /// Symbols a cancel left without any trade: `last:<SYMBOL>` is deleted.
    public var clearedLatest: Set<Symbol> = []
    /// Status records that changed an instrument's or the market's status.
    public var statusChanges = 0
    /// Trades the checks would hold that are stored as they are (not held, not counted).
    var heldButStored = 0
    /// Trades whose candle the live candles read back from the database rather than add up:
    /// stored rows changed in place (the merge path), and the trades corrections and cancels
    /// touched, before and after.
    public internal(set) var revised: [KeyedTick] = []
    /// The live candles this batch revised, to publish after its ticks (`redis.live_candles`).
    public var candles: [CandleUpdate] = []

    public init(stored: [StoredTick] = [], latestMoved: Set<Symbol> = []) {
        self.stored = stored
        self.latestMoved = latestMoved
    }

    /// Adds what a later transaction of the same batch stored.
    mutating func add(_ later: BatchResult) {
        stored += later.stored
        revised += later.revised
        latestMoved.formUnion(later.latestMoved)
        // A later run's newest trade of a symbol an earlier correction or cancel touched.
        for (symbol, index) in StoredTick.newestIndices(later.stored)
        where (restoredLatest[symbol] != nil || clearedLatest.contains(symbol)) && later.latestMoved.contains(symbol) {
            restoredLatest[symbol] = LatestTrade(tick: later.stored[index].keyed.tick, seq: later.stored[index].seq)
            clearedLatest.remove(symbol)
        }
        restoredLatest.merge(later.restoredLatest) { _, newer in newer }
        for symbol in later.clearedLatest { restoredLatest[symbol] = nil }
        clearedLatest.formUnion(later.clearedLatest)
        quarantined += later.quarantined
        priceRejected += later.priceRejected
        priceFlagged += later.priceFlagged
        unknownTrades += later.unknownTrades
        statusChanges += later.statusChanges
    }
}

/// The bookkeeping written in a batch's transaction, next to its ticks.
public struct BatchProgress: Sendable, Equatable {
    /// Per source, the last line read (`tickd_source_offsets`, informational).
    public var lines: [String: Int]
    /// Per stream, the position the batch applies it to (`tickd_positions`).
    public var positions: [String: StreamPosition]
    /// Per symbol, the highest seq Redis acknowledged (or that was logged as a gap).
    public var published: [Symbol: Int64]

    public init(lines: [String: Int] = [:], positions: [String: StreamPosition] = [:], published: [Symbol: Int64] = [:]) {
        self.lines = lines
        self.positions = positions
        self.published = published
    }
}
