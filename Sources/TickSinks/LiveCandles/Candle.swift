import TickModel

/// One candle's aggregate, exactly as the candle views compute it (docs/schema.md): open and close
/// are the first and last trade by (time, trade_seq), high and low the extremes, volume and
/// ticks sums, turnover Σ close × volume, vwap turnover ÷ volume to 4 places.
///
/// Trades are added one at a time (a minute as its ticks arrive) or whole candles merged (a
/// day from its minutes: the same result, since open and close keep their trade's key).
public struct Candle: Sendable, Equatable {
    /// A trade's place in the candle's order: its time (ns), then its trade_seq.
    public struct Key: Sendable, Comparable, Hashable {
        public var nanoseconds: Int64
        public var tradeSeq: Int64
        public init(nanoseconds: Int64, tradeSeq: Int64) {
            self.nanoseconds = nanoseconds
            self.tradeSeq = tradeSeq
        }
        public static func < (a: Key, b: Key) -> Bool { (a.nanoseconds, a.tradeSeq) < (b.nanoseconds, b.tradeSeq) }
    }

    public private(set) var open: Price
    public private(set) var openKey: Key
    public private(set) var high: Price
    public private(set) var low: Price
    public private(set) var close: Price
    public private(set) var closeKey: Key
    public private(set) var volume: Int64
    public private(set) var ticks: Int64
    /// Σ close × volume as `turnoverUnits × 10^-turnoverScale` (the largest close scale seen,
    /// as PostgreSQL's numeric sum keeps it).
    public private(set) var turnoverUnits: Int128
    public private(set) var turnoverScale: UInt8

    /// The candle of one trade.
    public init(trade tick: Tick, tradeSeq: Int64) {
        let key = Key(nanoseconds: tick.time.nanosecondsSinceEpoch, tradeSeq: tradeSeq)
        self.init(open: tick.open, openKey: key, high: tick.high, low: tick.low, close: tick.close, closeKey: key, volume: tick.volume,
                  ticks: 1, turnoverUnits: Int128(tick.close.units) * Int128(tick.volume), turnoverScale: tick.close.scale)
    }

    /// A candle as the database aggregated it.
    public init(open: Price, openKey: Key, high: Price, low: Price, close: Price, closeKey: Key, volume: Int64, ticks: Int64,
                turnoverUnits: Int128, turnoverScale: UInt8) {
        self.open = open
        self.openKey = openKey
        self.high = high
        self.low = low
        self.close = close
        self.closeKey = closeKey
        self.volume = volume
        self.ticks = ticks
        self.turnoverUnits = turnoverUnits
        self.turnoverScale = turnoverScale
    }

    /// Adds one trade.
    public mutating func add(trade tick: Tick, tradeSeq: Int64) {
        merge(Candle(trade: tick, tradeSeq: tradeSeq))
    }

    /// Takes in the trades of `other` (a later or earlier minute, or trades of this one).
    public mutating func merge(_ other: Candle) {
        if other.openKey < openKey { open = other.open; openKey = other.openKey }
        if closeKey < other.closeKey { close = other.close; closeKey = other.closeKey }
        if high.isLess(than: other.high) { high = other.high }
        if other.low.isLess(than: low) { low = other.low }
        volume += other.volume
        ticks += other.ticks
        let scale = Swift.max(turnoverScale, other.turnoverScale)
        turnoverUnits = turnoverUnits * Price.power(scale - turnoverScale) + other.turnoverUnits * Price.power(scale - other.turnoverScale)
        turnoverScale = scale
    }

    /// Σ close × volume as PostgreSQL prints it (the largest close scale).
    public var turnover: DecimalValue { DecimalValue(units: turnoverUnits, scale: turnoverScale) }

    /// turnover ÷ volume rounded half away from zero to 4 places, as `round(…, 4)`; nil without volume.
    public var vwap: DecimalValue? {
        guard volume != 0 else { return nil }
        var numerator = turnoverUnits
        var denominator = Int128(volume)
        if turnoverScale <= 4 { numerator *= Price.power(4 - turnoverScale) } else { denominator *= Price.power(turnoverScale - 4) }
        let (quotient, remainder) = numerator.quotientAndRemainder(dividingBy: denominator)
        var rounded = quotient
        if remainder.magnitude * 2 >= denominator.magnitude { rounded += (numerator < 0) != (denominator < 0) ? -1 : 1 }
        return DecimalValue(units: rounded, scale: 4)
    }
}

/// An exact decimal too wide for `Price` (a day's turnover): `units × 10^-scale`.
public struct DecimalValue: Sendable, Equatable, CustomStringConvertible {
    public var units: Int128
    public var scale: UInt8

    public init(units: Int128, scale: UInt8) {
        self.units = units
        self.scale = scale
    }

    /// The plain decimal text, e.g. `23.1000`, `0.0500`.
    public var description: String {
        let digits = String(units.magnitude)
        let scale = Int(self.scale)
        let padded = digits.count <= scale ? String(repeating: "0", count: scale - digits.count + 1) + digits : digits
        let sign = units < 0 ? "-" : ""
        guard scale > 0 else { return sign + padded }
        return sign + padded.dropLast(scale) + "." + padded.suffix(scale)
    }
}
