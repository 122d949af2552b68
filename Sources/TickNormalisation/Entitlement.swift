import TickModel

/// Who may set which prices (`publishers:`): per publisher identity (a TLS client certificate's
/// subject common name), the symbols it may send, or all of them (`*`). An identity that is not
/// listed may send none.
public struct PublisherEntitlements: Sendable, Equatable {
    /// Per identity: its symbols, or nil for every symbol.
    public var symbols: [String: Set<Symbol>?]

    public init(_ symbols: [String: Set<Symbol>?]) { self.symbols = symbols }

    /// What `identity` may send.
    public func entitlement(of identity: String) -> Entitlement {
        Entitlement(identity: identity, symbols: symbols[identity] ?? Set<Symbol>())
    }
}

/// What one connected publisher may send: `symbols`, or every symbol when nil.
public struct Entitlement: Sendable, Equatable {
    public var identity: String
    public var symbols: Set<Symbol>?

    public init(identity: String, symbols: Set<Symbol>?) {
        self.identity = identity
        self.symbols = symbols
    }

    public func allows(_ symbol: Symbol) -> Bool { symbols?.contains(symbol) ?? true }
}
