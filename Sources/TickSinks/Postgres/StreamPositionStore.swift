import Foundation
import LibPQ
import Logging

/// Streams' positions in `tickd_positions` read apart from the writers (a Kafka source asks on
/// assignment, on revocation and once a second), and the schema's outbox lock, on a connection
/// of its own made as the sink's are (timeouts, no JIT). Calls block; any thread, one at a time.
/// The database unreachable is not an error here: the answers say "unknown" and the caller falls
/// back (the group's committed offsets; recovering without the lock).
public final class StreamPositionStore: @unchecked Sendable {
    private let conninfo: String
    private let logger: Logger
    // Guards `connection`: libpq connections are not thread-safe.
    private let lock = NSLock()
    private var connection: Connection?

    public init(conninfo: String, logger: Logger) {
        self.conninfo = conninfo
        self.logger = logger
    }

    /// The offset the database has applied each stream of `streams` to, for streams of
    /// `identity`; a stream without one is missing. Nil when the database could not be asked.
    public func applied(_ streams: [String], identity: String) -> [String: Int64]? {
        lock.lock()
        defer { lock.unlock() }
        do throws(PostgresError) {
            let rows = try connected().execute("SELECT stream, applied FROM tickd_positions WHERE identity = $1 AND stream = ANY($2::text[])",
                                               [identity, PostgresArray.text(streams)]).rows
            var found: [String: Int64] = [:]
            for row in rows { if let stream = row[0], let applied = row[1].flatMap({ Int64($0) }) { found[stream] = applied } }
            return found
        } catch {
            connection = nil
            logger.warning("could not read the streams' positions", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Runs `body` while holding the schema's outbox lock (a session advisory lock; released if
    /// this process dies), so that instances sharing a database recover the outbox one at a time.
    /// Without the database, `body` runs unlocked.
    public func whileOutboxLocked(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        let key = "(SELECT hashtext(current_schema() || '.tickd_outbox'))::int8"
        var locked: Connection?
        do throws(PostgresError) {
            let db = try connected()
            _ = try db.execute("SELECT pg_advisory_lock(\(key))")
            locked = db
        } catch {
            connection = nil
            logger.warning("could not take the outbox lock; recovering without it", metadata: ["error": "\(error)"])
        }
        body()
        guard let locked else { return }
        do { _ = try locked.execute("SELECT pg_advisory_unlock(\(key))") } catch {
            // The lock ends with the session: drop it, so the next instance is not held up.
            connection = nil
            logger.warning("could not release the outbox lock; closing its session instead", metadata: ["error": "\(error)"])
        }
    }

    /// The connection, opened when there is none. Caller holds `lock`.
    private func connected() throws(PostgresError) -> Connection {
        if let connection, connection.isOpen { return connection }
        let opened = try Connection(conninfo: conninfo, defaults: PostgresSink.connectionDefaults)
        try opened.execute(BatchSQL.sessionSettings)
        connection = opened
        return opened
    }
}
