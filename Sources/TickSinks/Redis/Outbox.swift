import Logging
import TickModel

/// The Redis outbox is the database itself: `tickd_symbol_seq.published_seq` says, per symbol,
/// up to which seq the stored ticks went out. Ticks stored after it (tickd stopped, crashed or
/// gave up on Redis before publishing them) are published at the next start, before anything new.
public enum Outbox {
    /// Queues the stored ticks that were never published, oldest first per symbol, on `publisher`;
    /// returns how many. With publishing off, marks everything as published instead (nothing is
    /// owed to a Redis that is not there). More than the publisher's backlog bound are not queued:
    /// their ranges are logged for subscribers to re-read, as for any gap.
    @discardableResult
    public nonisolated(nonsending) static func recover(sink: PostgresSink, publisher: RedisPublisher?, logger: Logger) async throws(SinkError) -> Int {
        guard let publisher else {
            sink.publishingOff = true
            return 0
        }
        let limit = publisher.options.maxBacklog
        let owed = try await sink.unpublished(limit: limit + 1)
        guard !owed.stored.isEmpty else { return 0 }
        if owed.stored.count > limit {
            let ranges = try await sink.skipUnpublished()
            logger.error("redis: more stored ticks were never published than the backlog holds; subscribers must re-read them from the database",
                         metadata: ["max_backlog": "\(limit)",
                                    "reread": "\(ranges.map { "\($0.symbol) seq \($0.seqs.lowerBound)-\($0.seqs.upperBound)" }.joined(separator: ","))"])
            return 0
        }
        logger.notice("redis: publishing stored ticks that did not go out before the last stop",
                      metadata: ["ticks": "\(owed.stored.count)"])
        publisher.enqueue(owed)
        return owed.stored.count
    }
}
