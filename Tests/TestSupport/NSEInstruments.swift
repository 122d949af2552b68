/// The 20 NSE instruments of Seeds/stocks.csv with their seed price in cents (the previous close
/// tickd checks a day's limit band against before any trade), and the NSE's tick grid in cents:
/// what the tests' generated feeds and `tickd-bench` send.
public enum NSEInstruments {
    public static let seeds: [(symbol: String, cents: Int64)] = [
        ("EQTY", 5230), ("KCB", 3545), ("SCOM", 2310), ("NCBA", 1825), ("UMME", 840), ("EABL", 14000), ("BAMB", 3275),
        ("COOP", 1120), ("SCBK", 1860), ("BAT", 36000), ("NMG", 1950), ("KPLC", 195), ("UCHM", 45), ("ARM", 710),
        ("CRWN", 1240), ("UNGA", 2675), ("KNRE", 780), ("JUB", 32000), ("SLAM", 395), ("BOC", 1800),
    ]

    public static var symbols: [String] { seeds.map(\.symbol) }

    /// The NSE tick of a price in cents: 1 below 5.00, 2 to 10.00, 5 to 50.00, 25 to 500.00, 100
    /// to 1,000.00, 500 above.
    public static func tick(_ cents: Int64) -> Int64 {
        switch cents {
        case ..<500: 1
        case ..<1000: 2
        case ..<5000: 5
        case ..<50_000: 25
        case ..<100_000: 100
        default: 500
        }
    }

    /// A price in cents rounded down to its band's grid.
    public static func onGrid(_ cents: Int64) -> Int64 { cents - cents % tick(cents) }
}
