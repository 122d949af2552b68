// Parse throughput on the sample day, single core, against a reference measured in the same
// run (splitting the same bytes into lines with memchr and nothing else).
import Foundation
import TickCodecs
import TickModel
import TickNormalisation
import TickSources

let repeats = 20

func load(_ path: String) throws -> [UInt8] {
    var bytes: [UInt8] = []
    try FeedFile(path: path).read { bytes.append(contentsOf: $0) }
    return bytes
}

func decoder(_ format: FeedFormat) throws -> FeedDecoder {
    let stocks = try String(contentsOfFile: "Seeds/stocks.csv", encoding: .utf8)
        .split(separator: "\n").dropFirst().map { Symbol(String($0.split(separator: ",")[0])) }
    let rules = SymbolRules(aliases: ["SAFARICOM": "SCOM"], known: Set(stocks))
    let normaliser = Normaliser(symbols: rules, now: Timestamp(secondsSinceEpoch: 1_800_000_000))
    return FeedDecoder(format: format, csv: CSVOptions(), normaliser: normaliser, maxLineBytes: 65_536)
}

/// Lines per second of `body` over `input`, best of `repeats` passes.
func measure(_ input: [UInt8], _ body: ([UInt8]) -> Int) -> (linesPerSecond: Double, lines: Int) {
    var best = Double.infinity
    var lines = 0
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        lines = body(input)
        best = min(best, (ContinuousClock.now - start).seconds)
    }
    return (Double(lines) / best, lines)
}

func splitOnly(_ input: [UInt8]) -> Int {
    var framer = LineFramer()
    var count = 0
    input.withUnsafeBytes { framer.feed($0) { _, _ in count += 1 } }
    return count
}

func decodeAll(_ input: [UInt8], format: FeedFormat) -> Int {
    var feed = try! decoder(format)
    var framer = LineFramer()
    var accepted = 0, records = 0
    input.withUnsafeBytes {
        framer.feed($0) { framed, _ in
            guard case .line(let line) = framed else { records += 1; return }
            switch feed.decode(line) {
            case .tick: accepted += 1; records += 1
            case .reject: records += 1
            case .header, .blank: break
            }
        }
    }
    precondition(accepted > 0)
    return records
}

/// `tickd-bench parse [FEEDS]`: CSV and NDJSON parse + normalise over the sample day.
func parseBench(feeds: String) throws {
    let csv = try load("\(feeds)/nse-2026-01-05.trades.csv")
    // The NDJSON input: every trade of the day written as NDJSON (≈104k lines, like the CSV).
    var ndjson: [UInt8] = []
    var csvDecoder = try decoder(.csv)
    var framer = LineFramer()
    csv.withUnsafeBytes {
        framer.feed($0) { framed, _ in
            if case .line(let line) = framed, case .tick(let tick) = csvDecoder.decode(line) {
                TickEncoder.appendNDJSON(tick, to: &ndjson)
            }
        }
    }
    print("tickd-bench: parse + normalise, one core, best of \(repeats) passes")
    for (name, input, format) in [("CSV", csv, FeedFormat.csv), ("NDJSON", ndjson, FeedFormat.ndjson)] {
        let reference = measure(input, splitOnly)
        let parsed = measure(input) { decodeAll($0, format: format) }
        let mb = Double(input.count) / 1_048_576
        print(String(format: "%-6@ %7d lines %6.1f MiB  parse %10.0f lines/s  line-split reference %11.0f lines/s  ratio %.2f",
                     name as NSString, parsed.lines, mb, parsed.linesPerSecond, reference.linesPerSecond,
                     parsed.linesPerSecond / reference.linesPerSecond))
    }
}
