import TestSupport
import Testing
import TickModel
@testable import TickSinks

/// The Redis publisher's rules, without Redis, threads or sleeps.
@Suite struct PublisherBacklogTests {
    static func message(_ symbol: Symbol, _ seq: Int64) -> PublisherBacklog.Message {
        PublisherBacklog.Message(tick: .trade(time: Timestamp(secondsSinceEpoch: seq), symbol: symbol, price: Price(units: 2310, scale: 2), size: 100),
                                 seq: seq, setLast: false)
    }

    static func messages(_ symbol: Symbol, _ seqs: ClosedRange<Int64>) -> [PublisherBacklog.Message] { seqs.map { message(symbol, $0) } }

    @Test func messagesGoOutOldestFirstAndABrokenPipelinePutsTheRestBackInFront() {
        var backlog = PublisherBacklog(maxBacklog: 100)
        #expect(backlog.enqueue(Self.messages("SCOM", 1...5)) == (ticket: 5, skipped: nil))
        #expect(backlog.enqueue(Self.messages("KCB", 1...2)).ticket == 7)
        let first = backlog.take(limit: 4)
        #expect(first.map(\.seq) == [1, 2, 3, 4] && backlog.inFlight == 4)
        #expect(backlog.take(limit: 4).isEmpty, "one pipeline at a time")
        backlog.failed()
        #expect(backlog.sent(first, acknowledged: 2) == nil)
        #expect(backlog.retired == 2 && backlog.retiredSeq == ["SCOM": 2] && backlog.published == 2 && backlog.errors == 1)
        #expect(backlog.waiting.map { "\($0.symbol) \($0.seq)" } == ["SCOM 3", "SCOM 4", "SCOM 5", "KCB 1", "KCB 2"])
        backlog.connected()
        let second = backlog.take(limit: 10)
        #expect(backlog.sent(second, acknowledged: second.count) == nil)
        #expect(backlog.isIdle && backlog.retired == 7 && backlog.retiredSeq == ["SCOM": 5, "KCB": 2])
    }

    @Test func theBoundWaitsForRoomWhileRedisIsUpAndSkipsTheOldestOnlyWhileItIsDown() {
        var backlog = PublisherBacklog(maxBacklog: 5)
        #expect(!backlog.unreachable && backlog.hasRoom(for: 5))
        _ = backlog.enqueue(Self.messages("SCOM", 1...4))
        #expect(!backlog.hasRoom(for: 2), "a writer waits while Redis takes them")
        #expect(backlog.enqueue(Self.messages("SCOM", 5...6)).skipped == nil, "nothing is skipped while Redis is reachable")
        backlog.failed()
        #expect(backlog.hasRoom(for: 1_000), "an unreachable Redis does not hold up the database")
        let skipped = backlog.enqueue(Self.messages("KCB", 1...2)).skipped
        #expect(skipped?.count == 3 && skipped?.ranges.description == "SCOM seq 1-3")
        #expect(backlog.pending == 5 && backlog.skipped == 3)
        #expect(backlog.retiredSeq == ["SCOM": 3], "skipped counts as retired: the outbox moves past it")
        // At exit what is left is counted, not retired: the outbox still owes it.
        let left = backlog.abandon()
        #expect(left.count == 5 && left.ranges.description == "KCB seq 1-2, SCOM seq 4-6")
        #expect(backlog.retired == 3 && backlog.isIdle)
    }

    /// Found by the model test: skipping waiting messages while older ones of the same symbol
    /// were in flight moved the retired seq past them; the bound now waits for the pipeline.
    @Test func nothingIsSkippedPastAPipelineUnderWay() {
        var backlog = PublisherBacklog(maxBacklog: 3)
        _ = backlog.enqueue(Self.messages("SCOM", 1...3))
        let work = backlog.take(limit: 2)
        backlog.failed()
        #expect(backlog.enqueue(Self.messages("SCOM", 4...6)).skipped == nil, "SCOM 1-2 are still under way")
        #expect(backlog.retiredSeq.isEmpty)
        let skipped = backlog.sent(work, acknowledged: 0)
        #expect(skipped?.ranges.description == "SCOM seq 1-3" && backlog.retiredSeq == ["SCOM": 3] && backlog.pending == 3)
    }

    @Test func aSingleBatchLargerThanTheBoundStillGoesInWhole() {
        var backlog = PublisherBacklog(maxBacklog: 3)
        #expect(backlog.hasRoom(for: 10))
        #expect(backlog.enqueue(Self.messages("SCOM", 1...10)).skipped == nil)
    }

    @Test func reservedRoomCountsAgainstTheBoundUntilItsBatchIsEnqueued() {
        var backlog = PublisherBacklog(maxBacklog: 10)
        let first = backlog.reserve(6)
        let second = backlog.reserve(6)
        #expect(first && !second, "6 reserved and 6 more would pass 10")
        #expect(!backlog.hasRoom(for: 5))
        let forced = backlog.reserve(6, evenIfFull: true)
        #expect(forced && backlog.reserved == 12, "a stopping publisher holds no one up")
        backlog.release(6)
        _ = backlog.enqueue(Self.messages("SCOM", 1...4), releasing: 6)
        #expect(backlog.reserved == 0 && backlog.pending == 4)
        let six = backlog.reserve(6)
        let one = backlog.reserve(1)
        #expect(six && !one)
        backlog.failed()
        let whileDown = backlog.reserve(100)
        #expect(whileDown, "an unreachable Redis does not hold up the database")
    }

