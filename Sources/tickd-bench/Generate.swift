import Foundation
import TickCodecs
import TestSupport
import TickModel

/// The instruments the benchmark trades: Seeds/stocks.csv's, at their seed prices.
let nseInstruments: [(Symbol, Int64)] = NSEInstruments.seeds.map { (Symbol($0.symbol), $0.cents) }

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
    let onGrid = NSEInstruments.onGrid, tick = NSEInstruments.tick
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
