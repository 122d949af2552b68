import DequeModule

/// The rules of a `WriterLane` as a value: the jobs queued for its thread, how many batches are
/// queued or running (at most `depth`, the pipeline's backpressure), the tasks parked for room or
/// for the lane to be idle, and the stop. Each event returns what to resume; `Waiter` and `Job`
/// are whatever the lane uses (continuations and closures; plain tokens in the tests).
struct WriterLaneState<Waiter, Job> {
    let depth: Int
    private(set) var jobs = Deque<Job>()
    /// Batches queued or running.
    private(set) var batches = 0
    private(set) var stopping = false
    /// The thread has ended: no job is taken any more.
    private(set) var stopped = false
    private(set) var roomWaiters: [Waiter] = []
    private(set) var idleWaiters: [Waiter] = []

    init(depth: Int) {
        precondition(depth > 0)
        self.depth = depth
    }

    /// Whether a batch may be queued now.
    var hasRoom: Bool { batches < depth || stopping }

    /// Queues a batch's job when there is room (it counts until `batchDone`); false: park for room.
    mutating func submitBatch(_ job: Job) -> Bool {
        guard hasRoom else { return false }
        batches += 1
        jobs.append(job)
        return true
    }

    /// Parks a task waiting for room; false when there is room already (try again at once).
    mutating func parkForRoom(_ waiter: Waiter) -> Bool {
        if hasRoom { return false }
        roomWaiters.append(waiter)
        return true
    }

    /// Queues a one-off job (not a batch) behind the queued ones; false once the thread has ended.
    mutating func perform(_ job: Job) -> Bool {
        guard !stopped else { return false }
        jobs.append(job)
        return true
    }

    /// Parks a task until no batch is queued or running; false when that is so already.
    mutating func parkUntilIdle(_ waiter: Waiter) -> Bool {
        if batches == 0 { return false }
        idleWaiters.append(waiter)
        return true
    }

    enum Next {
        /// Run this job.
        case run(Job)
        /// Nothing queued: wait for a job or the stop.
        case wait
        /// Stopping and nothing left: end the thread, resuming these waiters.
        case end(resume: [Waiter])
    }

    /// What the lane's thread does next.
    mutating func next() -> Next {
        if let job = jobs.popFirst() { return .run(job) }
        guard stopping else { return .wait }
        stopped = true
        let waiters = roomWaiters + idleWaiters
        roomWaiters.removeAll()
        idleWaiters.removeAll()
        return .end(resume: waiters)
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

    /// No more batches are waited for: queued jobs still run, then the thread ends.
    mutating func stop() { stopping = true }
}
