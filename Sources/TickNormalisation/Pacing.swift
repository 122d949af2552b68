import TickModel

/// How fast a recorded feed is replayed.
public enum ReplaySpeed: Sendable, Equatable, CustomStringConvertible {
    /// As fast as it can be read.
    case max
    /// N times the pace of the feed's own timestamps (`realtime` is 1x).
    case times(Double)

    /// Parses `max`, `realtime` or `Nx` (`60x`, `0.5x`).
    public init?(_ text: String) {
        switch text.lowercased() {
        case "max": self = .max
        case "realtime", "1x": self = .times(1)
        default:
            guard text.lowercased().hasSuffix("x"), let factor = Double(text.dropLast()), factor > 0, factor.isFinite
            else { return nil }
            self = .times(factor)
        }
    }

    public var description: String {
        switch self {
        case .max: return "max"
        case .times(let factor):
            // As an operator writes it: 60x, not 60.0x.
            if factor == 1 { return "realtime" }
            return factor == factor.rounded() && abs(factor) < 1e15 ? "\(Int64(factor))x" : "\(factor)x"
        }
    }
}

/// Paces a replay by the feed's own clock: the first tick goes out at once, and a tick whose
/// time is T after the first goes out T / speed after the start. A value type; the caller
/// supplies the clock.
public struct Pacer {
    public let speed: ReplaySpeed
    private var origin: (feed: Timestamp, wall: ContinuousClock.Instant)?

    public init(speed: ReplaySpeed) { self.speed = speed }

    /// When `tick` is due; nil when it can go now (speed max, the first tick, or already late).
    public mutating func due(_ tick: Timestamp, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard case .times(let factor) = speed else { return nil }
        guard let origin else {
            self.origin = (tick, now)
            return nil
        }
        let feedElapsed = Double(tick.nanosecondsSinceEpoch - origin.feed.nanosecondsSinceEpoch) / 1e9
        let target = origin.wall + .nanoseconds(Int64(max(0, feedElapsed / factor) * 1e9))
        return target > now ? target : nil
    }
}

/// `--from`, `--to`, `--symbols`: which ticks a replay keeps.
public struct TickFilter: Sendable, Equatable {
    /// Keep ticks at or after this time.
    public var from: Timestamp?
    /// Keep ticks before this time.
    public var to: Timestamp?
    /// Keep only these symbols (after normalisation); nil keeps all.
    public var symbols: Set<Symbol>?

    public init(from: Timestamp? = nil, to: Timestamp? = nil, symbols: Set<Symbol>? = nil) {
        self.from = from
        self.to = to
        self.symbols = symbols
    }

    public var isEmpty: Bool { from == nil && to == nil && symbols == nil }

    public func keeps(_ tick: Tick) -> Bool {
        if let from, tick.time < from { return false }
        if let to, tick.time >= to { return false }
        if let symbols, !symbols.contains(tick.symbol) { return false }
        return true
    }
}
