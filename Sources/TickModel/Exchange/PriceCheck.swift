/// What a price may be, by the exchange's rules: within the day's limit band around the
/// previous close, and on the tick grid. A trade that breaks a rule gets its policy's action.
public struct PriceCheck: Sendable, Equatable {
    /// A rule a trade broke.
    public enum Violation: String, Sendable, CaseIterable, Comparable {
        /// More than the day's limit away from the previous close.
        case priceLimit = "price_limit"
        /// Not a whole number of its band's ticks.
        case offTick = "off_tick"
        /// Printed while its instrument was halted, or the market was.
        case halted
        /// Printed while its instrument was suspended.
        case suspended

        public static func < (a: Violation, b: Violation) -> Bool { a.rawValue < b.rawValue }
    }

    /// What happens to a trade that broke a rule. The strictest action of its violations wins.
    public enum Action: String, Sendable, CaseIterable, Comparable {
        /// Stored and published like any trade, counted, and flagged in its Redis message.
        case accept
        /// Held in `tickd_quarantine` (not stored, not published) until an operator releases it.
        case quarantine
        /// Dead-lettered with the violation as its reason.
        case reject

        static let strictness: [Action] = [.accept, .quarantine, .reject]
        public static func < (a: Action, b: Action) -> Bool {
            strictness.firstIndex(of: a)! < strictness.firstIndex(of: b)!
        }
    }

    /// The largest move from the previous close, in percent (NSE: 10); nil: no limit.
    public var limitPercent: Price?
    public var tickSizes: TickSizeTable?
    public var onPriceLimit: Action
    public var onOffTick: Action
    /// For a trade on a halted or suspended instrument, or during a market-wide halt.
    public var onHalted: Action

    public init(limitPercent: Price?, tickSizes: TickSizeTable?, onPriceLimit: Action = .quarantine, onOffTick: Action = .accept,
                onHalted: Action = .quarantine) {
        self.limitPercent = limitPercent
        self.tickSizes = tickSizes
        self.onPriceLimit = onPriceLimit
        self.onOffTick = onOffTick
        self.onHalted = onHalted
    }

    /// Whether any rule can apply.
    public var isActive: Bool { limitPercent != nil || tickSizes != nil }

    /// The rules `price` breaks, given the previous close (nil: unknown, no limit) and the
    /// day's limit (`limitPercent` unless an override changes or lifts it).
    public func violations(of price: Price, previousClose: Price?, limitPercent: Price?) -> [Violation] {
        var found: [Violation] = []
        if let previousClose, let limitPercent, !Self.isWithin(price, percent: limitPercent, of: previousClose) {
            found.append(.priceLimit)
        }
        if let tickSizes, !tickSizes.isOnGrid(price) { found.append(.offTick) }
        return found
    }

    /// The action for a trade with these violations (nil when it broke none).
    public func action(for violations: [Violation]) -> Action? {
        violations.map { violation in
            switch violation {
            case .priceLimit: onPriceLimit
            case .offTick: onOffTick
            case .halted, .suspended: onHalted
            }
        }.max()
    }

    /// |price − reference| ≤ reference × percent / 100, exactly: a trade on the limit is within.
    public static func isWithin(_ price: Price, percent: Price, of reference: Price) -> Bool {
        let (p, r) = Price.aligned(price, reference)
        let move = p > r ? p - r : r - p
        // move × 100 × 10^percent.scale ≤ r × percent.units
        return move * 100 * Price.power(percent.scale) <= r * Int128(percent.units)
    }
}
