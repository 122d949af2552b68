/// One normalised market observation of an instrument: an OHLCV bar, or a trade
/// (a trade of price P and size S is the bar open=high=low=close=P, volume=S).
public struct Tick: Hashable, Sendable {
    public var time: Timestamp
    public var symbol: Symbol
    public var open: Price
    public var high: Price
    public var low: Price
    public var close: Price
    /// Shares traded (a count, never fractional).
    public var volume: Int64
    /// The feed's own sequence or trade id, when it sends one; tells apart two trades of one
    /// symbol at the same instant.
    public var feedSequence: Int64?
    /// What the record does to the trade with this symbol and `feedSequence` (trade id): prints
    /// it (a new trade, or a bar), corrects it, or cancels it.
    public var action: TradeAction
    /// For a status record (`action == .status`): what the instrument (or, under
    /// `TradingStatus.market`, the market) now is, from `time` on; its prices and volume are zero.
    public var status: TradingStatus?

    public init(time: Timestamp, symbol: Symbol, open: Price, high: Price, low: Price, close: Price,
                volume: Int64, feedSequence: Int64? = nil, action: TradeAction = .trade, status: TradingStatus? = nil) {
        self.time = time
        self.symbol = symbol
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.feedSequence = feedSequence
        self.action = action
        self.status = status
    }

    /// A status record: `symbol` (or `TradingStatus.market`) is `status` from `time` on.
    public static func status(_ status: TradingStatus, of symbol: Symbol, at time: Timestamp) -> Tick {
        let zero = Price(units: 0, scale: 0)
        return Tick(time: time, symbol: symbol, open: zero, high: zero, low: zero, close: zero, volume: 0, action: .status, status: status)
    }

    /// A trade: every price field is the trade price, volume the trade size.
    public static func trade(time: Timestamp, symbol: Symbol, price: Price, size: Int64,
                             feedSequence: Int64? = nil) -> Tick {
        Tick(time: time, symbol: symbol, open: price, high: price, low: price, close: price,
             volume: size, feedSequence: feedSequence)
    }
}

/// What a feed record does. An exchange prints trades, and later may correct one (new price,
/// size or time) or cancel it (a busted trade); both name the trade by symbol and trade id. A
/// status record halts, suspends or resumes an instrument, or moves the market to a phase.
public enum TradeAction: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case trade = 0, correct = 1, cancel = 2, status = 3

    /// The word feeds and messages use: `trade`, `correct`, `cancel`.
    public var description: String {
        switch self {
        case .trade: "trade"
        case .correct: "correct"
        case .cancel: "cancel"
        case .status: "status"
        }
    }

    /// Whether it changes a stored trade rather than adding one.
    public var isAmendment: Bool { self == .correct || self == .cancel }
}
