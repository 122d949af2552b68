import DequeModule
import TickNormalisation

/// The rules of `TickQueue` as a value: the chunks held (counted in ticks), the senders parked
/// for room, the one consumer parked for a chunk, a pending wake, and the end. Each event returns
/// what to resume; `Waiter` is whatever resumes a parked task (a continuation in `TickQueue`, a
/// plain token in the tests, which need neither tasks nor time).
struct TickQueueState<Waiter> {
    let capacity: Int
    private(set) var chunks = Deque<TickChunk>()
    private(set) var ticks = 0
    private(set) var finished = false
    private(set) var senders: [Waiter] = []
    private(set) var receiver: (id: Int, waiter: Waiter)?
    /// `wake` was called with no receiver waiting: the next receive returns at once.
    private(set) var wakePending = false
    /// A receive whose deadline passed before it parked.
    private var expiredID = 0
    private var nextID = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// `count` more ticks fit (a chunk larger than the capacity still goes in alone).
    func fits(_ count: Int) -> Bool { ticks == 0 || ticks + count <= capacity }

    var isDrained: Bool { finished && chunks.isEmpty }

    enum SendAction {
        /// Finished: the chunk is refused.
        case refused
        /// Taken: handed straight to the parked receiver (resume it with the chunk), or held.
        case accepted(handOffTo: Waiter?)
        /// No room: park the sender (`parkSender`) and try again when resumed.
        case full
    }

    mutating func send(_ chunk: TickChunk) -> SendAction {
        if finished { return .refused }
        guard fits(chunk.ticks.count) else { return .full }
        if let receiver {
            self.receiver = nil
            return .accepted(handOffTo: receiver.waiter)
        }
        chunks.append(chunk)
        ticks += chunk.ticks.count
        return .accepted(handOffTo: nil)
    }

    /// Parks a sender that found no room for `count` ticks; false when it should try again at
    /// once (room was made, or the queue finished, in between).
    mutating func parkSender(_ waiter: Waiter, for count: Int) -> Bool {
        if finished || fits(count) { return false }
        senders.append(waiter)
        return true
    }

    /// A new receive's id (its deadline timer names it).
    mutating func newReceiveID() -> Int {
        nextID += 1
        return nextID
    }

    enum ReceiveAction {
        /// A chunk: return it, and resume these senders (they re-check for room).
        case chunk(TickChunk, resume: [Waiter])
        /// Nothing now (finished and empty, deadline passed, or woken): return nil.
        case none
        /// Parked: the waiter is resumed by a send, a wake, the deadline or the end.
        case parked
    }

    /// A chunk if one is queued (and the senders to resume), without parking.
    mutating func take() -> (TickChunk, resume: [Waiter])? {
        guard let chunk = chunks.popFirst() else { return nil }
        ticks -= chunk.ticks.count
        let resume = senders
        senders.removeAll()
        return (chunk, resume)
    }

    mutating func receive(id: Int, waiter: Waiter) -> ReceiveAction {
        if let chunk = chunks.popFirst() {
            ticks -= chunk.ticks.count
            let resume = senders
            senders.removeAll()
            return .chunk(chunk, resume: resume)
        }
        if finished || expiredID == id || wakePending {
            wakePending = false
            return .none
        }
        receiver = (id, waiter)
        return .parked
    }

    /// Receive `id`'s deadline passed: the receiver to resume with nil, if it is parked.
    mutating func deadlinePassed(id: Int) -> Waiter? {
        guard let receiver, receiver.id == id else {
            expiredID = id
            return nil
        }
        self.receiver = nil
        return receiver.waiter
    }

    /// Ends the consumer's wait (resume the returned waiter with nil), or its next one.
    mutating func wake() -> Waiter? {
        guard let receiver else {
            wakePending = true
            return nil
        }
        self.receiver = nil
        return receiver.waiter
    }

    /// No more input: the senders to resume (they get false), and the receiver to resume with
    /// nil when nothing is left for it.
    mutating func finish() -> (senders: [Waiter], receiver: Waiter?) {
        finished = true
        let parked = senders
        senders.removeAll()
        let waiting = chunks.isEmpty ? receiver?.waiter : nil
        if waiting != nil { receiver = nil }
        return (parked, waiting)
    }
}
