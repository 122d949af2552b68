import DequeModule
import Synchronization
import TickModel
import TickPipeline

/// The bounded queue between the sources and the database writer, counted in ticks.
///
/// `send` suspends while the queue is full, so a source stops reading — for TCP that means the
/// socket is not read, the kernel's buffers fill, and TCP flow control slows the publisher —
/// instead of memory growing. One consumer calls `receive`.
public final class TickQueue: Sendable {
    public let capacity: Int

    private struct State {
        var chunks = Deque<TickChunk>()
        var ticks = 0
        var finished = false
        var senders: [CheckedContinuation<Void, Never>] = []
        var receiver: (id: Int, continuation: CheckedContinuation<TickChunk?, Never>)?
        /// A receive whose deadline passed before it registered.
        var expiredID = 0
        /// `wake` was called with no receiver waiting: the next receive returns at once.
        var wakePending = false
        var nextID = 0

        func fits(_ count: Int, capacity: Int) -> Bool { ticks == 0 || ticks + count <= capacity }
    }
    private let state = Mutex(State())

    /// `capacity` ticks at most are held (a single chunk larger than that is still let through alone).
    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Ticks waiting now.
    public var depth: Int { state.withLock { $0.ticks } }

    /// Senders suspended now, waiting for room (what tests and metrics wait on, not a sleep).
    public var suspendedSenders: Int { state.withLock { $0.senders.count } }

    /// True while the consumer is suspended in `receive`, waiting for a chunk.
    public var isConsumerWaiting: Bool { state.withLock { $0.receiver != nil } }

    /// True once `finish` was called (tickd takes no more input).
    public var isFinished: Bool { state.withLock { $0.finished } }

    /// True once `finish` was called and everything was taken.
    public var isDrained: Bool { state.withLock { $0.finished && $0.chunks.isEmpty } }

    /// Adds a chunk, waiting while the queue is full. Returns false when the queue was finished
    /// (the chunk is then dropped: tickd is shutting down and no longer takes input).
    @discardableResult
    public func send(_ chunk: TickChunk) async -> Bool {
        // A chunk without ticks matters only when it moves a file's position.
        guard !chunk.ticks.isEmpty || chunk.position != nil else { return true }
        let count = chunk.ticks.count
        while true {
            enum Step { case accepted(CheckedContinuation<TickChunk?, Never>?), refused, full }
            let step: Step = state.withLock { s in
                if s.finished { return .refused }
                guard s.fits(count, capacity: capacity) else { return .full }
                if let receiver = s.receiver {
                    s.receiver = nil
                    return .accepted(receiver.continuation)   // hand over directly
                }
                s.chunks.append(chunk)
                s.ticks += count
                return .accepted(nil)
            }
            switch step {
            case .refused: return false
            case .accepted(let receiver):
                receiver?.resume(returning: chunk)
                return true
            case .full:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let wakeNow = state.withLock { s -> Bool in
                        if s.finished || s.fits(count, capacity: capacity) { return true }
                        s.senders.append(continuation)
                        return false
                    }
                    if wakeNow { continuation.resume() }
                }
            }
        }
    }

    /// The next chunk; nil when `deadline` passes first, or when the queue is finished and empty.
    public func receive(until deadline: ContinuousClock.Instant?) async -> TickChunk? {
        let id = state.withLock { s -> Int in s.nextID += 1; return s.nextID }
        let timer: Task<Void, Never>? = deadline.map { deadline in
            Task { [self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                let waiting = self.state.withLock { s -> CheckedContinuation<TickChunk?, Never>? in
                    guard let receiver = s.receiver, receiver.id == id else {
                        s.expiredID = id
                        return nil
                    }
                    s.receiver = nil
                    return receiver.continuation
                }
                waiting?.resume(returning: nil)
            }
        }
        defer { timer?.cancel() }
        return await withCheckedContinuation { (continuation: CheckedContinuation<TickChunk?, Never>) in
            let (result, resumeNow, senders): (TickChunk?, Bool, [CheckedContinuation<Void, Never>]) = state.withLock { s in
                if let chunk = s.chunks.popFirst() {
                    s.ticks -= chunk.ticks.count
                    let senders = s.senders
                    s.senders.removeAll()
                    return (chunk, true, senders)
                }
                if s.finished || s.expiredID == id || s.wakePending {
                    s.wakePending = false
                    return (nil, true, [])
                }
                s.receiver = (id, continuation)
                return (nil, false, [])
            }
            senders.forEach { $0.resume() }   // they re-check for room
            if resumeNow { continuation.resume(returning: result) }
        }
    }

    /// Ends the consumer's wait (its receive returns nil), or its next one if it is not waiting:
    /// something other than input needs it (a writer lane became free).
    public func wake() {
        let receiver = state.withLock { s -> CheckedContinuation<TickChunk?, Never>? in
            guard let receiver = s.receiver else {
                s.wakePending = true
                return nil
            }
            s.receiver = nil
            return receiver.continuation
        }
        receiver?.resume(returning: nil)
    }

    /// No more input: waiting and future senders get false; the consumer gets what is left, then nil.
    public func finish() {
        let (senders, receiver) = state.withLock { s in
            s.finished = true
            let senders = s.senders
            s.senders.removeAll()
            let receiver = s.chunks.isEmpty ? s.receiver?.continuation : nil
            if receiver != nil { s.receiver = nil }
            return (senders, receiver)
        }
        senders.forEach { $0.resume() }
        receiver?.resume(returning: nil)
    }
}
