import TickModel

/// Splits symbols across `count` database writers by a stable hash (FNV-1a of the symbol's
/// bytes, the same in every run): one symbol's ticks — its seq numbers, its latest price, its
/// outbox watermark — always go through the same writer, in order, and two writers'
/// transactions never touch the same rows.
public struct SymbolPartition: Sendable, Equatable {
    public let count: Int

    public init(count: Int) {
        precondition(count > 0)
        self.count = count
    }

    /// The writer of `symbol`, in 0..<count.
    public func lane(of symbol: Symbol) -> Int {
        count == 1 ? 0 : Int(FNV1a.hash(symbol.rawValue.utf8) % UInt64(count))
    }

    /// `ticks` split by writer, order kept within each.
    public func split(_ ticks: [KeyedTick]) -> [[KeyedTick]] {
        guard count > 1 else { return [ticks] }
        var parts = Array(repeating: [KeyedTick](), count: count)
        for tick in ticks { parts[lane(of: tick.tick.symbol)].append(tick) }
        return parts
    }
}
