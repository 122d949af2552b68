import Synchronization

/// Admission control of one TCP listener: at most `maxTotal` connections, at most `maxPerPeer`
/// from one address, and only peers on the allow-list (when there is one). Thread-safe.
///
/// Places go to publishers that send: the limiter knows when each connection last completed a
/// line. When the listener is full, a newcomer takes the place of the connection that has sent
/// nothing for longest (one that never completed a line first, oldest first; then one silent
/// for at least `evictAfter`), so idle or slow-loris connections cannot lock honest publishers
/// out. A connection that completes lines keeps its place.
public final class ConnectionLimiter: Sendable {
    /// Why a connection was turned away.
    public enum Refusal: String, Sendable, CaseIterable {
        case total = "max_connections"
        case perPeer = "max_connections_per_peer"
        case notAllowed = "not_allowed"
    }

    /// What `admit` decided.
    public enum Admission: Sendable, Equatable {
        /// Admitted, as connection `id`.
        case admitted(id: Int)
        /// Admitted as `id` in the place of `evicted` (already released here; close it).
        case admittedEvicting(id: Int, evicted: Int)
        case refused(Refusal)
    }

    public let maxTotal: Int
    public let maxPerPeer: Int
    public let allow: AddressAllowList?
    /// A connection silent this long gives its place to a newcomer when the listener is full;
    /// nil: only connections that never completed a line do.
    public let evictAfter: Duration?

    private struct Entry {
        let peer: String
        let connectedAt: ContinuousClock.Instant
        var lastLineAt: ContinuousClock.Instant?
        /// Silent since: the last complete line, else the connection.
        var quietSince: ContinuousClock.Instant { lastLineAt ?? connectedAt }
    }
    private struct State {
        var perPeer: [String: Int] = [:]
        var entries: [Int: Entry] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())

    public init(maxTotal: Int, maxPerPeer: Int, allow: AddressAllowList?, evictAfter: Duration? = .seconds(2)) {
        self.maxTotal = maxTotal
        self.maxPerPeer = maxPerPeer
        self.allow = allow
        self.evictAfter = evictAfter
    }

    /// Takes a place for a connection from `peer` (evicting the quietest connection when full),
    /// or says why not. Every admitted connection must be released once.
    public func admit(peer: String, now: ContinuousClock.Instant = .now) -> Admission {
        if let allow, !allow.allows(peer) { return .refused(.notAllowed) }
        return state.withLock { s in
            if s.perPeer[peer, default: 0] >= maxPerPeer { return .refused(.perPeer) }
            var evicted: Int?
            if s.entries.count >= maxTotal {
                guard let victim = Self.quietest(s.entries, now: now, evictAfter: evictAfter) else { return .refused(.total) }
                Self.remove(victim, from: &s)
                evicted = victim
            }
            let id = s.nextID
            s.nextID += 1
            s.entries[id] = Entry(peer: peer, connectedAt: now)
            s.perPeer[peer, default: 0] += 1
            return evicted.map { .admittedEvicting(id: id, evicted: $0) } ?? .admitted(id: id)
        }
    }

    /// Connection `id` completed one or more lines.
    public func completedLines(id: Int, now: ContinuousClock.Instant = .now) {
        state.withLock { $0.entries[id]?.lastLineAt = now }
    }

    /// Gives back the place of connection `id`; nothing when it was evicted or released already.
    public func release(id: Int) {
        state.withLock { Self.remove(id, from: &$0) }
    }

    /// The connections silent (no complete line) for `timeout` or longer: the idle timeout.
    public func silent(for timeout: Duration, now: ContinuousClock.Instant = .now) -> [Int] {
        state.withLock { s in s.entries.filter { now - $0.value.quietSince >= timeout }.map(\.key) }
    }

    /// Whether connection `id` still holds a place (not released, evicted or closed as idle).
    public func holdsPlace(id: Int) -> Bool { state.withLock { $0.entries[id] != nil } }

    /// Connections open now.
    public var open: Int { state.withLock { $0.entries.count } }

    /// The connection to evict: never completed a line (oldest first), else silent longest and
    /// at least `evictAfter`.
    private static func quietest(_ entries: [Int: Entry], now: ContinuousClock.Instant, evictAfter: Duration?) -> Int? {
        if let mute = entries.filter({ $0.value.lastLineAt == nil }).min(by: { $0.value.connectedAt < $1.value.connectedAt }) {
            return mute.key
        }
        guard let evictAfter, let quiet = entries.min(by: { $0.value.quietSince < $1.value.quietSince }),
              now - quiet.value.quietSince >= evictAfter else { return nil }
        return quiet.key
    }

    private static func remove(_ id: Int, from s: inout State) {
        guard let entry = s.entries.removeValue(forKey: id) else { return }
        let left = s.perPeer[entry.peer, default: 1] - 1
        s.perPeer[entry.peer] = left > 0 ? left : nil
    }
}
