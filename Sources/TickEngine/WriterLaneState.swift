/// The rules of a `WriterLane` as a value: the batches queued or running (at most `depth`, the
/// pipeline's backpressure) in the order they were submitted, the one serving loop that runs
/// them, the tasks parked for room or for the lane to be idle, and the end. Each event returns
/// what to resume; `Waiter` and `Job` are whatever the lane uses (continuations and closures;
/// plain tokens in the tests).
struct WriterLaneState<Waiter, Job> {
    let depth: Int
    /// Batches queued or running.
    private(set) var batches = 0
    /// Batches submitted and not yet taken by the serving loop, oldest first.
    private(set) var jobs: [Job] = []
    private(set) var stopping = false
    /// No more batches will be served: the serving loop returns once it has none in hand.
    private(set) var ended = false
    private(set) var roomWaiters: [Waiter] = []
    private(set) var idleWaiters: [Waiter] = []
    /// The serving loop, parked until a batch is submitted or the serving ends.
    private(set) var server: Waiter?

    init(depth: Int) {
        precondition(depth > 0)
        self.depth = depth
    }

    /// Whether a batch may be queued now.
    var hasRoom: Bool { batches < depth || stopping }

    /// What became of a batch submitted.
    enum Submission {
        /// Queued (it counts until `batchDone`); `wake` is the serving loop, if it was parked.
        case queued(wake: Waiter?)
        /// No room: park for it, then submit again.
        case full
        /// A stopped or ended lane takes nothing: nothing runs, and no one waits for it.
        case dropped
    }

    /// Queues `job` when there is room.
    mutating func submit(_ job: Job) -> Submission {
        if ended || stopping { return .dropped }
        guard hasRoom else { return .full }
        batches += 1
        jobs.append(job)
        defer { server = nil }
        return .queued(wake: server)
    }

    /// The oldest batch submitted and not yet taken, for the serving loop to run.
    mutating func takeJob() -> Job? {
        jobs.isEmpty ? nil : jobs.removeFirst()
    }

    /// Parks the serving loop until a batch is submitted or the serving ends; false when a batch
    /// is waiting or the serving ended already (look again at once).
    mutating func parkServer(_ waiter: Waiter) -> Bool {
        guard jobs.isEmpty, !ended else { return false }
        server = waiter
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

    /// The serving ends (the pipeline is done, failed or cancelled): batches not yet taken are
    /// dropped (what they held stays journaled or unread, as after a crash) and count as done.
    /// Returns the waiters to resume: the parked serving loop, those for room and for idle.
    mutating func end() -> [Waiter] {
        ended = true
        batches -= jobs.count
        jobs.removeAll()
        var waiters = server.map { [$0] } ?? []
        server = nil
        waiters += roomWaiters
        roomWaiters.removeAll()
        if batches == 0 {
            waiters += idleWaiters
            idleWaiters.removeAll()
        }
        return waiters
    }

    /// No more batches are waited for: those waiting for room go on (queued batches still run,
    /// and the last one done resumes the idle waiters). Returns the waiters to resume.
    mutating func stop() -> [Waiter] {
        stopping = true
        defer { roomWaiters.removeAll() }
        return roomWaiters
    }
}

extension WriterLaneState.Submission: Equatable where Waiter: Equatable {}
