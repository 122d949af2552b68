import TickModel
import TickNormalisation

/// A candle revised by a committed batch, to publish on `candles:<interval>:<SYMBOL>`.
public struct CandleUpdate: Sendable, Equatable {
    /// The bucket widths published live: the minute, and the exchange's trading day.
    public enum Interval: String, Sendable, CaseIterable { case minute = "1m", day = "1d" }

    public var symbol: Symbol
    public var interval: Interval
    /// The bucket's start (for a day, midnight in the exchange's zone).
    public var bucket: Timestamp
    /// nil: no trade is left in the bucket (its only trades were cancelled or moved out).
    public var candle: Candle?

    public init(symbol: Symbol, interval: Interval, bucket: Timestamp, candle: Candle?) {
        self.symbol = symbol
        self.interval = interval
        self.bucket = bucket
        self.candle = candle
    }
}

/// A time range of one symbol's stored ticks to aggregate by minute from the database:
/// `from ≤ time < to`.
public struct CandleRange: Sendable, Hashable {
    public var symbol: Symbol
    public var from: Timestamp
    public var to: Timestamp
}

/// The live candles of the symbols one writer stores: per symbol and trading day, the day's
/// minute candles, kept in memory and moved by each committed batch, so a batch costs the
/// database nothing more in the usual case (new trades, added to their minute as they come).
///
/// What memory cannot follow is read back from the database, after the commit, aggregated as
/// the candle views aggregate: a day not held yet (the first batch of a symbol since the start,
/// an older day a replay reaches), the minutes of trades changed in place, corrected or
/// cancelled (`BatchResult.revised`), and every day of a symbol whose seqs did not follow on
/// from the last batch this book saw (another writer stored ticks of it meanwhile: a released
/// quarantine, another instance of a Kafka group). The day candle is the fold of its minutes.
public struct LiveCandleBook: Sendable {
    private var zone: ExchangeZone
    private var books: [Symbol: SymbolBook] = [:]
    private var clock: UInt64 = 0
    /// Trading days held per symbol: today, and what a replay or a late tick reaches.
    let daysPerSymbol = 3

    struct Day: Sendable {
        let start: Timestamp
        var minutes: [Int64: Candle]
        var used: UInt64
    }

    struct SymbolBook: Sendable {
        var lastSeq: Int64
        var days: [Int: Day] = [:]
    }

    public init(zone: ExchangeZone) { self.zone = zone }

    /// Forgets `symbols` (after a failed read: their next batch reads their day back).
    public mutating func forget(_ symbols: some Sequence<Symbol>) { for symbol in symbols { books[symbol] = nil } }

    static let minute: Int64 = 60_000_000_000

    static func minuteStart(_ time: Timestamp) -> Int64 {
        let ns = time.nanosecondsSinceEpoch
        let (q, r) = ns.quotientAndRemainder(dividingBy: minute)
        return (r < 0 ? q - 1 : q) * minute
    }

