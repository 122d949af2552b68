import Kafka
import Logging
import ServiceLifecycle
import TickEngine
import TickKafka
import TickNormalisation
import TickSinks
import TickSources

/// A consumer group as a source (`sources.kafka[]`, `--kafka-…`). The database, not Kafka, says
/// where each partition resumes: every batch's transaction records the offset after its last
/// message (`tickd_positions`, stream `kafka:<topic>/<partition>`). Around that:
/// - on assignment, each partition starts at the database's offset (the group's committed offset,
///   else `auto.offset.reset`, only where the database has none), after the stored ticks nobody
///   published were queued on Redis (the outbox; with a Kafka source, not at start). Instances
///   take turns at it under an advisory lock, so that one instance, not each, republishes what a
///   dead one left;
/// - once a second, the offsets the database has committed go to the group as well, so that
///   Kafka's lag tools see tickd's progress;
/// - on revocation (a rebalance, shutdown), tickd waits until what it read of those partitions is
///   committed before they are released, up to `drainTimeout`; past it, the next owner reads the
///   rest again, and stored ticks are recognised as unchanged. Then, within the same timeout, it
///   waits until Redis has taken what was committed and records that in the outbox, so that the
///   outbox recovery of the next assignment (on every instance) finds only what a dead instance
///   left unpublished.
/// No journal: the topic is the journal.
final class KafkaSourceService: Service, CustomStringConvertible {
    let feed: KafkaFeed
    private let positions: KafkaPositions
    private let io: BlockingIO
    var description: String { "kafka \(feed.options.topics.joined(separator: ",")) (group \(feed.options.group))" }

    /// `rebalance.recoverOutbox` queues stored ticks nobody published (an instance killed between
    /// its commit and Redis) on this instance's publisher; it runs on every assignment, before the
    /// partitions are read, so that those ticks go out ahead of anything newer of their symbols.
    /// On revocation, `rebalance.settlePublished` waits for the Redis publisher to drain, then
    /// records what went out in the outbox.
    init(options: KafkaFeedOptions, wiring: SourceWiring, databaseURL: String, io: BlockingIO, rebalance: KafkaRebalance) {
        let positions = KafkaPositions(databaseURL: databaseURL, logger: wiring.logger)
        var options = options
        // A partition the database and the group know nothing of is read from its start.
        if options.properties["auto.offset.reset"] == nil { options.properties["auto.offset.reset"] = "earliest" }
        let logger = wiring.logger
        feed = KafkaFeed(options: options, wiring: wiring, startOffsets: { partitions in
            await positions.whileOutboxLocked(io: io) { await rebalance.recoverOutbox() }
            return await positions.applied(partitions, io: io)
        }, revoked: { partitions in
            let deadline = ContinuousClock.now + rebalance.drainTimeout
            var waiting = partitions.filter { $0.offset != nil }
            while !waiting.isEmpty && ContinuousClock.now < deadline {
                let seen = rebalance.commits.count
                // `applied` answers in the order asked.
                waiting = zip(waiting, await positions.applied(waiting, io: io)).filter { wanted, done in (done.offset ?? -1) < wanted.offset! }.map(\.0)
                // Looked at again after the next commit, not on a timer.
                if !waiting.isEmpty { await rebalance.commits.waitForCommit(after: seen, until: deadline) }
            }
            if !waiting.isEmpty {
                logger.warning("kafka: released partitions before what was read of them was committed; their next owner reads it again",
                               metadata: ["partitions": "\(waiting.map { "\($0.topic)/\($0.partition)" })"])
            }
            await rebalance.settlePublished(max(.zero, deadline - ContinuousClock.now))
        })
        self.positions = positions
        self.io = io
    }

    /// The feed, and beside it the hand-over of committed offsets to the group, until a graceful
    /// shutdown stops the feed (it settles its partitions and leaves the group) or it fails.
    func run() async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [feed] in try await feed.run() }
                group.addTask { [self] in try await handOverCommitted() }
                try await withGracefulShutdownHandler {
                    // The feed ends first (stopped, or failed); the hand-over then ends with it.
                    _ = try await group.next()
                } onGracefulShutdown: { [feed] in
                    feed.stop()
                }
                group.cancelAll()
            }
        } catch is CancellationError {
            return
        } catch {
            throw KafkaSourceError(description: "\(description): \(error)")
        }
    }

    /// Once a second, the offsets the database has committed of the partitions held go to the
    /// group, so that Kafka's lag tools see tickd's progress (until cancelled).
    private func handOverCommitted() async throws {
        while true {
            try await Task.sleep(for: .seconds(1))
            let held = feed.assignment
            guard !held.isEmpty else { continue }
            feed.commit(await positions.applied(held, io: io).filter { $0.offset != nil })
        }
    }
}

struct KafkaSourceError: Error, CustomStringConvertible {
    let description: String
}

/// Partitions' positions, as the database has applied them (`StreamPositionStore`).
struct KafkaPositions: Sendable {
    let store: StreamPositionStore

    init(databaseURL: String, logger: Logger) {
        store = StreamPositionStore(conninfo: databaseURL, logger: logger)
    }

    /// Runs `body` under the schema's outbox lock (unlocked when the database cannot be asked).
    func whileOutboxLocked(io: BlockingIO, _ body: () async -> Void) async {
        let locked = await blocking(io) { [store] in store.lockOutbox() } ?? false
        await body()
        if locked { _ = await blocking(io) { [store] in store.unlockOutbox() } }
    }

    /// The partitions, in the order given, with the offset the database has applied each to
    /// (nil: none, or the database could not be asked — then the group's committed offset applies).
    func applied(_ partitions: [KafkaPartition], io: BlockingIO) async -> [KafkaPartition] {
        let streams = partitions.map { KafkaStream.name(topic: $0.topic, partition: $0.partition) }
        let asked: [String: Int64]?? = await blocking(io) { [store] in store.applied(streams, identity: KafkaStream.identity) }
        let found = (asked ?? nil) ?? [:]
        return zip(partitions, streams).map { KafkaPartition(topic: $0.topic, partition: $0.partition, offset: found[$1]) }
    }

    /// `body` on an I/O thread; nil when the task was cancelled first (a stopping tickd), which
    /// the callers treat as a database they could not ask.
    private func blocking<T: Sendable>(_ io: BlockingIO, _ body: @escaping @Sendable () -> T) async -> T? {
        do { return try await io.run(body) } catch { return nil }
    }
}
