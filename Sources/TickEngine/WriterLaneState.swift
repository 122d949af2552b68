/// The rules of a `WriterLane` as a value: how many batches are queued or running (at most
/// `depth`, the pipeline's backpressure), the tasks parked for room or for the lane to be idle,
/// and the stop. Each event returns what to resume; `Waiter` is whatever the lane uses
/// (continuations; plain tokens in the tests). The order of the jobs is the executor's (FIFO).
struct WriterLaneState<Waiter> {
    let depth: Int
    /// Batches queued or running.
    private(set) var batches = 0
    private(set) var stopping = false
    private(set) var roomWaiters: [Waiter] = []
    private(set) var idleWaiters: [Waiter] = []

    init(depth: Int) {
        precondition(depth > 0)
        self.depth = depth
    }

    /// Whether a batch may be queued now.
    var hasRoom: Bool { batches < depth || stopping }

    /// Counts a batch in when there is room (it counts until `batchDone`); false: park for room.
    mutating func submitBatch() -> Bool {
        guard hasRoom else { return false }
        batches += 1
        return true
    }

    /// Parks a task waiting for room; false when there is room already (try again at once).
    mutating func parkForRoom(_ waiter: Waiter) -> Bool {
        if hasRoom { return false }
        roomWaiters.append(waiter)
        return true
    }

    /// Parks a task until no batch is queued or running; false when that is so already.
    mutating func parkUntilIdle(_ waiter: Waiter) -> Bool {
        if batches == 0 { return false }
        idleWaiters.append(waiter)
        return true
    }

    /// A batch's job returned: the waiters to resume (those for room; and, when the lane is now
    /// free, those for idle), and whether the lane is free.
    mutating func batchDone() -> (resume: [Waiter], free: Bool) {
        batches -= 1
        var waiters = roomWaiters
        roomWaiters.removeAll()
        guard batches == 0 else { return (waiters, false) }
        waiters += idleWaiters
        idleWaiters.removeAll()
        return (waiters, true)
    }

    /// No more batches are waited for: those waiting for room go on (queued batches still run,
    /// and the last one done resumes the idle waiters). Returns the waiters to resume.
    mutating func stop() -> [Waiter] {
        stopping = true
        defer { roomWaiters.removeAll() }
        return roomWaiters
    }
}
