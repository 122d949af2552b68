import CoreMetrics
import Synchronization
import TickNormalisation

/// Counters of the running pipeline, read by logs, tests and the systemd watchdog.
public final class DaemonStats: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// When the ingest loop last went round (it does at least once a second while healthy).
        public var heartbeat = ContinuousClock.now
        public var sources: [String: SourceCounts] = [:]
        public var batches = 0
        public var inserted = 0
    }
    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func heartbeat() { state.withLock { $0.heartbeat = .now } }

    func recordBatch(stored: Int) {
        state.withLock { s in
            s.batches += 1
            s.inserted += stored
        }
    }

    /// Adds what a finished connection or file counted.
    public func recordSource(_ name: String, _ counts: SourceCounts) {
        state.withLock { $0.sources[name, default: SourceCounts()].add(counts) }
    }
}

/// `tickd_batches_total`, `tickd_rows_inserted_total`, `tickd_batch_duration_seconds` (histogram),
/// `tickd_queue_ticks` (ticks waiting between the sources and the database, the open batch included).
struct IngestMetrics: Sendable {
    let batches = Counter(label: "tickd_batches_total")
    let inserted = Counter(label: "tickd_rows_inserted_total")
    let batchDuration = Timer(label: "tickd_batch_duration_seconds")
    let queueDepth = Gauge(label: "tickd_queue_ticks")
}
