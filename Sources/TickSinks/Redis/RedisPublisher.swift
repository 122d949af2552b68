import CoreMetrics
import Foundation
import Hiredis
import Logging
import TickCodecs
import TickModel

/// Publishes committed ticks on Redis from a thread of its own, so that an absent or frozen Redis
/// never holds up the database; a Redis that is up but slower than the database makes callers
/// wait for room (`waitForRoom`) rather than lose messages.
///
/// `enqueue` (called after each commit) turns a batch into messages and returns at once. The
/// publisher thread sends them as one pipeline: `PUBLISH <prefix><SYMBOL> <json>` per tick and
/// `SET <prefix>last:<SYMBOL> <json>` for the newest tick of each symbol whose latest price moved.
/// When Redis is unreachable it keeps the messages (up to `maxBacklog`), reconnects with capped
/// backoff and sends them when Redis is back, oldest first. Past the bound (while unreachable) it skips the oldest,
/// counts them and logs the seq ranges a subscriber must re-read from the database. Delivery is
/// at least once: after a connection breaks mid-pipeline a message may be sent twice (same seq).
public final class RedisPublisher: @unchecked Sendable {
    // Everything below `condition` is guarded by it; the thread and callers meet only there.
    private let condition = NSCondition()
    /// The messages, what is retired, whether Redis is reachable: all the rules (a value).
    private var state: PublisherBacklog
    private var stopping = false
    private var finished = false
    private var reconnects = 0
    private var isConnected = false

    public let options: PublisherOptions
    private let logger: Logger
    private var connection: RedisConnection?  // publisher thread only
    private var lastError = ""                 // publisher thread only
    private let metrics = PublisherMetrics()

    typealias Message = PublisherBacklog.Message

    /// Starts the publisher thread. It connects in the background; nothing here waits for Redis.
    public init(options: PublisherOptions, logger: Logger = Logger(label: "tickd.redis")) {
        self.options = options
        self.logger = logger
        state = PublisherBacklog(maxBacklog: options.maxBacklog)
        let thread = Thread { [self] in self.run() }
        thread.name = "tickd-redis-publisher"
        thread.start()
    }

    /// Blocks the calling thread (a writer lane's; not for async code) while `count` more
    /// messages would push the backlog past `maxBacklog` although Redis is connected and taking
    /// them, so that a Redis slower than the database slows ingest instead of losing messages.
    /// While Redis is unreachable it returns at once (then the bound applies: the oldest are
    /// skipped and logged).
    public func waitForRoom(for count: Int) {
        condition.lock()
        defer { condition.unlock() }
        while !roomLocked(for: count) { condition.wait() }
    }

    private func roomLocked(for count: Int) -> Bool { stopping || state.hasRoom(for: count) }

    /// The counters now.
    public var stats: PublisherStats {
        condition.lock()
        defer { condition.unlock() }
        return statsLocked
    }

    /// Where publishing has got to: `retired` messages of those enqueued are out (acknowledged by
    /// Redis, or skipped with their ranges logged); `seqs` gives per symbol the highest seq retired.
    public var retirement: (retired: Int, seqs: [Symbol: Int64]) {
        condition.lock()
        defer { condition.unlock() }
        return (state.retired, state.retiredSeq)
    }

    /// Queues the stored ticks of one committed batch (in per-symbol seq order). Never blocks on
    /// Redis. Returns a ticket: once `retirement.retired` reaches it, every message of this batch
    /// (and of the earlier ones) is out.
    @discardableResult
    public func enqueue(_ result: BatchResult) -> Int {
        guard !result.stored.isEmpty else {
            condition.lock()
            defer { condition.unlock() }
            return state.enqueued
        }
        // The newest stored tick of each symbol whose latest moved becomes its `last` value.
        let newest = StoredTick.newestIndices(result.stored).filter { result.latestMoved.contains($0.key) }
        let lastIndexes = Set(newest.values)
        let messages = result.stored.enumerated().map { index, stored in
            Message(tick: stored.keyed.tick, seq: stored.seq, setLast: lastIndexes.contains(index), flags: stored.flags.map(\.rawValue))
        }
        condition.lock()
        let (ticket, skipped) = state.enqueue(messages)
        condition.broadcast()
        condition.unlock()
        logSkipped(skipped)
        return ticket
    }

