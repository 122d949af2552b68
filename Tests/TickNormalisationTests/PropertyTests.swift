import Testing
import TickCodecs
import TickModel
import TickNormalisation

@Suite struct PropertyTests {
    static let symbols: [Symbol] = ["SCOM", "EQTY", "KCB", "BAT", "UCHM", "NEW-CO", "A.B"]

    static func normaliser() -> Normaliser {
        Normaliser(symbols: SymbolRules(prefixes: [], suffixes: [], unknownPolicy: .accept),
                   maxFutureSkewSeconds: 0, now: Timestamp(nanosecondsSinceEpoch: Int64.max))
    }

    static func randomPrice(_ rng: inout SplitMix64) -> Price {
        let scale = UInt8.random(in: 0...8, using: &rng)
        return Price(units: Int64.random(in: 0...999_999_999_999, using: &rng), scale: scale)
    }

    static func randomTick(_ rng: inout SplitMix64) -> Tick {
        var prices = (0..<4).map { _ in randomPrice(&rng) }
        // Make the bar consistent: low = the smallest, high = the largest of the four.
        prices.sort { $0.isLess(than: $1) }
        let (low, high) = (prices[0], prices[3])
        let (open, close) = Bool.random(using: &rng) ? (prices[1], prices[2]) : (prices[2], prices[1])
        let time = Timestamp(nanosecondsSinceEpoch: Int64.random(in: -2_000_000_000_000_000_000...7_000_000_000_000_000_000, using: &rng))
        return Tick(time: time, symbol: symbols.randomElement(using: &rng)!, open: open, high: high, low: low, close: close,
                    volume: Int64.random(in: 0...Int64.max, using: &rng),
                    feedSequence: Bool.random(using: &rng) ? Int64.random(in: Int64.min...Int64.max, using: &rng) : nil)
    }

    static func decodeAll(_ bytes: [UInt8], format: FeedFormat) -> [LineOutcome] {
        var decoder = FeedDecoder(format: format, csv: CSVOptions(), normaliser: normaliser(), maxLineBytes: 4096)
        var framer = LineFramer(maxLineBytes: 4096)
        var outcomes: [LineOutcome] = []
        func handle(_ framed: FramedLine, _ number: Int) {
            switch framed {
            case .line(let line): outcomes.append(decoder.decode(line))
            case .overLong: outcomes.append(.reject(Reject(.lineTooLong, "")))
            }
        }
        bytes.withUnsafeBytes { framer.feed($0, handle) }
        framer.finish(handle)
        return outcomes
    }

    @Test(arguments: [FeedFormat.csv, .ndjson])
    func normalisedTickWrittenBackParsesToTheSameTick(format: FeedFormat) {
        var rng = SplitMix64(seed: 20_260_105)
        let ticks = (0..<5000).map { _ in Self.randomTick(&rng) }
        var bytes: [UInt8] = format == .csv ? Array((TickEncoder.csvHeader + "\n").utf8) : []
        for tick in ticks {
            if format == .csv { TickEncoder.appendCSV(tick, to: &bytes) } else { TickEncoder.appendNDJSON(tick, to: &bytes) }
        }
        let outcomes = Self.decodeAll(bytes, format: format).filter { if case .header = $0 { return false }; return true }
        #expect(outcomes.count == ticks.count)
        for (outcome, tick) in zip(outcomes, ticks) {
            guard case .tick(let parsed) = outcome else {
                Issue.record("\(tick) did not parse back: \(outcome)")
                continue
            }
            #expect(parsed == tick)
        }
    }

    @Test func noInputCrashesTheDecoderAndEveryLineGetsAnOutcome() {
        var rng = SplitMix64(seed: 7)
        let seeds = [
            "2026-01-05T06:00:00Z,SCOM,23.10,23.20,23.00,23.15,100",
            #"{"time":"2026-01-05T06:00:00Z","symbol":"SCOM","price":"23.10","volume":100,"x":[{"y":"\u00e9"}]}"#,
            #"time,symbol,"price",volume"#,
        ].map { Array($0.utf8) }
        let alphabet = Array(#"{}[]":,.-+eE0123456789"\ntTzZ \#u{0}"#.utf8) + [0xFF, 0xC3, 0xA9, 0xED, 0x0D, 0x0A]
        for round in 0..<3000 {
            var line = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let action = Int.random(in: 0..<4, using: &rng)
                let at = Int.random(in: 0...line.count, using: &rng)
                switch action {
                case 0 where !line.isEmpty: line.remove(at: min(at, line.count - 1))
                case 1: line.insert(alphabet.randomElement(using: &rng)!, at: at)
                case 2 where !line.isEmpty: line[min(at, line.count - 1)] = UInt8.random(in: 0...255, using: &rng)
                default: line.insert(contentsOf: line.prefix(Int.random(in: 0...4, using: &rng)), at: at)
                }
            }
            line.removeAll { $0 == 0x0A }
            for format in [FeedFormat.auto, .csv, .ndjson] {
                let outcomes = Self.decodeAll(line + [0x0A], format: format)
                #expect(outcomes.count == 1, "seed round \(round)")
            }
        }
        // Pure random bytes, many lines at once: still one outcome a line.
        let random = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let lineCount = random.split(separator: 0x0A, omittingEmptySubsequences: false).count
        #expect(Self.decodeAll(random, format: .auto).count == lineCount)
    }
}
