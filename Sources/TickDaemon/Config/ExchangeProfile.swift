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
        try section.only(["name", "closing_price", "closing_min_volume", "price_limit_percent", "tick_sizes"])
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
}
