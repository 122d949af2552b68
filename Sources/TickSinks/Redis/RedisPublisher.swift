import CoreMetrics
import Blocking
import Hiredis
import Logging
import Synchronization
import TickCodecs
import TickModel

/// Publishes committed ticks on Redis from a `BlockingExecutor` of its own (hiredis blocks), so
/// that an absent or frozen Redis never holds up the database; a Redis that is up but slower than
/// the database makes the pipeline wait for room (`reserveRoom`) rather than lose messages.
///
/// `enqueue` (called after each commit) turns a batch into messages and returns at once. The
/// publisher sends them as one pipeline per job on its executor: `PUBLISH <prefix><SYMBOL> <json>`
/// and `XADD <prefix>stream:<SYMBOL> MAXLEN ~ N <seq>-0 tick <json>` per tick (a stream a
/// subscriber re-reads missed seqs from), and `SET <prefix>last:<SYMBOL> <json>` for the newest
/// tick of each symbol whose latest price moved. When Redis is unreachable it keeps the messages (up to `maxBacklog`), retries on a
/// timer with capped backoff and sends them when Redis is back, oldest first. Past the bound
/// (while unreachable) it skips the oldest, counts them and logs the seq ranges a subscriber must
/// re-read from the database. Delivery is at least once: after a connection breaks mid-pipeline a
/// message may be sent twice (same seq).
public actor RedisPublisher {
    private nonisolated let executor = BlockingExecutor(name: "tickd-redis-publisher")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// What callers and the executor share: the backlog's rules (a value), the jobs queued, and
    /// the blocked callers to wake when it changes.
    private struct Shared {
        var state: PublisherBacklog
        var stopping = false
        var finished = false
        var reconnects = 0
        var isConnected = false
        /// A send is queued on the executor, or running.
        var sending = false
        /// The retry after a failure (backoff), pending.
        var retry: BlockingExecutor.Scheduled?
        /// Failures in a row.
        var attempt = 0
        /// Suspended callers (room, drain, finish): resumed on every change, they look again.
        var waiters = SuspendedTasks<Void, Bool>()

        mutating func takeWaiters() -> [CheckedContinuation<Bool, Never>] { waiters.removeAll() }
    }
    private nonisolated let shared: Mutex<Shared>

    public nonisolated let options: PublisherOptions
    private nonisolated let logger: Logger
    private var connection: RedisConnection?
    private var lastError = ""
    private var everConnected = false
    private nonisolated let metrics = PublisherMetrics()

    typealias Message = PublisherBacklog.Message

    /// It connects with the first message; nothing here waits for Redis.
    public init(options: PublisherOptions, logger: Logger = Logger(label: "tickd.redis")) {
        self.options = options
        self.logger = logger
        shared = Mutex(Shared(state: PublisherBacklog(maxBacklog: options.maxBacklog)))
    }

    /// Reserves room for `count` messages of a batch about to be committed, suspending while they
    /// would push the backlog past `maxBacklog` although Redis is connected and taking messages,
    /// so that a Redis slower than the database slows ingest instead of losing messages. While
    /// Redis is unreachable it returns at once (then the bound applies: the oldest are skipped and
    /// logged). The batch's `enqueue(_:reserved:)`, or `release`, gives the room back.
    /// A cancelled task reserves at once, so that what it enqueues or releases still balances.
    public nonisolated func reserveRoom(for count: Int) async {
        while true {
            let reserved = shared.withLock { shared in shared.state.reserve(count, evenIfFull: shared.stopping || Task.isCancelled) }
            if reserved { return }
            _ = await changed(until: nil) { $0.stopping || $0.state.hasRoom(for: count) }
        }
    }

    /// Gives back room reserved for a batch that will not be enqueued (its commit failed).
    public nonisolated func release(reserved count: Int) {
        let waiters = shared.withLock { shared in
            shared.state.release(count)
            return shared.takeWaiters()
        }
        waiters.forEach { $0.resume(returning: false) }
    }

    /// The counters now.
    public nonisolated var stats: PublisherStats { shared.withLock { Self.stats($0) } }

    /// Where publishing has got to: `retired` messages of those enqueued are out (acknowledged by
    /// Redis, or skipped with their ranges logged); `seqs` gives per symbol the highest seq retired.
    public nonisolated var retirement: (retired: Int, seqs: [Symbol: Int64]) {
        shared.withLock { ($0.state.retired, $0.state.retiredSeq) }
    }

    /// Queues the stored ticks of one committed batch (in per-symbol seq order). Never blocks on
    /// Redis. Returns a ticket: once `retirement.retired` reaches it, every message of this batch
    /// (and of the earlier ones) is out.
    /// `reserved`: the room `reserveRoom` took for this batch, given back now.
    @discardableResult
    public nonisolated func enqueue(_ result: BatchResult, reserved: Int = 0) -> Int {
        guard !result.stored.isEmpty else {
            if reserved > 0 { release(reserved: reserved) }
            return shared.withLock { $0.state.enqueued }
        }
        // The newest stored tick of each symbol whose latest moved becomes its `last` value.
        let newest = StoredTick.newestIndices(result.stored).filter { result.latestMoved.contains($0.key) && result.restoredLatest[$0.key] == nil }
        var lastIndexes = Set(newest.values)
        // After a correction or cancel, `last` is set with the symbol's last message, to the
        // symbol's newest trade (which may be of an earlier batch).
        // A cancel that left a symbol no trade deletes it.
        for symbol in Set(result.restoredLatest.keys).union(result.clearedLatest) {
            if let index = result.stored.lastIndex(where: { $0.keyed.tick.symbol == symbol }) { lastIndexes.insert(index) }
        }
        // A symbol's revised candles go out with its last message of the batch.
        var candles: [Int: [CandleUpdate]] = [:]
        if options.candlePrefix != nil, !result.candles.isEmpty {
            var lastIndex: [Symbol: Int] = [:]
            for (index, stored) in result.stored.enumerated() { lastIndex[stored.keyed.tick.symbol] = index }
            for update in result.candles { if let index = lastIndex[update.symbol] { candles[index, default: []].append(update) } }
        }
        let messages = result.stored.enumerated().map { index, stored in
            let setLast = lastIndexes.contains(index), symbol = stored.keyed.tick.symbol
            return Message(tick: stored.keyed.tick, seq: stored.seq, setLast: setLast, flags: stored.flags.map(\.rawValue), amends: stored.amends,
                           last: setLast ? result.restoredLatest[symbol] : nil, clearsLast: setLast && result.clearedLatest.contains(symbol),
                           candles: candles[index] ?? [])
        }
        let (ticket, skipped) = shared.withLock { shared in
            let (ticket, skipped) = shared.state.enqueue(messages, releasing: reserved)
            startSending(&shared)
            return (ticket, skipped)
        }
        logSkipped(skipped)
        return ticket
    }

    /// Waits until every queued message is published or `timeout` passes; true when all went out.
    /// With `whileUnreachable` false it also stops waiting as soon as Redis is known to be down
    /// (an attempt failed since the last connection): a rebalance or an exit should not wait on
    /// a Redis that is not there, since what is unsent stays owed in the outbox.
    @discardableResult
    public nonisolated func drain(timeout: Duration, whileUnreachable: Bool = true) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !(await changed(until: deadline) { $0.state.isIdle || !whileUnreachable && $0.state.unreachable }) {
            if ContinuousClock.now >= deadline || Task.isCancelled { break }
        }
        return shared.withLock { $0.state.isIdle }
    }

    /// Drains for up to `timeout` (as `drain`), then stops: a connected Redis still takes what is
    /// queued, a failing one is not retried. Whatever is still unsent is counted as skipped and
    /// its seq ranges logged; it is not retired, so the database's outbox still holds it for the
    /// next start. Returns the final counters.
    @discardableResult
    public nonisolated func finish(timeout: Duration, whileUnreachable: Bool = true) async -> PublisherStats {
        await drain(timeout: timeout, whileUnreachable: whileUnreachable)
        shared.withLock { shared in
            shared.stopping = true
            shared.retry?.cancel()
            shared.retry = nil
            if shared.state.waiting.isEmpty || shared.attempt > 0 { shared.finished = true } else { startSending(&shared) }
        }
        while !(await changed(until: nil) { $0.finished }) && !Task.isCancelled {}
        // The job under way ends first; then the thread.
        await executor.shutdownGracefully()
        let (left, stats) = shared.withLock { shared in
            // Not retired: they stay in the outbox (published_seq) and go out at the next start.
            (shared.state.abandon(), Self.stats(shared))
        }
        if left.count > 0 {
            logger.error("redis: messages not published before exit; tickd publishes them at its next start",
                         metadata: ["unsent": "\(left.count)", "seqs": "\(left.ranges)"])
        }
        return stats
    }

    /// Suspends until `done` holds (true), or until something changed, `deadline` passed or the
    /// task was cancelled (false: the caller looks again).
    private nonisolated func changed(until deadline: ContinuousClock.Instant?, _ done: @escaping @Sendable (Shared) -> Bool) async -> Bool {
        await suspend(until: deadline, ready: true, timedOut: false, park: { [self] continuation in
            shared.withLock { shared in done(shared) ? nil : shared.waiters.add(continuation, tag: ()) }
        }, withdraw: { [self] id in
            shared.withLock { $0.waiters.remove(id) }
        })
    }

    // MARK: - On the publisher's executor

    /// Queues a send when messages wait and none is queued, running or waiting to retry.
    private nonisolated func startSending(_ shared: inout Shared) {
        guard !shared.sending, shared.retry == nil, !shared.state.waiting.isEmpty, !shared.finished else { return }
        shared.sending = true
        executor.execute { [self] in assumeIsolated { $0.sendNext() } }
    }

    /// One pipeline: takes what waits (up to `pipelineLimit`), sends it, settles the backlog;
    /// queues the next, or a retry after a failure.
    private func sendNext() {
        let work = shared.withLock { $0.state.take(limit: options.pipelineLimit) }
        let sent = work.isEmpty ? 0 : send(work)
        let failed = sent < work.count
        var pause: Duration?
        let (skipped, waiters, attempt, backlog) = shared.withLock { shared in
            // What did not go out goes back to the front, oldest first; the bound applies.
            let skipped = shared.state.sent(work, acknowledged: sent)
            metrics.published.increment(by: Int64(sent))
            metrics.backlog.record(shared.state.pending)
            shared.isConnected = connection != nil
            shared.sending = false
            if failed {
                shared.attempt += 1
                if shared.stopping {
                    shared.finished = true
                } else {
                    let wait = options.reconnect.pause(attempt: shared.attempt)
                    pause = wait
                    shared.retry = executor.schedule(after: wait) { [self] in
                        assumeIsolated { publisher in
                            publisher.shared.withLock { shared in
                                shared.retry = nil
                                publisher.startSending(&shared)
                            }
                        }
                    }
                }
            } else {
                shared.attempt = 0
                if shared.stopping && shared.state.waiting.isEmpty { shared.finished = true }
                startSending(&shared)
            }
            return (skipped, shared.takeWaiters(), shared.attempt, shared.state.pending)
        }
        waiters.forEach { $0.resume(returning: false) }
        logSkipped(skipped)
        if let pause, attempt == 1 || attempt % 10 == 0 {
            logger.warning("redis: unreachable, holding messages", metadata: [
                "attempt": "\(attempt)", "backlog": "\(backlog)", "retry_in_ms": "\(pause.milliseconds)",
                "error": "\(lastError)"])
        }
    }

    /// Sends `work` as one pipeline; returns how many messages Redis acknowledged.
    private func send(_ work: [Message]) -> Int {
        do {
            let redis = try connected()
            // The whole pipeline is encoded into one reused buffer and handed to hiredis at once.
            commands.removeAll()
            let prefix = Array(options.prefix.utf8)
            let streaming = options.streamMaxLength > 0
            for message in work {
                payload.removeAll(keepingCapacity: true)
                TickMessage.append(message.tick, seq: message.seq, flags: message.flags, amends: message.amends, to: &payload)
                key.removeAll(keepingCapacity: true)
                key.append(contentsOf: prefix)
                key.append(contentsOf: message.symbol.rawValue.utf8)
                commands.begin(arguments: 3)
                commands.argument(Self.publishCommand)
                commands.argument(key)
                commands.argument(payload)
                if streaming { appendStreamEntry(message, prefix: prefix) }
                if message.setLast {
                    key.removeAll(keepingCapacity: true)
                    key.append(contentsOf: prefix)
                    key.append(contentsOf: Self.lastInfix)
                    key.append(contentsOf: message.symbol.rawValue.utf8)
                    if message.clearsLast {
                        commands.begin(arguments: 2)
                        commands.argument(Self.deleteCommand)
                        commands.argument(key)
                    } else {
                        if let last = message.last {
                            payload.removeAll(keepingCapacity: true)
                            TickMessage.append(last.tick, seq: last.seq, to: &payload)
                        }
                        commands.begin(arguments: 3)
                        commands.argument(Self.setCommand)
                        commands.argument(key)
                        commands.argument(payload)
                    }
                }
                for candle in message.candles { appendCandle(candle) }
            }
            try redis.append(encoded: commands)
            // A message counts only when Redis accepted it. An error reply (NOAUTH, OOM, READONLY…)
            // means it did not: keep it and the rest, drop the connection, retry after backoff.
            var acknowledged = 0
            var refusal: String?
            var behind: [Message] = []
            for message in work {
                let published = try redis.readError()
                let streamed = streaming ? try redis.readError() : nil
                let last = message.setLast ? try redis.readError() : nil
                var candle: String?
                for _ in message.candles { if let error = try redis.readError(), candle == nil { candle = error } }
                if refusal != nil { continue }
                refusal = published ?? last ?? candle
                if refusal == nil, let streamed {
                    if streamed.contains(Self.streamAheadError) { behind.append(message) } else { refusal = streamed }
                }
                if refusal == nil { acknowledged += 1 }
            }
            // Entries the stream already has (messages sent again), or a stream of another
            // history: one look per symbol, however many of its messages were refused.
            var refused: [Symbol: [Message]] = [:]
            for message in behind { refused[message.symbol, default: []].append(message) }
            for (symbol, messages) in refused {
                try settleStream(messages, later: work.prefix(acknowledged).filter { $0.symbol == symbol }, on: redis, prefix: prefix)
            }
            if let refusal { throw RedisError(kind: .reply, message: "PUBLISH refused: \(refusal)") }
            return acknowledged
        } catch {
            lastError = "\(error)"
            if connection != nil {
                logger.warning("redis: connection lost", metadata: ["error": "\(error)"])
            }
            connection = nil
            let waiters = shared.withLock { shared in
                shared.state.failed()
                shared.isConnected = false
                // A drain that does not wait for an unreachable Redis returns.
                return shared.takeWaiters()
            }
            waiters.forEach { $0.resume(returning: false) }
            metrics.errors.increment()
            metrics.up.record(0)
            return 0
        }
    }

    /// `XADD <prefix>stream:<SYMBOL> MAXLEN ~ <limit> <seq>-0 tick <payload>` for `message`,
    /// whose payload is in `payload`.
    private func appendStreamEntry(_ message: Message, prefix: [UInt8]) {
        key.removeAll(keepingCapacity: true)
        key.append(contentsOf: prefix)
        key.append(contentsOf: Self.streamInfix)
        key.append(contentsOf: message.symbol.rawValue.utf8)
        commands.begin(arguments: 8)
        commands.argument(Self.streamAddCommand)
        commands.argument(key)
        commands.argument(Self.maxLength)
        commands.argument(Self.approximately)
        if streamLimit.isEmpty { streamLimit = Array(String(options.streamMaxLength).utf8) }
        commands.argument(streamLimit)
        streamID.removeAll(keepingCapacity: true)
        JSONText.appendInteger(message.seq, to: &streamID)
        streamID.append(contentsOf: Self.firstSequence)
        commands.argument(streamID)
        commands.argument(Self.tickField)
        commands.argument(payload)
    }

    /// One live candle: `EVAL` of `candleScript`, which takes the channel's next seq, keeps the
    /// message under `last` unless that holds a later bucket, and publishes it — atomically, so
    /// the seqs of a channel go out in order from any number of writers.
    private func appendCandle(_ candle: CandleUpdate) {
        guard let prefix = options.candlePrefix else { return }
        let channel = prefix + candle.interval.rawValue + ":"
        payload.removeAll(keepingCapacity: true)
        CandleMessage.appendBody(candle, to: &payload)
        bucket.removeAll(keepingCapacity: true)
        candle.bucket.writeRFC3339(to: &bucket, fractionDigits: 3)
        commands.begin(arguments: 8)
        commands.argument(Self.evalCommand)
        commands.argument(Self.candleScript)
        commands.argument(Self.two)
        commands.argument(Array((channel + "seq:" + candle.symbol.rawValue).utf8))
        commands.argument(Array((channel + "last:" + candle.symbol.rawValue).utf8))
        commands.argument(Array((channel + candle.symbol.rawValue).utf8))
        commands.argument(bucket)
        commands.argument(payload)
    }

    /// KEYS: the channel's seq counter and its `last` key; ARGV: the channel, the bucket (RFC 3339
    /// UTC, which orders as text), the message without its seq and closing brace.
    static let candleScript = Array("""
        local n = redis.call('INCR', KEYS[1])
        local m = ARGV[3] .. ',"seq":' .. string.format('%d', n) .. '}'
        local held = redis.call('GET', KEYS[2])
        if not held or (string.match(held, '"bucket":"([^"]*)"') or '') <= ARGV[2] then redis.call('SET', KEYS[2], m) end
        redis.call('PUBLISH', ARGV[1], m)
        return n
        """.utf8)

    /// Redis refused the entries of `refused` (one symbol's, in seq order) because the stream's
    /// last ID is at or past their seqs. When the stream holds each of those seqs with the same
    /// tick (flags aside: a message sent again after a restart has none), they were sent before:
    /// nothing to do — one XRANGE over their seqs tells (a Kafka group's recovery can send back
    /// thousands at once). Otherwise the stream is of another history (a database restored from
    /// a backup, whose seqs start again lower): it is deleted and started again at the first
    /// refused seq, with a warning (decision: a stream must agree with `market_ticks`, and a stuck
    /// stream must not hold up publishing); `sameSymbol`, the symbol's messages of this pipeline
    /// that Redis took (the refused among them), go into the new stream from that seq on.
    private func settleStream(_ refused: [Message], later sameSymbol: [Message], on redis: RedisConnection,
                              prefix: [UInt8]) throws(RedisError) {
        guard let first = refused.first, let last = refused.last else { return }
        let stream = String(decoding: prefix, as: UTF8.self) + "stream:" + first.symbol.rawValue
        var held: [String: [UInt8]] = [:]
        if case .array(let entries) = try redis.command(["XRANGE", stream, "\(first.seq)-0", "\(last.seq)-0"]) {
            for entry in entries {
                guard case .array(let parts) = entry, parts.count == 2, let id = parts[0].text, case .array(let fields) = parts[1],
                      fields.count == 2, case .string(let stored) = fields[1] else { continue }
                held[id] = Self.withoutFlags(stored)
            }
        }
        let differing = refused.first { message in
            var sent: [UInt8] = []
            TickMessage.append(message.tick, seq: message.seq, amends: message.amends, to: &sent)
            return held["\(message.seq)-0"] != sent
        }
        guard let differing else { return }
        logger.warning("redis: a stream is ahead of tickd's seqs with other ticks (a restored database?): deleted, starting again",
                       metadata: ["stream": "\(stream)", "seq": "\(differing.seq)"])
        Counter(label: "tickd_redis_streams_reset_total").increment()
        commands.removeAll()
        commands.begin(arguments: 2)
        commands.argument(Self.deleteCommand)
        commands.argument(Array(stream.utf8))
        // The symbol's messages of this pipeline that Redis took (the refused ones among them).
        let again = sameSymbol.filter { $0.seq >= differing.seq }
        for entry in again {
            payload.removeAll(keepingCapacity: true)
            TickMessage.append(entry.tick, seq: entry.seq, flags: entry.flags, amends: entry.amends, to: &payload)
            appendStreamEntry(entry, prefix: prefix)
        }
        try redis.append(encoded: commands)
        for _ in 0...again.count {
            if case .error(let text) = try redis.readReply() { throw RedisError(kind: .reply, message: "stream \(stream): \(text)") }
        }
    }

    /// A message's JSON without its `"flags":[…]`.
    static func withoutFlags(_ json: [UInt8]) -> [UInt8] {
        let marker = Array(#","flags":["#.utf8)
        guard let start = json.indices.first(where: { json[$0...].starts(with: marker) }),
              let end = json[start...].firstIndex(of: UInt8(ascii: "]")) else { return json }
        return Array(json[..<start] + json[(end + 1)...])
    }

    private static let streamAheadError = "equal or smaller than the target stream top item"
    private static let streamAddCommand = Array("XADD".utf8)
    private static let streamInfix = Array("stream:".utf8)
    private static let maxLength = Array("MAXLEN".utf8)
    private static let approximately = Array("~".utf8)
    private static let tickField = Array("tick".utf8)
    private static let firstSequence = Array("-0".utf8)
    private static let publishCommand = Array("PUBLISH".utf8)
    private static let evalCommand = Array("EVAL".utf8)
    private static let two = Array("2".utf8)
    private static let setCommand = Array("SET".utf8)
    private static let deleteCommand = Array("DEL".utf8)
    private static let lastInfix = Array("last:".utf8)
    // Scratch buffers of `send`, on the publisher's executor.
    private var commands = RedisCommandBuffer(capacity: 1 << 20)
    private var streamLimit: [UInt8] = []
    private var streamID: [UInt8] = []
    private var bucket: [UInt8] = []
    private var payload: [UInt8] = []
    private var key: [UInt8] = []

    private func connected() throws -> RedisConnection {
        if let connection { return connection }
        let redis = try RedisConnection(url: options.url, timeout: options.timeout, tls: options.tls)
        connection = redis
        let reconnected = everConnected
        shared.withLock { shared in
            if reconnected { shared.reconnects += 1 }
            shared.isConnected = true
            shared.state.connected()
        }
        metrics.up.record(1)
        if everConnected { metrics.reconnects.increment() }
        logger.info("redis: connected", metadata: ["url": "\(options.url)"])
        everConnected = true
        return redis
    }

    private static func stats(_ shared: Shared) -> PublisherStats {
        var stats = PublisherStats()
        stats.published = shared.state.published
        stats.skipped = shared.state.skipped
        stats.errors = shared.state.errors
        stats.reconnects = shared.reconnects
        stats.backlog = shared.state.pending
        stats.connected = shared.isConnected
        return stats
    }

    /// Counts and logs what the backlog's bound skipped (while Redis was unreachable; while it
    /// is connected the pipeline's wait for room bounds the backlog and nothing is skipped).
    private nonisolated func logSkipped(_ skipped: PublisherBacklog.Skipped?) {
        guard let skipped, skipped.count > 0 else { return }
        metrics.skipped.increment(by: Int64(skipped.count))
        logger.error("redis: backlog over its bound, skipped the oldest messages; subscribers must re-read them from the database",
                     metadata: ["skipped": "\(skipped.count)", "max_backlog": "\(options.maxBacklog)", "reread": "\(skipped.ranges)"])
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
