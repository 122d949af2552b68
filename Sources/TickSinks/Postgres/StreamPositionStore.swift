import LibPQ
import Logging
import Synchronization

/// Streams' positions in `tickd_positions` read apart from the writers (a Kafka source asks on
/// assignment, on revocation and once a second), and the schema's outbox lock, on a connection
/// of its own made as the sink's are (timeouts, no JIT). Calls block (they run on the Kafka feed's
/// thread and on `BlockingIO`, never on the cooperative pool); any thread, one at a time.
/// The database unreachable is not an error here: the answers say "unknown" and the caller falls
/// back (the group's committed offsets; recovering without the lock).
public final class StreamPositionStore: Sendable {
    private let conninfo: String
    private let logger: Logger
    /// The session, opened when needed; the Mutex keeps its calls one at a time (libpq
    /// connections are not thread-safe).
    private let session = Mutex<Connection?>(nil)

    public init(conninfo: String, logger: Logger) {
        self.conninfo = conninfo
        self.logger = logger
    }

    /// The offset the database has applied each stream of `streams` to, for streams of
    /// `identity`; a stream without one is missing. Nil when the database could not be asked.
    public func applied(_ streams: [String], identity: String) -> [String: Int64]? {
        session.withLock { connection -> [String: Int64]? in
            do throws(PostgresError) {
                let rows = try connected(&connection).execute(
                    "SELECT stream, applied FROM tickd_positions WHERE identity = $1 AND stream = ANY($2::text[])",
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
    }

    /// Takes the schema's outbox lock (a session advisory lock; released if this process dies),
    /// waiting for it, so that instances sharing a database recover the outbox one at a time.
    /// False without the database: the caller recovers unlocked.
    public func lockOutbox() -> Bool {
        session.withLock { connection in
            do throws(PostgresError) {
                _ = try connected(&connection).execute("SELECT pg_advisory_lock(\(Self.outboxKey))")
                return true
            } catch {
                connection = nil
                logger.warning("could not take the outbox lock; recovering without it", metadata: ["error": "\(error)"])
                return false
            }
        }
    }

    /// Releases the lock `lockOutbox` took.
    public func unlockOutbox() {
        session.withLock { connection in
            guard let db = connection else { return }
            do { _ = try db.execute("SELECT pg_advisory_unlock(\(Self.outboxKey))") } catch {
                // The lock ends with the session: drop it, so the next instance is not held up.
                connection = nil
                logger.warning("could not release the outbox lock; closing its session instead", metadata: ["error": "\(error)"])
            }
        }
    }

    private static let outboxKey = "(SELECT hashtext(current_schema() || '.tickd_outbox'))::int8"

    /// The session, opened when there is none.
    private func connected(_ connection: inout Connection?) throws(PostgresError) -> Connection {
        if let connection, connection.isOpen { return connection }
        let opened = try PostgresSink.session(conninfo)
        connection = opened
        return opened
    }
}
