/// Whether an instrument, or the whole market, may trade.
///
/// An instrument is `halted` (a pause, usually within the day, for an announcement),
/// `suspended` (until further notice, often for days or years) or `resumed` (trading again).
/// The market is in a phase of its session (`pre_open`, `open`, `closed`) or `halted` as a
/// whole (and `resumed` after). A trade on a halted or suspended instrument, or during a
/// market-wide halt, is held by the `exchange.halted_action` policy.
public enum TradingStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case halted = 1, suspended = 2, resumed = 3, preOpen = 4, open = 5, closed = 6

    /// The word feeds, the table and messages use.
    public var description: String {
        switch self {
        case .halted: "halted"
        case .suspended: "suspended"
        case .resumed: "resumed"
        case .preOpen: "pre_open"
        case .open: "open"
        case .closed: "closed"
        }
    }

    /// Reads the word (`pre_open` also as `pre-open` or `preopen`), any case.
    public init?(named name: String) {
        let key = String(name.lowercased().map { $0 == "-" ? "_" : $0 })
        guard let found = Self.allCases.first(where: { $0.description == key }) ?? (key == "preopen" ? .preOpen : nil) else { return nil }
        self = found
    }

    /// Whether trades are held while it holds.
    public var holdsTrades: Bool { self == .halted || self == .suspended }

    /// What an instrument can be: halted, suspended, resumed.
    public var isInstrumentStatus: Bool { self == .halted || self == .suspended || self == .resumed }

    /// What the market can be: a phase of its session, or halted and resumed as a whole.
    public var isMarketStatus: Bool { self != .suspended }

    /// The pseudo-symbol a market-wide status travels under (a record with an empty symbol, `*`
    /// or `MARKET`), and its row in `tickd_trading_status`.
    public static let market: Symbol = "*"

    /// The market's phase by the session clock at `local` seconds of the exchange's wall clock.
    public static func phase(of session: TradingSession, atLocalSeconds local: Int64) -> TradingStatus {
        switch session.phase(atLocalSeconds: local) {
        case .preOpen: .preOpen
        case .continuous: .open
        case .nonTradingDay, .beforePreOpen, .afterClose: .closed
        }
    }
}
