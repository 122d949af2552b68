import Foundation
import TickCodecs
import TickModel

/// The 20 instruments of Seeds/stocks.csv with their seed price in cents (the previous close
/// tickd checks the day's limit band against).
let nseInstruments: [(Symbol, Int64)] = [
    ("EQTY", 5230), ("KCB", 3545), ("SCOM", 2310), ("NCBA", 1825), ("UMME", 840), ("EABL", 14000), ("BAMB", 3275),
    ("COOP", 1120), ("SCBK", 1860), ("BAT", 36000), ("NMG", 1950), ("KPLC", 195), ("UCHM", 45), ("ARM", 710),
    ("CRWN", 1240), ("UNGA", 2675), ("KNRE", 780), ("JUB", 32000), ("SLAM", 395), ("BOC", 1800),
]

/// `tickd-bench generate DIR COUNT`: `DIR/day-COUNT.csv` and `DIR/day-COUNT.ndjson`, one trading day
/// (2026-01-05, 09:00-15:00 Nairobi) of COUNT trades spread over the 20 symbols, deterministic,
/// every trade with its own seq (trade_id).
func generateDay(directory: String, count: Int) throws {
    var csv: [UInt8] = Array((TickEncoder.csvHeader + "\n").utf8)
    var ndjson: [UInt8] = []
    csv.reserveCapacity(count * 48)
    ndjson.reserveCapacity(count * 110)
    var state: UInt64 = 0x7469636B64
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    // Prices follow the NSE's rules, as tickd's default profile checks them: a walk of one tick
    // of the price's band at a time, on the grid, kept within 9 % of the seed price (the limit is
    // 10 % of the previous close, which is the seed price before any trade).
    var prices = nseInstruments.map { onGrid($0.1) }
    let bands = nseInstruments.map { (onGrid($0.1 * 91 / 100 + tick($0.1)), onGrid($0.1 * 109 / 100 - tick($0.1))) }
    let open = Int64(1_767_592_800) * 1_000_000   // 2026-01-05T06:00:00Z in µs
    let span = Int64(6 * 3600) * 1_000_000
    for i in 0..<count {
        let index = Int(next() % 20)
        let step = Int64(next() % 3) - 1
        prices[index] = min(bands[index].1, max(bands[index].0, onGrid(prices[index] + step * tick(prices[index]))))
        let micros = open + span * Int64(i) / Int64(count)
        let tick = Tick.trade(time: Timestamp(nanosecondsSinceEpoch: micros * 1000), symbol: nseInstruments[index].0,
                              price: Price(units: prices[index], scale: 2), size: Int64(100 * (1 + next() % 50)),
                              feedSequence: Int64(i + 1))
        TickEncoder.appendCSV(tick, to: &csv)
        TickEncoder.appendNDJSON(tick, to: &ndjson)
    }
    try Data(csv).write(to: URL(fileURLWithPath: "\(directory)/day-\(count).csv"))
    try Data(ndjson).write(to: URL(fileURLWithPath: "\(directory)/day-\(count).ndjson"))
    print("tickd-bench: wrote \(directory)/day-\(count).csv (\(csv.count >> 20) MiB) and .ndjson (\(ndjson.count >> 20) MiB)")
}

/// The NSE tick of a price in cents: 1 below 5.00, 2 to 10.00, 5 to 50.00, 25 to 500.00, 100 to
/// 1,000.00, 500 above.
func tick(_ cents: Int64) -> Int64 {
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
func onGrid(_ cents: Int64) -> Int64 { cents - cents % tick(cents) }
