import DequeModule
import TickCodecs
import TickModel

/// The Redis publisher's bookkeeping as a value: the messages waiting, the pipeline under way,
/// what is retired (acknowledged by Redis, or skipped by the bound and logged), and whether Redis
/// is reachable. It takes the publisher's events and returns what must be logged; no I/O, no
/// locks, no clock, so every rule is tested without Redis or sleeps (`PublisherBacklogTests`,
/// with a randomized model test).
///
/// The rules:
/// - messages go out oldest first; what a broken pipeline did not get acknowledged goes back to
///   the front, so per symbol they still go out in seq order (at least once);
/// - `retiredSeq[symbol]` is the highest seq retired, and every earlier message of the symbol is
///   retired too (the database's outbox watermark may move to it);
/// - while Redis is reachable nothing is skipped: the pipeline reserves room (`reserve`) for a
///   batch before it is committed, and waits while there is none;
///   once an attempt failed, the backlog is bounded by `maxBacklog` and the oldest are skipped.
public struct PublisherBacklog: Sendable {
    /// One message: a stored tick (encoded as JSON on the publisher's thread, off the ingest
    /// path), and whether it is also the symbol's newest (`SET …last:<SYMBOL>`).
    public struct Message: Sendable, Equatable {
        public let tick: Tick
        public let seq: Int64
        public let setLast: Bool
        public var flags: [String]
        /// What only corrections, cancels and the messages after them carry, boxed: a backlog
        /// holds up to `redis.max_backlog` messages, nearly all plain trades.
        let extras: Extras?
        /// For a correction or cancel: the trade it changed.
        public var amends: TickMessage.Amended? { extras?.amends }
        /// What `last:<SYMBOL>` is set to instead of this message: the symbol's newest trade
        /// after a correction or cancel.
        public var last: LatestTrade? { extras?.last }
        /// `last:<SYMBOL>` is deleted with this message: a cancel left the symbol no trade.
        public var clearsLast: Bool { extras?.clearsLast ?? false }
        /// The live candles revised by this message's batch, sent after it (the symbol's last
        /// message of the batch carries them).
        public var candles: [CandleUpdate] { extras?.candles ?? [] }
        public var symbol: Symbol { tick.symbol }

        final class Extras: Sendable, Equatable {
            let amends: TickMessage.Amended?
            let last: LatestTrade?
            let clearsLast: Bool
            let candles: [CandleUpdate]
            init(amends: TickMessage.Amended?, last: LatestTrade?, clearsLast: Bool, candles: [CandleUpdate]) {
                self.amends = amends
                self.last = last
                self.clearsLast = clearsLast
                self.candles = candles
            }
            static func == (a: Extras, b: Extras) -> Bool {
                a.amends == b.amends && a.last == b.last && a.clearsLast == b.clearsLast && a.candles == b.candles
            }
        }

        public init(tick: Tick, seq: Int64, setLast: Bool, flags: [String] = [], amends: TickMessage.Amended? = nil, last: LatestTrade? = nil,
                    clearsLast: Bool = false, candles: [CandleUpdate] = []) {
            self.tick = tick
            self.seq = seq
            self.setLast = setLast
            self.flags = flags
            extras = amends == nil && last == nil && !clearsLast && candles.isEmpty
                ? nil : Extras(amends: amends, last: last, clearsLast: clearsLast, candles: candles)
        }
    }

    /// Messages the bound dropped: to be counted and their seq ranges logged for re-reading.
    public struct Skipped: Sendable, Equatable {
        public var count = 0
        public var ranges = SkippedRanges()
    }

    public let maxBacklog: Int
    public private(set) var waiting = Deque<Message>()
    /// Messages taken for the pipeline under way.
    public private(set) var inFlight = 0
    /// True from a failed attempt until the next connection: only then does the bound skip
    /// (before the first connection, the pipeline waits for room).
    public private(set) var unreachable = false
    /// Room reserved for batches being committed (`reserve`), counted against the bound until
    /// their messages are enqueued.
    public private(set) var reserved = 0
    public private(set) var enqueued = 0
    public private(set) var retired = 0
    public private(set) var retiredSeq: [Symbol: Int64] = [:]
    public private(set) var published = 0
    public private(set) var skipped = 0
    public private(set) var errors = 0

