import Foundation
import TickCodecs
import TickModel

/// The 20 instruments of Seeds/stocks.csv with a starting price (KES).
let nseInstruments: [(Symbol, Int64)] = [
    ("EQTY", 5240), ("KCB", 3535), ("SCOM", 2320), ("NCBA", 1825), ("UMME", 1890), ("EABL", 13835), ("BAMB", 4010),
    ("COOP", 1530), ("SCBK", 18400), ("BAT", 39000), ("NMG", 1560), ("KPLC", 520), ("UCHM", 1000), ("ARM", 45),
    ("CRWN", 3200), ("UNGA", 1650), ("KNRE", 250), ("JUB", 17000), ("SLAM", 480), ("BOC", 7600),
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
    var prices = nseInstruments.map(\.1)
    let open = Int64(1_767_592_800) * 1_000_000   // 2026-01-05T06:00:00Z in µs
    let span = Int64(6 * 3600) * 1_000_000
    for i in 0..<count {
        let index = Int(next() % 20)
        let step = Int64(next() % 3) - 1
        prices[index] = max(1, prices[index] + step)
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
