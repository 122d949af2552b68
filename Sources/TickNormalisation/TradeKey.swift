import TickModel

/// A tick with the key it is stored under: (symbol, time, tradeSeq).
public struct KeyedTick: Hashable, Sendable {
    /// The tick, its time truncated to the microsecond (the database's precision).
    public var tick: Tick
    /// The feed's seq/trade_id when it sends one; otherwise the tick's position (0, 1, …) among
    /// the ticks of its symbol at the same instant in its source.
    public var tradeSeq: Int64

    public init(tick: Tick, tradeSeq: Int64) {
        self.tick = tick
        self.tradeSeq = tradeSeq
    }
}

/// Gives each tick of one source its storage key. Two trades of one symbol at one instant get
/// different keys (both are stored; candles add them up), while replaying the same input gives
/// the same keys again (so a replay changes nothing).
public struct TradeKeyAssigner {
    private var lastInstant: [Symbol: (micros: Int64, ordinal: Int64)] = [:]

    public init() {}

    public mutating func key(_ tick: Tick) -> KeyedTick {
        var tick = tick
        let micros = Self.floorMicros(tick.time.nanosecondsSinceEpoch)
        tick.time = Timestamp(nanosecondsSinceEpoch: micros * 1000)
        if let sequence = tick.feedSequence { return KeyedTick(tick: tick, tradeSeq: sequence) }
        var ordinal: Int64 = 0
        if let last = lastInstant[tick.symbol], last.micros == micros { ordinal = last.ordinal + 1 }
        lastInstant[tick.symbol] = (micros, ordinal)
        return KeyedTick(tick: tick, tradeSeq: ordinal)
    }

    static func floorMicros(_ ns: Int64) -> Int64 {
        let (q, r) = ns.quotientAndRemainder(dividingBy: 1000)
        return r < 0 ? q - 1 : q
    }
}
