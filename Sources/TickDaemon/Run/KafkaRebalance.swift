import Logging
import TickEngine
import TickSinks

/// What a Kafka rebalance does around the pipeline, awaited by the Kafka feed between two polls
/// (the partitions move once it is done).
struct KafkaRebalance: Sendable {
    let first: WriterLane
    let publisher: RedisPublisher?
    let drainTimeout: Duration
    /// Every commit of the pipeline, so that a revocation re-reads the positions only then.
    let commits: CommitNotices

    /// Waits up to `timeout` for a reachable Redis to take what is committed, then records it in
    /// the outbox. A Redis that is down is not waited for: holding a rebalance on it stalls the
    /// group (its sessions time out); what is held stays in the outbox.
    func settlePublished(_ timeout: Duration) async {
        guard let publisher else { return }
        await publisher.drain(timeout: timeout, whileUnreachable: false)
        let seqs = publisher.retirement.seqs
        do { try await first.perform { try await $0.sink.recordPublished(seqs) } } catch {
            // Not lost: what is not recorded is published again by a later recovery (at least once).
            Logger(label: "tickd.redis").warning("kafka rebalance: could not record what Redis took; it will be published again",
                                                 metadata: ["error": "\(error)"])
        }
    }

    /// On assignment, under the outbox lock: this instance's own backlog is recorded first (it is
    /// not owed), and what it recovers is recorded before the next instance looks.
    func recoverOutbox() async {
        await settlePublished(drainTimeout)
        let logger = Logger(label: "tickd.redis")
        do { _ = try await first.perform { [publisher] in try await Outbox.recover(sink: $0.sink, publisher: publisher, logger: logger) } } catch {
            // The stored ticks stay owed: the next assignment or start recovers them.
            logger.error("kafka rebalance: could not recover the Redis outbox; it is tried again at the next assignment or start",
                         metadata: ["error": "\(error)"])
        }
        await settlePublished(drainTimeout)
    }
}