    public init(maxBacklog: Int) { self.maxBacklog = maxBacklog }

    /// Messages not yet retired: waiting and in flight.
    public var pending: Int { waiting.count + inFlight }
    public var isIdle: Bool { waiting.isEmpty && inFlight == 0 }

    /// Whether `count` more messages may be queued now without passing the bound (always while
    /// unreachable: then the bound skips the oldest instead).
    public func hasRoom(for count: Int) -> Bool { unreachable || pending + reserved + count <= max(maxBacklog, count) }

    /// Reserves room for `count` messages of a batch being committed; false (nothing reserved)
    /// when there is none, unless `evenIfFull` (a stopping publisher holds no one up).
    public mutating func reserve(_ count: Int, evenIfFull: Bool = false) -> Bool {
        guard evenIfFull || hasRoom(for: count) else { return false }
        reserved += count
        return true
    }

    /// Gives back reserved room (a batch enqueued, or one that will never be).
    public mutating func release(_ count: Int) {
        precondition(count <= reserved, "released more room than was reserved")
        reserved -= count
    }

    /// Queues a committed batch's messages, giving back the room reserved for it (`releasing`);
    /// returns the ticket (once `retired` reaches it, all of them are out) and what the bound
    /// skipped.
    public mutating func enqueue(_ messages: [Message], releasing room: Int = 0) -> (ticket: Int, skipped: Skipped?) {
        release(room)
        waiting.append(contentsOf: messages)
        enqueued += messages.count
        return (enqueued, enforceBound())
    }

    /// Takes up to `limit` of the oldest messages for one pipeline (none while one is under way).
    public mutating func take(limit: Int) -> [Message] {
        guard inFlight == 0 else { return [] }
        let count = min(limit, waiting.count)
        let work = Array(waiting.prefix(count))
        waiting.removeFirst(count)
        inFlight = count
        return work
    }

    /// The pipeline `work` ended with its first `acknowledged` messages accepted by Redis: they
    /// are retired; the rest go back to the front, oldest first. Returns what the bound skipped.
    public mutating func sent(_ work: [Message], acknowledged: Int) -> Skipped? {
        precondition(work.count == inFlight && (0...work.count).contains(acknowledged))
        inFlight = 0
        retire(work[..<acknowledged])
        published += acknowledged
        if acknowledged < work.count { waiting.insert(contentsOf: work[acknowledged...], at: 0) }
        return enforceBound()
    }

    /// An attempt to reach Redis failed (connect, write, read, or a refusal).
    public mutating func failed() {
        errors += 1
        unreachable = true
    }

    /// A connection to Redis is up.
    public mutating func connected() { unreachable = false }

    /// At exit: what was never sent, removed and counted as skipped but not retired (the
    /// database's outbox still owes it, for the next start).
    public mutating func abandon() -> Skipped {
        var left = Skipped()
        for message in waiting { left.ranges.add(message.symbol, seq: message.seq) }
        left.count = waiting.count
        skipped += waiting.count
        waiting.removeAll()
        return left
    }

    private mutating func retire<S: Sequence<Message>>(_ messages: S) {
        for message in messages {
            retired += 1
            if message.seq > retiredSeq[message.symbol] ?? 0 { retiredSeq[message.symbol] = message.seq }
        }
    }

    /// Drops the oldest waiting messages beyond `maxBacklog` while Redis is unreachable; they are
    /// retired (a subscriber re-reads their ranges from the database). Not while a pipeline is
    /// under way: its messages are older than every waiting one, and skipping newer ones first
    /// would move a symbol's retired seq past messages not yet out (the outbox would then lose
    /// them if the pipeline failed and tickd exited). The bound applies when the pipeline ends,
    /// so it can be passed for as long as one attempt lasts (`redis.timeout_ms`).
    private mutating func enforceBound() -> Skipped? {
        guard unreachable, inFlight == 0 else { return nil }
        let excess = pending - maxBacklog
        guard excess > 0 else { return nil }
        let drop = min(excess, waiting.count)
        var dropped = Skipped(count: drop)
        for message in waiting.prefix(drop) { dropped.ranges.add(message.symbol, seq: message.seq) }
        retire(waiting.prefix(drop))
        waiting.removeFirst(drop)
        skipped += drop
        return dropped
    }
}
