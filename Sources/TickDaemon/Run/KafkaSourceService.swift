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
    private let logger: Logger
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
            positions.whileOutboxLocked(rebalance.recoverOutbox)
            return positions.applied(partitions)
        }, revoked: { partitions in
            let deadline = ContinuousClock.now + rebalance.drainTimeout
            var waiting = partitions.filter { $0.offset != nil }
            while !waiting.isEmpty && ContinuousClock.now < deadline {
                let seen = rebalance.commits.count
                // `applied` answers in the order asked.
                waiting = zip(waiting, positions.applied(waiting)).filter { wanted, done in (done.offset ?? -1) < wanted.offset! }.map(\.0)
                // Looked at again after the next commit, not on a timer.
                if !waiting.isEmpty { rebalance.commits.waitForCommit(after: seen, until: deadline) }
            }
            if !waiting.isEmpty {
                logger.warning("kafka: released partitions before what was read of them was committed; their next owner reads it again",
                               metadata: ["partitions": "\(waiting.map { "\($0.topic)/\($0.partition)" })"])
            }
            rebalance.settlePublished(max(.zero, deadline - ContinuousClock.now))
        })
        self.positions = positions
        self.io = io
        self.logger = logger
    }

    func run() async throws {
        do { try await feed.start() } catch {
            throw KafkaSourceError(description: "\(description): \(error)")
        }
        logger.notice("kafka: consuming", metadata: ["topics": "\(feed.options.topics)", "group": "\(feed.options.group)",
                                                      "brokers": "\(feed.options.brokers)"])
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled && feed.failure == nil {
                try? await Task.sleep(for: .seconds(1))
                let held = feed.assignment
                guard !held.isEmpty else { continue }
                let committed = (try? await io.run { [positions] in positions.applied(held) }) ?? []
                feed.commit(committed.filter { $0.offset != nil })
            }
        } onGracefulShutdown: {}
        // Leaving the group revokes the partitions: their read ticks are committed first.
        await feed.stop()
        if let failure = feed.failure { throw KafkaSourceError(description: "\(description): \(failure)") }
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

    /// Runs `body` under the schema's outbox lock.
    func whileOutboxLocked(_ body: () -> Void) { store.whileOutboxLocked(body) }

    /// The partitions, in the order given, with the offset the database has applied each to
    /// (nil: none, or the database could not be asked — then the group's committed offset applies).
    func applied(_ partitions: [KafkaPartition]) -> [KafkaPartition] {
        let streams = partitions.map { KafkaStream.name(topic: $0.topic, partition: $0.partition) }
        let found = store.applied(streams, identity: KafkaStream.identity) ?? [:]
        return zip(partitions, streams).map { KafkaPartition(topic: $0.topic, partition: $0.partition, offset: found[$1]) }
    }
}
