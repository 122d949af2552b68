import TickModel

/// How raw symbols become instrument symbols, and which are accepted.
public struct SymbolRules: Sendable {
    /// What to do with a symbol that is not a listed instrument.
    public enum UnknownPolicy: String, Sendable, CaseIterable {
        case reject, accept
    }

    /// Exchange prefixes removed from the front (`NSE:SCOM` → `SCOM`), upper-case.
    public var prefixes: [String]
    /// Exchange suffixes removed from the end (`SCOM.NR` → `SCOM`), upper-case.
    public var suffixes: [String]
    /// Other names of instruments, upper-case (`SAFARICOM` → `SCOM`).
    public var aliases: [String: Symbol]
    /// Listed instruments; used by the `reject` policy.
    public var known: Set<Symbol>
    /// Listed instruments that change while tickd runs; when set, used instead of `known`.
    public var listing: Listing?
    public var unknownPolicy: UnknownPolicy

    /// The longest symbol accepted, in bytes.
    public static let maxLength = 32

    public init(prefixes: [String] = ["NSE:", "XNAI:"], suffixes: [String] = [".NR", ".NSE", ".KE"],
                aliases: [String: Symbol] = [:], known: Set<Symbol> = [], unknownPolicy: UnknownPolicy = .reject) {
        self.prefixes = prefixes.map { $0.uppercased() }
        self.suffixes = suffixes.map { $0.uppercased() }
        self.aliases = Dictionary(aliases.map { ($0.key.uppercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.known = known
        self.unknownPolicy = unknownPolicy
    }

    /// Applies the rules to one raw symbol: trim, upper-case, strip prefix/suffix, resolve alias,
    /// validate, check the instrument list.
    public func normalise(_ raw: String) -> Result<Symbol, RejectOrMissing> {
        var text = raw.trimmingBlanks().uppercased()
        if text.isEmpty { return .failure(.missing) }
        for prefix in prefixes where text.hasPrefix(prefix) && text.count > prefix.count {
            text.removeFirst(prefix.count)
            break
        }
        for suffix in suffixes where text.hasSuffix(suffix) && text.count > suffix.count {
            text.removeLast(suffix.count)
            break
        }
        let symbol = aliases[text] ?? Symbol(text)
        let bytes = symbol.rawValue.utf8
        if bytes.count > Self.maxLength {
            return .failure(.reject(Reject(.badSymbol, "symbol is longer than \(Self.maxLength) bytes")))
        }
        if bytes.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return .failure(.reject(Reject(.badSymbol, "symbol '\(raw.debugEscaped)' holds blanks or control characters")))
        }
        if unknownPolicy == .reject && !(listing?.contains(symbol) ?? known.contains(symbol)) {
            return .failure(.reject(Reject(.unknownSymbol, "'\(symbol.rawValue.debugEscaped)' is not a listed instrument")))
        }
        return .success(symbol)
    }

    /// A symbol that failed: absent, or rejected for a reason.
    public enum RejectOrMissing: Error, Equatable {
        case missing
        case reject(Reject)
    }
}

extension String {
    func trimmingBlanks() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }

    /// The text with control characters escaped, short enough for a log or dead-letter detail.
    var debugEscaped: String {
        let clipped = count > 64 ? String(prefix(64)) + "…" : self
        return clipped.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? $0.escaped(asASCII: true) : String($0) }.joined()
    }
}
