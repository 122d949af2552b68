import TickModel
import TickNormalisation

/// The client side of a batch's fast path (all ticks new): how many seqs each symbol takes, and
/// which seq each tick gets once the counters moved — the same numbering the server's merge path
/// gives (per symbol, in (time, trade_seq) order, the last one ending at the counter).
struct SeqNumbering {
    /// The symbols of the batch, sorted (counters are locked in this order), and their tick counts.
    let symbols: [String]
    let counts: [Int64]
    /// Per symbol (in `symbols`' order), the key of its earliest tick and the time of its latest.
    let firsts: [Timestamp]
    let firstTradeSeqs: [Int64]
    let lasts: [Timestamp]
    private let bySymbol: [Symbol: [KeyedTick]]

    /// `ticks` holds one tick per storage key (see `PostgresSink.lastPerKey`).
    init(_ ticks: [KeyedTick]) {
        var groups: [Symbol: [KeyedTick]] = [:]
        for keyed in ticks { groups[keyed.tick.symbol, default: []].append(keyed) }
        for symbol in groups.keys {
            groups[symbol]!.sort { ($0.tick.time, $0.tradeSeq) < ($1.tick.time, $1.tradeSeq) }
        }
        bySymbol = groups
        symbols = groups.keys.map(\.rawValue).sorted()
        let ordered = symbols.map { groups[Symbol($0)]! }
        counts = ordered.map { Int64($0.count) }
        firsts = ordered.map { $0.first!.tick.time }
        firstTradeSeqs = ordered.map { $0.first!.tradeSeq }
        lasts = ordered.map { $0.last!.tick.time }
    }

    /// The stored ticks, per symbol in seq order, given each symbol's counter after it was
    /// advanced by the symbol's count. Nil when a counter is missing.
    func stored(lastSeqs: [Symbol: Int64]) -> [StoredTick]? {
        var stored: [StoredTick] = []
        stored.reserveCapacity(Int(counts.reduce(0, +)))
        for name in symbols {
            let symbol = Symbol(name)
            guard let ticks = bySymbol[symbol], let last = lastSeqs[symbol] else { return nil }
            let first = last - Int64(ticks.count) + 1
            for (offset, keyed) in ticks.enumerated() { stored.append(StoredTick(keyed: keyed, seq: first + Int64(offset))) }
        }
        return stored
    }

    /// Per symbol, the newest stored tick (greatest time, then trade_seq): what `latest_price` follows.
    static func newest(_ stored: [StoredTick]) -> [KeyedTick] {
        StoredTick.newestIndices(stored).values.map { stored[$0].keyed }.sorted { $0.tick.symbol.rawValue < $1.tick.symbol.rawValue }
    }
}