    /// The candles `result` (committed) revised, each symbol's minutes in bucket order then its
    /// day. `load` reads the ranges from the database (after the commit), by minute.
    public mutating func apply(_ result: BatchResult,
                               load: ([CandleRange]) throws -> [CandleRange: [Int64: Candle]]) rethrows -> [CandleUpdate] {
        guard !result.stored.isEmpty else { return [] }
        clock += 1
        // Per symbol: the minutes touched (by trades to add, or to read back) and their days.
        struct Touch {
            var firstSeq = Int64.max
            var lastSeq = Int64.min
            var minutes: [Int64: Int] = [:]   // minute → trading day
            var reread: Set<Int64> = []
        }
        var touches: [Symbol: Touch] = [:]
        var dayOfMinute: (minute: Int64, day: Int) = (.min, 0)
        func day(of minute: Int64) -> Int {
            if dayOfMinute.minute != minute { dayOfMinute = (minute, zone.tradingDay(of: Timestamp(nanosecondsSinceEpoch: minute))) }
            return dayOfMinute.day
        }
        var symbol: Symbol?
        var touch = Touch()
        var lastMinute = Int64.min
        func note(_ tick: Tick, reread: Bool) {
            if tick.symbol != symbol {
                if let symbol { touches[symbol] = touch }
                symbol = tick.symbol
                touch = touches[tick.symbol] ?? Touch()
                lastMinute = .min
            }
            let minute = Self.minuteStart(tick.time)
            // Ticks come in runs of one symbol and mostly of one minute: one lookup per minute.
            if minute != lastMinute, touch.minutes[minute] == nil { touch.minutes[minute] = day(of: minute) }
            lastMinute = minute
            if reread { touch.reread.insert(minute) }
        }
        for stored in result.stored {
            note(stored.keyed.tick, reread: stored.keyed.tick.action != .trade)
            touch.firstSeq = min(touch.firstSeq, stored.seq)
            touch.lastSeq = max(touch.lastSeq, stored.seq)
        }
        for keyed in result.revised { note(keyed.tick, reread: true) }
        if let symbol { touches[symbol] = touch }

        // What the database is asked for: days not held, minutes to read back in days held.
        var ranges: [CandleRange] = []
        var loadedDays: [Symbol: Set<Int>] = [:]
        for (symbol, touch) in touches {
            var book = books[symbol] ?? SymbolBook(lastSeq: touch.firstSeq - 1)
            if touch.firstSeq != Int64.max && touch.firstSeq != book.lastSeq + 1 { book.days.removeAll() }
            for day in Set(touch.minutes.values) where book.days[day] == nil {
                let start = zone.instant(ofWallClock: Int64(day) * 86_400_000_000_000)
                let end = zone.instant(ofWallClock: Int64(day + 1) * 86_400_000_000_000)
                ranges.append(CandleRange(symbol: symbol, from: start, to: end))
                loadedDays[symbol, default: []].insert(day)
                book.days[day] = Day(start: start, minutes: [:], used: clock)
            }
            for minute in touch.reread where !(loadedDays[symbol]?.contains(touch.minutes[minute]!) ?? false) {
                ranges.append(CandleRange(symbol: symbol, from: Timestamp(nanosecondsSinceEpoch: minute),
                                          to: Timestamp(nanosecondsSinceEpoch: minute + Self.minute)))
            }
            books[symbol] = book
        }
        let loaded = ranges.isEmpty ? [:] : try load(ranges)
        for range in ranges {
            let minutes = loaded[range] ?? [:]
            let day = zone.tradingDay(of: range.from)
            if range.to.nanosecondsSinceEpoch - range.from.nanosecondsSinceEpoch == Self.minute {
                books[range.symbol]?.days[day]?.minutes[range.from.nanosecondsSinceEpoch] = minutes[range.from.nanosecondsSinceEpoch]
            } else {
                books[range.symbol]?.days[day]?.minutes = minutes
            }
        }

        // New trades of days and minutes not read back now: added in memory, a run of one
        // symbol at a time, the candle of the current minute held aside until the minute changes.
        var start = result.stored.startIndex
        while start < result.stored.endIndex {
            let symbol = result.stored[start].keyed.tick.symbol
            var end = start + 1
            while end < result.stored.endIndex && result.stored[end].keyed.tick.symbol == symbol { end += 1 }
            defer { start = end }
            guard let touch = touches[symbol], var book = books.removeValue(forKey: symbol) else { continue }
            let loaded = loadedDays[symbol] ?? []
            var open: (minute: Int64, day: Int, candle: Candle)?
            func close() {
                if let open { book.days[open.day]?.minutes[open.minute] = open.candle }
                open = nil
            }
            for stored in result.stored[start..<end] where stored.keyed.tick.action == .trade {
                let tick = stored.keyed.tick
                let minute = Self.minuteStart(tick.time)
                if open?.minute == minute {
                    open!.candle.add(trade: tick, tradeSeq: stored.keyed.tradeSeq)
                    continue
                }
                close()
                guard let day = touch.minutes[minute], !touch.reread.contains(minute), !loaded.contains(day), book.days[day] != nil else { continue }
                var candle = Candle(trade: tick, tradeSeq: stored.keyed.tradeSeq)
                if let held = book.days[day]?.minutes[minute] {
                    var merged = held
                    merged.merge(candle)
                    candle = merged
                }
                open = (minute, day, candle)
            }
            close()
            books[symbol] = book
        }

        var updates: [CandleUpdate] = []
        for symbol in touches.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let touch = touches[symbol]!
            guard var book = books[symbol] else { continue }
            for minute in touch.minutes.keys.sorted() {
                let day = touch.minutes[minute]!
                updates.append(CandleUpdate(symbol: symbol, interval: .minute, bucket: Timestamp(nanosecondsSinceEpoch: minute),
                                            candle: book.days[day]?.minutes[minute]))
            }
            for day in Set(touch.minutes.values).sorted() {
                guard let held = book.days[day] else { continue }
                book.days[day]?.used = clock
                updates.append(CandleUpdate(symbol: symbol, interval: .day, bucket: held.start, candle: Self.fold(held.minutes)))
            }
            if touch.lastSeq != Int64.min { book.lastSeq = max(book.lastSeq, touch.lastSeq) }
            while book.days.count > daysPerSymbol, let oldest = book.days.min(by: { $0.value.used < $1.value.used })?.key {
                book.days[oldest] = nil
            }
            books[symbol] = book
        }
        return updates
    }

    /// A day's candle from its minutes.
    static func fold(_ minutes: [Int64: Candle]) -> Candle? {
        var day: Candle?
        for candle in minutes.values {
            if day == nil { day = candle } else { day!.merge(candle) }
        }
        return day
    }
}
