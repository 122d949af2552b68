/// Collects ticks into batches that close at `maxTicks` ticks or when the oldest tick has waited
/// `maxAge`, whichever comes first — or, with a `linger`, as soon as the batch's writer is free
/// and the oldest tick has waited `linger`: group commit, so that a live feed's ticks do not sit
/// out `maxAge` while the database is idle, and batches grow by themselves while it is busy. No
/// batch closes on age while enough received ticks wait to fill it. A value type with no clock of
/// its own: the caller passes the time, so it is tested without I/O or sleeping.
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

    /// Adds a tick received at `now`; returns a full batch when this tick filled it. Age is
    /// checked by `due` only: a tick being appended is input that was waiting.
    public mutating func append(_ tick: KeyedTick, now: ContinuousClock.Instant) -> [KeyedTick]? {
        if pending.isEmpty { openedAt = now }
        pending.append(tick)
        if pending.count >= maxTicks { return take() }
        return nil
    }

    /// Returns the pending batch when it has waited `maxAge` or longer.
    public mutating func due(now: ContinuousClock.Instant) -> [KeyedTick]? {
        guard let openedAt, !pending.isEmpty, now - openedAt >= maxAge else { return nil }
        return take()
    }

    /// Returns the pending batch when it has waited `maxAge`, or `linger` while its writer is
    /// free — but not while the ticks `waiting` to be batched could fill it: they were received
    /// earlier and are next anyway, so they go into this batch first and it closes by size.
    /// Closing on age then would cut a backlog (a replay, a consumer held up by another writer)
    /// into small batches, each paying a transaction's fixed cost just when the database is
    /// behind. A smaller backlog does not hold a batch back: its ticks go into the next one, so
    /// a live feed's ticks wait no longer than before.
    public mutating func due(now: ContinuousClock.Instant, writerFree: Bool, waiting: Int = 0) -> [KeyedTick]? {
        if !pending.isEmpty && waiting >= maxTicks - pending.count { return nil }
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