    /// Random enqueues, pipelines acknowledged in part or whole, failures and reconnections:
    /// every message is waiting, in flight or retired, exactly once; per symbol, messages are
    /// taken in seq order, except that a put-back message is taken again before later ones; a
    /// symbol's retired seq covers all its earlier messages; nothing is skipped while reachable.
    @Test func aRandomisedModelKeepsTheRules() {
        var random = LinearCongruential(seed: 0xB4C6_1065)
        let symbols: [Symbol] = ["SCOM", "KCB", "EQTY", "BAT"]
        for run in 0..<200 {
            let bound = Int.random(in: 1...40, using: &random)
            var backlog = PublisherBacklog(maxBacklog: bound)
            var nextSeq: [Symbol: Int64] = [:]
            var retired: Set<String> = []         // "SYMBOL seq"
            var acknowledgedOrder: [Symbol: [Int64]] = [:]
            var all: [PublisherBacklog.Message] = []
            var work: [PublisherBacklog.Message] = []
            for _ in 0..<300 {
                switch Int.random(in: 0..<10, using: &random) {
                case 0...3:
                    let batch = (0..<Int.random(in: 1...8, using: &random)).map { _ -> PublisherBacklog.Message in
                        let symbol = symbols.randomElement(using: &random)!
                        nextSeq[symbol, default: 0] += 1
                        return Self.message(symbol, nextSeq[symbol]!)
                    }
                    let wasReachable = !backlog.unreachable
                    // A writer reserves room before its commit; without room it waits (the
                    // batch is not made), which only happens while Redis is reachable.
                    guard backlog.reserve(batch.count) else {
                        #expect(wasReachable, "run \(run): an unreachable Redis held a writer up")
                        for message in batch { nextSeq[message.symbol]! -= 1 }
                        break
                    }
                    let (ticket, skipped) = backlog.enqueue(batch, releasing: batch.count)
                    #expect(backlog.reserved == 0)
                    if wasReachable { #expect(backlog.pending <= max(bound, batch.count), "run \(run): a reserved batch passed the bound") }
                    if backlog.unreachable && work.isEmpty { #expect(backlog.pending <= bound, "run \(run): over the bound while unreachable") }
                    all += batch
                    #expect(ticket == all.count)
                    if wasReachable { #expect(skipped == nil, "run \(run): skipped while reachable") }
                    for symbol in symbols { for range in skipped?.ranges.ranges[symbol] ?? [] { for seq in range { retired.insert("\(symbol) \(seq)") } } }
                case 4...5 where work.isEmpty:
                    work = backlog.take(limit: Int.random(in: 1...10, using: &random))
                case 6...7 where !work.isEmpty:
                    let acknowledged = Int.random(in: 0...work.count, using: &random)
                    if acknowledged < work.count { backlog.failed() }
                    let wasReachable = !backlog.unreachable
                    let skipped = backlog.sent(work, acknowledged: acknowledged)
                    if wasReachable { #expect(skipped == nil) }
                    if backlog.unreachable { #expect(backlog.pending <= bound, "run \(run): over the bound while unreachable") }
                    for message in work[..<acknowledged] {
                        #expect(retired.insert("\(message.symbol) \(message.seq)").inserted, "run \(run): retired twice")
                        acknowledgedOrder[message.symbol, default: []].append(message.seq)
                    }
                    for symbol in symbols { for range in skipped?.ranges.ranges[symbol] ?? [] { for seq in range { retired.insert("\(symbol) \(seq)") } } }
                    work = []
                case 8:
                    backlog.failed()
                default:
                    backlog.connected()
                }
                // Conservation: every message is exactly one of waiting, in flight, retired.
                #expect(backlog.enqueued == all.count)
                #expect(backlog.retired == retired.count, "run \(run)")
                #expect(backlog.waiting.count + backlog.inFlight + backlog.retired == all.count, "run \(run)")
                #expect(backlog.inFlight == work.count)
                // Per symbol: acknowledged in seq order; the retired seq covers every earlier message.
                for (symbol, seqs) in acknowledgedOrder { #expect(seqs == seqs.sorted(), "run \(run): \(symbol) out of order") }
                for (symbol, high) in backlog.retiredSeq {
                    #expect((1...high).allSatisfy { retired.contains("\(symbol) \($0)") }, "run \(run): \(symbol) below \(high) not retired")
                }
                // The waiting messages of a symbol are in seq order.
                for symbol in symbols {
                    let seqs = backlog.waiting.filter { $0.symbol == symbol }.map(\.seq)
                    #expect(seqs == seqs.sorted(), "run \(run)")
                }
            }
        }
    }
}