    /// Waits until every queued message is published or `timeout` passes; true when all went out.
    /// With `whileUnreachable` false it also stops waiting as soon as Redis is known to be down
    /// (an attempt failed since the last connection): a rebalance or an exit should not wait on
    /// a Redis that is not there, since what is unsent stays owed in the outbox.
    @discardableResult
    public func drain(timeout: Duration, whileUnreachable: Bool = true) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout.seconds)
        condition.lock()
        defer { condition.unlock() }
        while !state.isIdle {
            if !whileUnreachable && state.unreachable { return false }
            if !condition.wait(until: deadline) { return state.isIdle }
        }
        return true
    }

    /// Drains for up to `timeout` (as `drain`), then stops the thread. Whatever is still unsent
    /// is counted as skipped and its seq ranges logged; it is not retired, so the database's
    /// outbox still holds it for the next start. Returns the final counters.
    @discardableResult
    public func finish(timeout: Duration, whileUnreachable: Bool = true) -> PublisherStats {
        drain(timeout: timeout, whileUnreachable: whileUnreachable)
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        // Not retired: they stay in the outbox (published_seq) and go out at the next start.
        let left = state.abandon()
        let stats = statsLocked
        condition.unlock()
        if left.count > 0 {
            logger.error("redis: messages not published before exit; tickd publishes them at its next start",
                         metadata: ["unsent": "\(left.count)", "seqs": "\(left.ranges)"])
        }
        return stats
    }

    // MARK: - Publisher thread

    private func run() {
        var attempt = 0
        while true {
            condition.lock()
            while state.waiting.isEmpty && !stopping { condition.wait() }
            if stopping && (state.waiting.isEmpty || connection == nil && attempt > 0) {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let work = state.take(limit: options.pipelineLimit)
            condition.unlock()

            let sent = send(work)
            condition.lock()
            // What did not go out goes back to the front, oldest first; the bound applies.
            let skipped = state.sent(work, acknowledged: sent)
            metrics.published.increment(by: Int64(sent))
            metrics.backlog.record(state.pending)
            isConnected = connection != nil
            condition.broadcast()
            let failed = sent < work.count
            let stop = stopping
            condition.unlock()
            logSkipped(skipped)

            if failed {
                attempt += 1
                if stop { continue }
                let pause = options.reconnect.pause(attempt: attempt)
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning("redis: unreachable, holding messages", metadata: [
                        "attempt": "\(attempt)", "backlog": "\(stats.backlog)", "retry_in_ms": "\(pause.milliseconds)",
                        "error": "\(lastError)"])
                }
                sleepInterruptibly(pause)
            } else {
                attempt = 0
            }
        }
    }

    /// Sends `work` as one pipeline; returns how many messages Redis acknowledged.
    private func send(_ work: [Message]) -> Int {
        do {
            let redis = try connected()
            // The whole pipeline is encoded into one reused buffer and handed to hiredis at once.
            commands.removeAll()
            let prefix = Array(options.prefix.utf8)
            for message in work {
                payload.removeAll(keepingCapacity: true)
                TickMessage.append(message.tick, seq: message.seq, flags: message.flags, to: &payload)
                key.removeAll(keepingCapacity: true)
                key.append(contentsOf: prefix)
                key.append(contentsOf: message.symbol.rawValue.utf8)
                commands.begin(arguments: 3)
                commands.argument(Self.publishCommand)
                commands.argument(key)
                commands.argument(payload)
                if message.setLast {
                    key.removeAll(keepingCapacity: true)
                    key.append(contentsOf: prefix)
                    key.append(contentsOf: Self.lastInfix)
                    key.append(contentsOf: message.symbol.rawValue.utf8)
                    commands.begin(arguments: 3)
                    commands.argument(Self.setCommand)
                    commands.argument(key)
                    commands.argument(payload)
                }
            }
            try redis.append(encoded: commands)
            // A message counts only when Redis accepted it. An error reply (NOAUTH, OOM, READONLY…)
            // means it did not: keep it and the rest, drop the connection, retry after backoff.
            var acknowledged = 0
            var refusal: String?
            for message in work {
                let reply = try redis.readReply()
                let last = message.setLast ? try redis.readReply() : nil
                if refusal != nil { continue }
                if case .error(let text) = reply { refusal = text } else if case .error(let text)? = last { refusal = text }
                if refusal == nil { acknowledged += 1 }
            }
            if let refusal { throw RedisError(kind: .reply, message: "PUBLISH refused: \(refusal)") }
            return acknowledged
        } catch {
            lastError = "\(error)"
            if connection != nil {
                logger.warning("redis: connection lost", metadata: ["error": "\(error)"])
            }
            connection = nil
            condition.lock()
            state.failed()
            isConnected = false
            condition.broadcast()   // a drain that does not wait for an unreachable Redis returns
            condition.unlock()
            metrics.errors.increment()
            metrics.up.record(0)
            return 0
        }
    }

    private static let publishCommand = Array("PUBLISH".utf8)
    private static let setCommand = Array("SET".utf8)
    private static let lastInfix = Array("last:".utf8)
    // Scratch buffers of `send`, publisher thread only.
    private var commands = RedisCommandBuffer(capacity: 1 << 20)
    private var payload: [UInt8] = []
    private var key: [UInt8] = []

    private var everConnected = false

    private func connected() throws -> RedisConnection {
        if let connection { return connection }
        let redis = try RedisConnection(url: options.url, timeout: options.timeout, tls: options.tls)
        connection = redis
        condition.lock()
        if everConnected { reconnects += 1 }
        isConnected = true
        state.connected()
        condition.unlock()
        metrics.up.record(1)
        if everConnected { metrics.reconnects.increment() }
        logger.info("redis: connected", metadata: ["url": "\(options.url)"])
        everConnected = true
        return redis
    }

    /// The counters. Caller holds the lock.
    private var statsLocked: PublisherStats {
        var stats = PublisherStats()
        stats.published = state.published
        stats.skipped = state.skipped
        stats.errors = state.errors
        stats.reconnects = reconnects
        stats.backlog = state.pending
        stats.connected = isConnected
        return stats
    }

    /// Counts and logs what the backlog's bound skipped (while Redis was unreachable; while it
    /// is connected the writers' wait for room bounds the backlog and nothing is skipped).
    private func logSkipped(_ skipped: PublisherBacklog.Skipped?) {
        guard let skipped, skipped.count > 0 else { return }
        metrics.skipped.increment(by: Int64(skipped.count))
        logger.error("redis: backlog over its bound, skipped the oldest messages; subscribers must re-read them from the database",
                     metadata: ["skipped": "\(skipped.count)", "max_backlog": "\(options.maxBacklog)", "reread": "\(skipped.ranges)"])
    }

    /// Sleeps, but wakes early when `finish` is called.
    private func sleepInterruptibly(_ pause: Duration) {
        let deadline = Date(timeIntervalSinceNow: pause.seconds)
        condition.lock()
        while !stopping && condition.wait(until: deadline) {}
        condition.unlock()
    }
}

/// `tickd_redis_published_total`, `tickd_redis_publish_errors_total`, `tickd_redis_skipped_total`,
/// `tickd_redis_reconnects_total`, `tickd_redis_backlog`, `tickd_redis_up`.
struct PublisherMetrics: Sendable {
    let published = Counter(label: "tickd_redis_published_total")
    let errors = Counter(label: "tickd_redis_publish_errors_total")
    let skipped = Counter(label: "tickd_redis_skipped_total")
    let reconnects = Counter(label: "tickd_redis_reconnects_total")
    let backlog = Gauge(label: "tickd_redis_backlog")
    let up = Gauge(label: "tickd_redis_up")
}
