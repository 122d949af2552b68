import TickCodecs
import TickModel
import Yams

/// An exchange's rules, kept as data: the built-in profiles below are YAML documents read by
/// the same code that reads a profile file (`exchange.profile: /etc/tickd/exchange.yaml`).
public struct ExchangeProfile: Sendable, Equatable {
    public var name: String
    /// How the official close, and so the next day's `previous_close`, is set.
    public var closingPrice: ClosingPriceRule
    /// The price grid; nil: no grid (closing prices are not rounded, no off-tick check).
    public var tickSizes: TickSizeTable?
    /// The largest move from the previous close a trade may make, in percent; nil: no limit.
    public var limitPercent: Price?
    /// When it trades; nil: always (no session metrics, no staleness).
    public var session: TradingSession?

    /// The built-in profiles by name.
    public static let builtIn: [String: String] = ["nse": nse, "plain": plain]

    /// The Nairobi Securities Exchange's equity rules, as published.
    static let nse = """
        name: nse
        # Official closing price: the day's volume-weighted average price, rounded to the nearest
        # tick; a day with fewer than 100 shares traded keeps the previous closing price.
        closing_price: vwap
        closing_min_volume: 100
        # Daily price limit: a trade may move at most this many percent from the previous close.
        price_limit_percent: "10"
        # Tick sizes by price band (KES): from each bound up to the next, prices move in these steps.
        tick_sizes:
          - { from: "0", tick: "0.01" }
          - { from: "5.00", tick: "0.02" }
          - { from: "10.00", tick: "0.05" }
          - { from: "50.00", tick: "0.25" }
          - { from: "500.00", tick: "1.00" }
          - { from: "1000.00", tick: "5.00" }
        # Trading days and hours, Africa/Nairobi (exchange.timezone).
        session:
          days: [mon, tue, wed, thu, fri]
          pre_open: "09:00"
          open: "09:30"
          close: "15:00"
        # Kenyan public holidays on weekdays, 2026, as gazetted when this list was made. The Eid
        # holidays are gazetted each year on the moon's sighting: add them, and next year's list,
        # in a profile file (exchange.profile: /etc/tickd/nse.yaml) without waiting for a release.
        holidays: ["2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-06-01", "2026-10-20", "2026-12-25"]
        """

    /// Feeds without exchange rules: the last trade is the close, no grid.
    static let plain = """
        name: plain
        closing_price: last_trade
        """

    /// The profile `exchange.profile` names: a built-in name or a YAML file's path.
    public static func load(_ nameOrPath: String, key: String) throws(ConfigError) -> ExchangeProfile {
        let text: String
        if let builtIn = builtIn[nameOrPath] {
            text = builtIn
        } else if nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") {
            do { text = try String(contentsOfFile: nameOrPath, encoding: .utf8) } catch {
                throw ConfigError(key: key, "cannot read the profile file \(nameOrPath)")
            }
        } else {
            throw ConfigError(key: key, "must be \(builtIn.keys.sorted().joined(separator: " or ")), or the path of a profile file")
        }
        var profile = try parse(text, key: key)
        profile.name = nameOrPath   // what check-config prints and a config can name again
        return profile
    }

    static func parse(_ text: String, key: String) throws(ConfigError) -> ExchangeProfile {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw ConfigError(key: key, "the profile is not valid YAML") }
        guard let root else { throw ConfigError(key: key, "the profile is empty") }
        let section = try Section(root, path: key)
        try section.only(["name", "closing_price", "closing_min_volume", "price_limit_percent", "tick_sizes", "session", "holidays"])
        var profile = ExchangeProfile(name: try section.string("name") ?? "custom", closingPrice: .lastTrade, tickSizes: nil)
        if section.node("price_limit_percent") != nil {
            let percent = try price(section, "price_limit_percent")
            guard Price.zero.isLess(than: percent) else { throw ConfigError(key: section.key("price_limit_percent"), "must be above 0") }
            profile.limitPercent = percent
        }
        switch try section.string("closing_price") ?? "last_trade" {
        case "last_trade":
            profile.closingPrice = .lastTrade
        case "vwap":
            let minimum = try section.integer("closing_min_volume", in: 0...1_000_000_000) ?? 0
            profile.closingPrice = .vwap(minimumVolume: Int64(minimum))
        default:
            throw ConfigError(key: section.key("closing_price"), "must be last_trade or vwap")
        }
        if let session = try section.section("session") {
            profile.session = try Self.session(session, holidays: try section.strings("holidays") ?? [], key: section.key("holidays"))
        } else if section.node("holidays") != nil {
            throw ConfigError(key: section.key("holidays"), "needs a session")
        }
        let bands = try section.sectionList("tick_sizes")
        if !bands.isEmpty {
            var parsed: [TickSizeTable.Band] = []
            for band in bands {
                try band.only(["from", "tick"])
                parsed.append(TickSizeTable.Band(from: try price(band, "from"), tick: try price(band, "tick")))
            }
            guard let table = TickSizeTable(parsed) else {
                throw ConfigError(key: section.key("tick_sizes"), "bands must start at 0, ascend, and have positive ticks")
            }
            profile.tickSizes = table
        }
        return profile
    }

    private static func price(_ section: Section, _ name: String) throws(ConfigError) -> Price {
        guard let text = try section.string(name) else { throw ConfigError(key: section.key(name), "is required (a decimal, e.g. \"0.05\")") }
        var bytes = Array(text.utf8)
        let parsed = bytes.withUnsafeMutableBufferPointer { DecimalText.parse(UnsafeBufferPointer($0)) }
        guard case .value(let price) = parsed, !price.isNegative else {
            throw ConfigError(key: section.key(name), "must be a non-negative decimal, e.g. \"0.05\"")
        }
        return price
    }

    static let weekdayNames = ["mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7]

    private static func session(_ section: Section, holidays: [String], key: String) throws(ConfigError) -> TradingSession {
        try section.only(["days", "pre_open", "open", "close"])
        var weekdays = Set<Int>()
        for name in try section.strings("days") ?? ["mon", "tue", "wed", "thu", "fri"] {
            guard let day = weekdayNames[name.lowercased()] else { throw ConfigError(key: section.key("days"), "days are mon, tue, wed, thu, fri, sat, sun") }
            weekdays.insert(day)
        }
        func time(_ name: String) throws(ConfigError) -> Int {
            let text = try section.string(name) ?? ""
            let parts = text.split(separator: ":")
            guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 1440 else {
                throw ConfigError(key: section.key(name), "must be a time HH:MM, e.g. \"09:30\"")
            }
            return (h * 60 + m) * 60
        }
        let (preOpen, open, close) = (try time("pre_open"), try time("open"), try time("close"))
        guard preOpen <= open, open < close else { throw ConfigError(key: section.key("close"), "needs pre_open <= open < close") }
        var days = Set<Int>()
        for text in holidays {
            let parts = text.split(separator: "-").compactMap { Int($0) }
            guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else {
                throw ConfigError(key: key, "dates must be YYYY-MM-DD, got '\(text)'")
            }
            days.insert(TradingSession.dayNumber(year: parts[0], month: parts[1], day: parts[2]))
        }
        return TradingSession(weekdays: weekdays, preOpen: preOpen, open: open, close: close, holidays: days)
    }
}
