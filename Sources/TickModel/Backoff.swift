/// The one retry policy of tickd: capped exponential backoff. The pause before retry `n`
/// (1-based) is min(cap, initial × 2^(n−1)); with jitter, a point between half and all of it that
/// the caller picks, so tests are exact. A value that counts the failures it was told of.
public struct Backoff: Sendable, Equatable {
    /// The first pause.
    public let initial: Duration
    /// The longest pause.
    public let cap: Duration
    /// Failures since the last success.
    public private(set) var failures = 0

    public init(initial: Duration = .milliseconds(100), cap: Duration) {
        self.initial = initial
        self.cap = max(cap, initial)
    }

    /// The pause before retry `attempt` (1-based), without jitter.
    public func pause(attempt: Int) -> Duration {
        var pause = initial
        for _ in 1..<max(attempt, 1) where pause < cap { pause *= 2 }
        return min(pause, cap)
    }

    /// Records a failure and returns the pause before the next try. `jitter` in [0, 1) picks a
    /// point between half and all of it; nil takes all of it.
    public mutating func next(jitter: Double? = nil) -> Duration {
        failures += 1
        let pause = pause(attempt: failures)
        guard let jitter else { return pause }
        return pause * (0.5 + 0.5 * min(max(jitter, 0), 1))
    }

    /// A success: the next failure starts again from `initial`.
    public mutating func reset() { failures = 0 }
}
