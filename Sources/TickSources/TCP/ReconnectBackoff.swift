/// Capped exponential backoff with jitter for reconnecting to an upstream feed: the n-th wait
/// is a random duration between half and all of min(cap, base × 2^(n-1)). A value type; the
/// caller supplies the randomness, so tests are exact.
public struct ReconnectBackoff: Sendable {
    public let base: Duration
    public let cap: Duration
    /// Failed attempts since the last good connection.
    public private(set) var failures = 0

    public init(base: Duration = .milliseconds(100), cap: Duration = .seconds(30)) {
        self.base = base
        self.cap = cap
    }

    /// Records a failure and returns how long to wait before the next attempt; `unit` in [0, 1)
    /// picks the point in the jitter window.
    public mutating func nextDelay(unit: Double) -> Duration {
        failures += 1
        var ceiling = base
        for _ in 1..<failures where ceiling < cap { ceiling *= 2 }
        ceiling = min(ceiling, cap)
        let fraction = 0.5 + 0.5 * min(max(unit, 0), 1)
        return ceiling * fraction
    }

    /// A connection worked: start again from `base`.
    public mutating func reset() { failures = 0 }
}
