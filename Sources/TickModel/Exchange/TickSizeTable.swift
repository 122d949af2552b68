/// An exchange's price grid: from each band's lower bound up to the next one, prices move in
/// steps of that band's tick (NSE: 0.01 below 5.00, 0.02 to 10.00, 0.05 to 50.00, …).
public struct TickSizeTable: Sendable, Equatable {
    /// One band: prices from `from` (inclusive) up to the next band's `from` trade in steps of `tick`.
    public struct Band: Sendable, Equatable {
        public let from: Price
        public let tick: Price
        public init(from: Price, tick: Price) {
            self.from = from
            self.tick = tick
        }
    }

    /// Bands by ascending lower bound; the first starts at zero.
    public let bands: [Band]

    /// Nil unless the bands are ascending, the first starts at 0 and every tick is positive.
    public init?(_ bands: [Band]) {
        guard let first = bands.first, first.from.compare(.zero) == 0,
              zip(bands, bands.dropFirst()).allSatisfy({ $0.from.isLess(than: $1.from) }),
              bands.allSatisfy({ Price.zero.isLess(than: $0.tick) }) else { return nil }
        self.bands = bands
    }

    /// The tick of the band `price` is in.
    public func tick(at price: Price) -> Price {
        bands.last { $0.from.compare(price) <= 0 }?.tick ?? bands[0].tick
    }

    /// `price` rounded to the nearest step of its band, halves up, written with the tick's
    /// scale: 23.124 → 23.10 and 23.125 → 23.15 in the 0.05 band.
    public func rounded(_ price: Price) -> Price {
        let tick = tick(at: price)
        let (p, t) = Price.aligned(price, tick)   // both at the larger of the two scales
        let steps = (2 * p + t) / (2 * t)         // nearest whole number of ticks, halves up (p ≥ 0)
        let excess = Price.power(max(price.scale, tick.scale) - tick.scale)
        return Price(units: Int64(steps * t / excess), scale: tick.scale)
    }

    /// Whether `price` is a whole number of its band's ticks.
    public func isOnGrid(_ price: Price) -> Bool {
        let (p, t) = Price.aligned(price, tick(at: price))
        return p % t == 0
    }
}

/// How the official closing price of a trading day is set.
public enum ClosingPriceRule: Sendable, Equatable {
    /// The day's last trade (feeds other than the NSE's).
    case lastTrade
    /// The day's volume-weighted average price rounded to the tick grid; a day with fewer than
    /// `minimumVolume` shares traded has no close of its own: the previous one stands (NSE).
    case vwap(minimumVolume: Int64)
}
