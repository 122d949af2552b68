import Testing
import TickModel
import TickNormalisation
@testable import TickSinks

/// The live candle book without a database: what it adds in memory, and what it asks the
/// database to read back (a day not held, revised minutes, a symbol whose seqs jumped).
struct LiveCandleBookTests {
    static let tenAM: Int64 = 1_767_596_400  // 2026-01-05T10:00:00+03:00

    static func trade(_ second: Int64, _ cents: Int64, _ volume: Int64, id: Int64, seq: Int64, action: TradeAction = .trade) -> StoredTick {
        var tick = Tick.trade(time: Timestamp(secondsSinceEpoch: tenAM + second), symbol: "SCOM", price: Price(units: cents, scale: 2), size: volume)
        tick.action = action
        return StoredTick(keyed: KeyedTick(tick: tick, tradeSeq: id), seq: seq)
    }

    /// A loader that answers from `stored` (the database's ticks) and records what it was asked.
    final class Database {
        var stored: [StoredTick] = []
        var asked: [[CandleRange]] = []
        func load(_ ranges: [CandleRange]) -> [CandleRange: [Int64: Candle]] {
            asked.append(ranges)
            var answer: [CandleRange: [Int64: Candle]] = [:]
            for range in ranges {
                for tick in stored.map(\.keyed) where tick.tick.symbol == range.symbol && tick.tick.time >= range.from && tick.tick.time < range.to {
                    let minute = LiveCandleBook.minuteStart(tick.tick.time)
                    if answer[range, default: [:]][minute] == nil {
                        answer[range, default: [:]][minute] = Candle(trade: tick.tick, tradeSeq: tick.tradeSeq)
                    } else {
                        answer[range]![minute]!.add(trade: tick.tick, tradeSeq: tick.tradeSeq)
                    }
                }
            }
            return answer
        }
    }

    @Test func newTradesAreAddedInMemoryAndRevisedMinutesReadBack() {
        var book = LiveCandleBook(zone: .nairobi)
        let db = Database()
        let first = [Self.trade(5, 2310, 100, id: 1, seq: 1), Self.trade(30, 2320, 300, id: 2, seq: 2)]
        db.stored = first
        var updates = book.apply(BatchResult(stored: first), load: db.load)
        // The first batch of the day reads the day back (it holds the batch already).
        #expect(db.asked.count == 1 && db.asked[0].count == 1)
        #expect(updates.map(\.interval) == [.minute, .day] && updates[0].candle?.ticks == 2)

        // The next batch continues the seqs: added in memory, nothing read.
        let second = [Self.trade(65, 2315, 200, id: 3, seq: 3), Self.trade(2, 2305, 100, id: 4, seq: 4)]
        db.stored += second
        updates = book.apply(BatchResult(stored: second), load: db.load)
        #expect(db.asked.count == 1)
        let tenOClock = updates.first { $0.interval == .minute && $0.bucket == Timestamp(secondsSinceEpoch: Self.tenAM) }?.candle
        #expect(tenOClock?.open == Price(units: 2305, scale: 2) && tenOClock?.close == Price(units: 2320, scale: 2) && tenOClock?.ticks == 3)
        let day = updates.last?.candle
        #expect(updates.last?.interval == .day && day?.volume == 700 && day?.close == Price(units: 2315, scale: 2))
        #expect(day?.vwap?.description == "23.1500" && day?.turnover.description == "16205.00")

        // A cancel of trade 3 (the only one of 10:01): that minute is read back, and is empty.
        db.stored.removeAll { $0.keyed.tradeSeq == 3 }
        var cancelled = BatchResult(stored: [Self.trade(65, 2315, 200, id: 3, seq: 5, action: .cancel)])
        cancelled.revised = [cancelled.stored[0].keyed]
        updates = book.apply(cancelled, load: db.load)
        #expect(db.asked.last?.map { $0.to.nanosecondsSinceEpoch - $0.from.nanosecondsSinceEpoch } == [60_000_000_000])
        #expect(updates.first?.interval == .minute && updates.first?.candle == nil)
        #expect(updates.last?.candle?.volume == 500)

        // Seqs that jump (another writer stored seqs 6-7): the whole day is read back.
        let other = [Self.trade(120, 2400, 10, id: 6, seq: 6), Self.trade(121, 2410, 10, id: 7, seq: 7)]
        let next = [Self.trade(122, 2420, 10, id: 8, seq: 8)]
        db.stored += other + next
        updates = book.apply(BatchResult(stored: next), load: db.load)
        #expect(db.asked.last?.count == 1 && db.asked.last?[0].to.nanosecondsSinceEpoch ?? 0 > Timestamp(secondsSinceEpoch: Self.tenAM + 86_400 / 2).nanosecondsSinceEpoch)
        #expect(updates.first?.candle?.ticks == 3 && updates.last?.candle?.volume == 530)
    }

    @Test func vwapRoundsHalfAwayFromZeroAtFourPlaces() {
        var candle = Candle(trade: .trade(time: Timestamp(secondsSinceEpoch: 0), symbol: "X", price: Price(units: 1, scale: 0), size: 3), tradeSeq: 1)
        candle.add(trade: .trade(time: Timestamp(secondsSinceEpoch: 1), symbol: "X", price: Price(units: 2, scale: 0), size: 5), tradeSeq: 2)
        #expect(candle.vwap?.description == "1.6250")  // 13 / 8
        var thirds = Candle(trade: .trade(time: Timestamp(secondsSinceEpoch: 0), symbol: "X", price: Price(units: 1, scale: 1), size: 3), tradeSeq: 1)
        thirds.add(trade: .trade(time: Timestamp(secondsSinceEpoch: 0), symbol: "X", price: Price(units: 2, scale: 0), size: 0), tradeSeq: 0)
        #expect(thirds.vwap?.description == "0.1000" && thirds.open == Price(units: 2, scale: 0) && thirds.close == Price(units: 1, scale: 1))
        #expect(DecimalValue(units: 5, scale: 4).description == "0.0005" && DecimalValue(units: -123, scale: 2).description == "-1.23")
    }
}
