import TickModel

/// Per symbol, the seq numbers skipped (not published), as ranges a subscriber must re-read
/// from `market_ticks` (`WHERE symbol = $1 AND seq BETWEEN $2 AND $3`).
public struct SkippedRanges: Sendable, Equatable, CustomStringConvertible {
    public private(set) var ranges: [Symbol: [ClosedRange<Int64>]] = [:]

    public init() {}

    public var isEmpty: Bool { ranges.isEmpty }

    public mutating func add(_ symbol: Symbol, seq: Int64) {
        var list = ranges[symbol, default: []]
        if list.contains(where: { $0.contains(seq) }) { return }
        if let last = list.last, seq == last.upperBound + 1 {
            list[list.count - 1] = last.lowerBound...seq
        } else {
            list.append(seq...seq)
        }
        ranges[symbol] = list
    }

    /// `SCOM seq 120-450, KCB seq 33-80`.
    public var description: String {
        ranges.keys.sorted { $0.rawValue < $1.rawValue }.flatMap { symbol in
            ranges[symbol]!.map { "\(symbol) seq \($0.lowerBound)-\($0.upperBound)" }
        }.joined(separator: ", ")
    }
}
