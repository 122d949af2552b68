import Synchronization
import TickModel
import TickNormalisation

/// The bounded queue between the sources and the database writer, counted in ticks.
///
/// `send` suspends while the queue is full, so a source stops reading — for TCP that means the
/// socket is not read, the kernel's buffers fill, and TCP flow control slows the publisher —
/// instead of memory growing. One consumer calls `receive`.
public final class TickQueue: Sendable {
    public let capacity: Int

    /// A parked task: a sender waiting for room, or the consumer waiting for a chunk.
    enum Waiter {
        case sender(CheckedContinuation<Void, Never>)
        case receiver(CheckedContinuation<TickChunk?, Never>)

        func resume(with chunk: TickChunk? = nil) {
            switch self {
            case .sender(let continuation): continuation.resume()
            case .receiver(let continuation): continuation.resume(returning: chunk)
            }
        }
    }

    /// The rules (`TickQueueState`); continuations are resumed outside the lock.
    private let state: Mutex<TickQueueState<Waiter>>

    /// `capacity` ticks at most are held (a single chunk larger than that is still let through alone).
    public init(capacity: Int) {
        self.capacity = capacity
        state = Mutex(TickQueueState(capacity: capacity))
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
    public var isDrained: Bool { state.withLock { $0.isDrained } }

    /// Adds a chunk, waiting while the queue is full. Returns false when the queue was finished
    /// (the chunk is then dropped: tickd is shutting down and no longer takes input).
    @discardableResult
    public func send(_ chunk: TickChunk) async -> Bool {
        // A chunk without ticks matters only when it moves a file's position.
        guard !chunk.ticks.isEmpty || chunk.position != nil else { return true }
        while true {
            switch state.withLock({ $0.send(chunk) }) {
            case .refused:
                return false
            case .accepted(let receiver):
                receiver?.resume(with: chunk)   // handed over directly
                return true
            case .full:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let parked = state.withLock { $0.parkSender(.sender(continuation), for: chunk.ticks.count) }
                    if !parked { continuation.resume() }
                }
            }
        }
    }

    /// The next chunk; nil when `deadline` passes first, or when the queue is finished and empty.
    /// The deadline is a child task that sleeps until then; it is cancelled as soon as a chunk
    /// (or a wake) comes first. A cancelled caller gets nil at once, with a deadline or without.
    public func receive(until deadline: ContinuousClock.Instant?) async -> TickChunk? {
        // A chunk waiting already needs no deadline (the common case under load).
        if let (chunk, senders) = state.withLock({ $0.take() }) {
            senders.forEach { $0.resume() }
            return chunk
        }
        let id = state.withLock { $0.newReceiveID() }
        guard let deadline else {
            // Without a deadline only the cancellation ends the wait early (a stopping tickd).
            return await withTaskCancellationHandler {
                await park(id: id)
            } onCancel: {
                state.withLock { $0.deadlinePassed(id: id) }?.resume()
            }
        }
        return await withTaskGroup(of: Void.self, returning: TickChunk?.self) { group in
            group.addTask { [self] in
                // Ended early too when the consumer's task is cancelled: the receive then returns
                // nil at once (the caller sees the cancellation). Once the receive has returned,
                // its id is stale and this does nothing.
                try? await Task.sleep(until: deadline, clock: .continuous)
                state.withLock { $0.deadlinePassed(id: id) }?.resume()
            }
            let chunk = await park(id: id)
            group.cancelAll()
            return chunk
        }
    }

    /// Takes a chunk at once, or parks the consumer until a sender, a wake, the finish or the
    /// deadline of receive `id` resumes it.
    private func park(id: Int) async -> TickChunk? {
        await withCheckedContinuation { (continuation: CheckedContinuation<TickChunk?, Never>) in
            switch state.withLock({ $0.receive(id: id, waiter: .receiver(continuation)) }) {
            case .chunk(let chunk, let senders):
                senders.forEach { $0.resume() }   // they re-check for room
                continuation.resume(returning: chunk)
            case .none:
                continuation.resume(returning: nil)
            case .parked:
                break
            }
        }
    }

    /// Ends the consumer's wait (its receive returns nil), or its next one if it is not waiting:
    /// something other than input needs it (a writer lane became free).
    public func wake() {
        state.withLock { $0.wake() }?.resume()
    }

    /// No more input: waiting and future senders get false; the consumer gets what is left, then nil.
    public func finish() {
        let (senders, receiver) = state.withLock { $0.finish() }
        senders.forEach { $0.resume() }
        receiver?.resume()
    }
}
