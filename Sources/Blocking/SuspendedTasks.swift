import Synchronization

/// Tasks suspended until something they wait for happens, kept by their owner in the state its
/// lock guards, so that looking at that state and suspending are one step. Each is resumed once:
/// by the owner, when what it waits for happened (`removeAll`); or by `suspend`, at its deadline
/// or when its task is cancelled (`remove`). `Tag` is what the owner needs to pick whom to resume
/// (a target, or nothing).
public struct SuspendedTasks<Tag, Value> {
    private var nextID = 0
    private var waiting: [(id: Int, tag: Tag, continuation: CheckedContinuation<Value, Never>)] = []

    public init() {}

    public var isEmpty: Bool { waiting.isEmpty }

    /// Files `continuation`; the id returned takes it back out (`remove`).
    public mutating func add(_ continuation: CheckedContinuation<Value, Never>, tag: Tag) -> Int {
        nextID += 1
        waiting.append((nextID, tag, continuation))
        return nextID
    }

    /// The continuation filed under `id`, taken out; nil when it was resumed already.
    public mutating func remove(_ id: Int) -> CheckedContinuation<Value, Never>? {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return nil }
        return waiting.remove(at: index).continuation
    }

    /// The continuations whose tag `matching` accepts (all, by default), oldest first, taken out
    /// for the caller to resume once it has let go of its lock.
    public mutating func removeAll(where matching: (Tag) -> Bool = { _ in true }) -> [CheckedContinuation<Value, Never>] {
        var taken: [CheckedContinuation<Value, Never>] = []
        waiting.removeAll { entry in
            guard matching(entry.tag) else { return false }
            taken.append(entry.continuation)
            return true
        }
        return taken
    }
}

/// Suspends the calling task until its owner resumes it through the `SuspendedTasks` that
/// `park` filed it in, and returns the value given there; or returns `timedOut` once `deadline`
/// passes or the task is cancelled, whichever comes first.
///
/// `park` runs once, under the owner's lock: it files the continuation and returns its id, or
/// returns nil when there is nothing to wait for (then this returns `ready` at once).
/// `withdraw` takes the continuation filed under an id back out, under the same lock (nil: the
/// owner resumed it already, and its value stands). Without a deadline no task is made; with one,
/// the wait and a sleep run as two child tasks and the first to end cancels the other.
public func suspend<Value: Sendable>(
    until deadline: ContinuousClock.Instant? = nil, ready: Value, timedOut: Value,
    park: @escaping @Sendable (CheckedContinuation<Value, Never>) -> Int?,
    withdraw: @escaping @Sendable (Int) -> CheckedContinuation<Value, Never>?
) async -> Value {
    guard let deadline else { return await parked(ready: ready, timedOut: timedOut, park: park, withdraw: withdraw) }
    return await withTaskGroup(of: Value?.self) { group in
        group.addTask { await parked(ready: ready, timedOut: timedOut, park: park, withdraw: withdraw) }
        group.addTask {
            try? await Task.sleep(until: deadline)
            return nil
        }
        // The sleep ending first cancels the wait, which then returns `timedOut` — or what the
        // owner resumed it with just before.
        while let ended = await group.next() {
            group.cancelAll()
            if let value = ended { return value }
        }
        return timedOut
    }
}

/// Whether a wait was filed, and under which id, or its task cancelled before it was.
private enum Filing { case notYet, filed(Int), cancelled }

/// One wait, ended early by the task's cancellation.
private func parked<Value: Sendable>(
    ready: Value, timedOut: Value,
    park: @Sendable (CheckedContinuation<Value, Never>) -> Int?,
    withdraw: @Sendable (Int) -> CheckedContinuation<Value, Never>?
) async -> Value {
    let filing = Mutex(Filing.notYet)
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            guard let id = park(continuation) else { return continuation.resume(returning: ready) }
            let cancelled = filing.withLock { filing in
                if case .cancelled = filing { return true }
                filing = .filed(id)
                return false
            }
            if cancelled { withdraw(id)?.resume(returning: timedOut) }
        }
    } onCancel: {
        let id: Int? = filing.withLock { filing in
            if case .filed(let id) = filing { return id }
            filing = .cancelled
            return nil
        }
        if let id { withdraw(id)?.resume(returning: timedOut) }
    }
}

extension SuspendedTasks: Sendable where Tag: Sendable, Value: Sendable {}
