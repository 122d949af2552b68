/// Collects ticks into batches that close at `maxTicks` ticks or when the oldest tick has waited
/// `maxAge`, whichever comes first — or, with a `linger`, as soon as the batch's writer is free
/// and the oldest tick has waited `linger`: group commit, so that a live feed's ticks do not sit
/// out `maxAge` while the database is idle, and batches grow by themselves while it is busy. A value type with no clock of its own: the caller passes the time, so it is
/// tested without I/O or sleeping.
public struct Batcher {
    public let maxTicks: Int
    public let maxAge: Duration
    public let linger: Duration?
    public private(set) var pending: [KeyedTick] = []
    private var openedAt: ContinuousClock.Instant?

    public init(maxTicks: Int, maxAge: Duration, linger: Duration? = nil) {
        precondition(maxTicks > 0)
        self.maxTicks = maxTicks
        self.maxAge = maxAge
        self.linger = linger.map { min($0, maxAge) }
        pending.reserveCapacity(maxTicks)
    }

    /// Adds a tick; returns a full batch when this tick filled it.
    public mutating func append(_ tick: KeyedTick, now: ContinuousClock.Instant) -> [KeyedTick]? {
        if pending.isEmpty { openedAt = now }
        pending.append(tick)
        if pending.count >= maxTicks { return take() }
        return due(now: now)
    }

    /// Returns the pending batch when it has waited `maxAge` or longer.
    public mutating func due(now: ContinuousClock.Instant) -> [KeyedTick]? {
        guard let openedAt, !pending.isEmpty, now - openedAt >= maxAge else { return nil }
        return take()
    }

    /// Returns the pending batch when it has waited `maxAge`, or `linger` while the input is idle.
    public mutating func due(now: ContinuousClock.Instant, writerFree: Bool) -> [KeyedTick]? {
        guard writerFree, let linger, let openedAt, !pending.isEmpty, now - openedAt >= linger else { return due(now: now) }
        return take()
    }

    /// When the pending batch must close at the latest, nil when empty.
    public var deadline: ContinuousClock.Instant? { pending.isEmpty ? nil : openedAt.map { $0 + maxAge } }

    /// When the pending batch closes if no more input comes (`linger`, else `maxAge`); nil when empty.
    public var idleDeadline: ContinuousClock.Instant? {
        pending.isEmpty ? nil : openedAt.map { $0 + (linger ?? maxAge) }
    }

    /// Returns whatever is pending (end of input, shutdown).
    public mutating func flush() -> [KeyedTick]? { pending.isEmpty ? nil : take() }

    private mutating func take() -> [KeyedTick] {
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        openedAt = nil
        return batch
    }
}
