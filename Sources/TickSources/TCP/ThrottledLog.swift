import Logging
import Synchronization

/// Log lines for events a hostile peer can repeat thousands of times a second (refused or
/// evicted connections): the first of each kind is logged, then at most one line per `interval`
/// carrying how many were not logged since. The metrics count every event.
final class ThrottledLog: Sendable {
    let interval: Duration
    private struct Kind {
        var lastLogged: ContinuousClock.Instant
        var unlogged = 0
    }
    private let kinds = Mutex([String: Kind]())

    init(interval: Duration = .seconds(10)) { self.interval = interval }

    /// Logs `message` for an event of `kind`, unless one of that kind was logged less than
    /// `interval` ago (then it is only counted, and the next line says how many).
    func log(_ logger: Logger, _ level: Logger.Level, _ message: Logger.Message, kind: String, metadata: Logger.Metadata,
             now: ContinuousClock.Instant = .now) {
        let unlogged: Int? = kinds.withLock { kinds in
            if var seen = kinds[kind], now - seen.lastLogged < interval {
                seen.unlogged += 1
                kinds[kind] = seen
                return nil
            }
            let skipped = kinds[kind]?.unlogged ?? 0
            kinds[kind] = Kind(lastLogged: now)
            return skipped
        }
        guard let unlogged else { return }
        var metadata = metadata
        if unlogged > 0 { metadata["not_logged_since_last"] = "\(unlogged)" }
        logger.log(level: level, message, metadata: metadata)
    }
}
