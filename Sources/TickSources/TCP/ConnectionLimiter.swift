import Synchronization

/// Admission control of one TCP listener: at most `maxTotal` connections, at most `maxPerPeer`
/// from one address, and only peers on the allow-list (when there is one). Thread-safe.
public final class ConnectionLimiter: Sendable {
    /// Why a connection was turned away.
    public enum Refusal: String, Sendable, CaseIterable {
        case total = "max_connections"
        case perPeer = "max_connections_per_peer"
        case notAllowed = "not_allowed"
    }

    public let maxTotal: Int
    public let maxPerPeer: Int
    public let allow: AddressAllowList?

    private struct State {
        var total = 0
        var perPeer: [String: Int] = [:]
    }
    private let state = Mutex(State())

    public init(maxTotal: Int, maxPerPeer: Int, allow: AddressAllowList?) {
        self.maxTotal = maxTotal
        self.maxPerPeer = maxPerPeer
        self.allow = allow
    }

    /// Takes a place for a connection from `peer`, or says why not. Every admitted connection
    /// must be released once.
    public func admit(peer: String) -> Refusal? {
        if let allow, !allow.allows(peer) { return .notAllowed }
        return state.withLock { s in
            if s.total >= maxTotal { return .total }
            if s.perPeer[peer, default: 0] >= maxPerPeer { return .perPeer }
            s.total += 1
            s.perPeer[peer, default: 0] += 1
            return nil
        }
    }

    public func release(peer: String) {
        state.withLock { s in
            s.total -= 1
            let left = s.perPeer[peer, default: 1] - 1
            s.perPeer[peer] = left > 0 ? left : nil
        }
    }

    /// Connections open now.
    public var open: Int { state.withLock { $0.total } }
}
