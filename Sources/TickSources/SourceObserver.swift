import CoreMetrics
import Logging
import TickNormalisation

/// Turns a source's running counts into metrics (`tickd_ticks_received_total{source}`,
/// `tickd_ticks_rejected_total{reason}`) and, during a storm of rejects, one warning per source
/// every 10 seconds at most, with the counts by reason — never one line per bad record.
public struct SourceObserver {
    public let source: String
    private let received: Counter
    private var rejected: [RejectReason: Counter] = [:]
    private var last = SourceCounts()
    private var windowStart = ContinuousClock.now
    private var windowRejects: [RejectReason: Int] = [:]
    static let warningInterval: Duration = .seconds(10)

    public init(source: String) {
        self.source = source
        received = Counter(label: "tickd_ticks_received_total", dimensions: [("source", source)])
    }

    public mutating func observe(_ counts: SourceCounts, logger: Logger) {
        if counts.read > last.read { received.increment(by: Int64(counts.read - last.read)) }
        for (reason, total) in counts.rejectedByReason {
            let delta = total - last.rejectedByReason[reason, default: 0]
            guard delta > 0 else { continue }
            if rejected[reason] == nil {
                rejected[reason] = Counter(label: "tickd_ticks_rejected_total", dimensions: [("reason", reason.rawValue)])
            }
            rejected[reason]!.increment(by: Int64(delta))
            windowRejects[reason, default: 0] += delta
        }
        last = counts
        if !windowRejects.isEmpty && ContinuousClock.now - windowStart >= Self.warningInterval {
            flushWarning(logger: logger)
        }
    }

    /// Logs what was rejected since the last warning (also at the end of the source).
    public mutating func flushWarning(logger: Logger) {
        defer {
            windowRejects.removeAll()
            windowStart = .now
        }
        guard !windowRejects.isEmpty else { return }
        let total = windowRejects.values.reduce(0, +)
        let reasons = windowRejects.keys.sorted().map { "\($0.rawValue):\(windowRejects[$0]!)" }.joined(separator: ",")
        logger.warning("records rejected (see the dead-letter file)", metadata: [
            "source": "\(source)", "rejected": "\(total)", "reasons": "\(reasons)"])
    }
}
