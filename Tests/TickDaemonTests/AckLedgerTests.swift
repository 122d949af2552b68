import TestSupport
import Testing
@testable import TickDaemon
@testable import TickEngine
import TickModel
import TickNormalisation
import TickSinks

/// The acknowledgement ledger, without I/O: what each batch's transaction may record.
@Suite struct AckLedgerTests {
    static func tick(_ symbol: String, _ i: Int = 0) -> KeyedTick {
        KeyedTick(tick: .trade(time: Timestamp(secondsSinceEpoch: Int64(i)), symbol: Symbol(symbol),
                               price: Price(units: 1, scale: 0), size: 1), tradeSeq: Int64(i))
    }

    static func fileChunk(_ symbols: [String], through offset: Int64, line: Int = 1) -> TickChunk {
        TickChunk(source: "f", throughLine: line, ticks: symbols.enumerated().map { tick($0.element, $0.offset) },
                  position: StreamPosition(stream: "file:f", identity: "id", offset: offset))
    }

    /// Two symbols that land on different lanes of a two-lane partition.
    static let (left, right): (String, String) = {
        let partition = SymbolPartition(count: 2)
        let symbols = ["SCOM", "KCB", "EQTY", "ABSA", "COOP", "NCBA"]
        let a = symbols.first { partition.lane(of: Symbol($0)) == 0 }!
        let b = symbols.first { partition.lane(of: Symbol($0)) == 1 }!
        return (a, b)
    }()

    @Test func oneLaneRecordsAChunksPositionWithTheBatchThatHoldsItsLastTick() {
        var ledger = AckLedger(partition: SymbolPartition(count: 1))
        _ = ledger.receive(Self.fileChunk(["SCOM", "SCOM"], through: 100))
        let progress = ledger.close(lane: 0)
        #expect(progress.positions["file:f"]?.offset == 100)
        #expect(progress.lines["f"] == 1)
        #expect(!ledger.isIdle)
        ledger.committed(lane: 0, ticket: nil)
        #expect(ledger.isIdle && ledger.applied == 1)
    }

    @Test func aChunkSplitAcrossLanesIsRecordedOnlyOnceEveryPartIsCommittedOrInTheSameBatch() {
        var ledger = AckLedger(partition: SymbolPartition(count: 2))
        let (id, parts) = ledger.receive(Self.fileChunk([Self.left, Self.right], through: 50))
        #expect(parts.map(\.count) == [1, 1])
        // Lane 0 closes while lane 1 still holds the chunk's other tick: no position yet.
        #expect(ledger.close(lane: 0).positions.isEmpty)
        // Lane 1 closes while lane 0's part is in flight: still none.
        #expect(ledger.close(lane: 1).positions.isEmpty)
        ledger.committed(lane: 0, ticket: nil)
        #expect(ledger.applied == 0)
        ledger.committed(lane: 1, ticket: nil)
        #expect(ledger.applied == id)
        // Nothing carried the position: an empty batch on lane 0 is due, and records it.
        #expect(ledger.bookkeepingDue)
        #expect(ledger.close(lane: 0).positions["file:f"]?.offset == 50)
        #expect(!ledger.bookkeepingDue)
    }

    @Test func aLaneBatchRecordsWhatTheOtherLanesHaveAlreadyCommitted() {
        var ledger = AckLedger(partition: SymbolPartition(count: 2))
        _ = ledger.receive(Self.fileChunk([Self.left], through: 10))
        _ = ledger.close(lane: 0)
        ledger.committed(lane: 0, ticket: nil)
        _ = ledger.receive(Self.fileChunk([Self.right], through: 20))
        // Lane 0 has nothing open or in flight: lane 1's batch covers every chunk received.
        #expect(ledger.close(lane: 1).positions["file:f"]?.offset == 20)
    }

    @Test func aChunkOfRejectsAloneIsDueAsBookkeeping() {
        var ledger = AckLedger(partition: SymbolPartition(count: 2))
        #expect(!ledger.bookkeepingDue)
        _ = ledger.receive(Self.fileChunk([], through: 30))
        #expect(ledger.bookkeepingDue)
        // A chunk without position or journal record (TCP) needs no transaction of its own.
        var live = AckLedger(partition: SymbolPartition(count: 1))
        _ = live.receive(TickChunk(source: "tcp", throughLine: 3, ticks: []))
        #expect(!live.bookkeepingDue)
    }

    @Test func theJournalPositionIsTheLastContiguousRecordAndSegmentsWaitForThePublisher() {
        var ledger = AckLedger(partition: SymbolPartition(count: 1), journalIdentity: "j", journalApplied: 4)
        func chunk(_ record: UInt64) -> TickChunk {
            TickChunk(source: "tcp", throughLine: 1, ticks: [Self.tick("SCOM")], journalRecord: record)
        }
        // Records 6 and 5 arrive out of order (two connections): nothing moves until 5 is in.
        _ = ledger.receive(chunk(6))
        #expect(ledger.close(lane: 0).positions["journal"] == nil)
        ledger.committed(lane: 0, ticket: 10)
        #expect(ledger.journalApplied == 4)
        _ = ledger.receive(chunk(5))
        #expect(ledger.close(lane: 0).positions["journal"]?.offset == 6)
        ledger.committed(lane: 0, ticket: 20)
        #expect(ledger.journalApplied == 6)
        // Segments through 6 go once the publisher retired ticket 20, not before.
        #expect(ledger.releasable(retired: 15) == nil)
        #expect(ledger.releasable(retired: 20) == 6)
        #expect(ledger.releasable(retired: 20) == nil)
    }

    @Test func aJournalRecordSplitAcrossLanesIsRecordedByTheBookkeepingBatchAfterBothCommit() {
        var ledger = AckLedger(partition: SymbolPartition(count: 2), journalIdentity: "j", journalApplied: 0)
        _ = ledger.receive(TickChunk(source: "tcp", throughLine: 2, ticks: [Self.tick(Self.left), Self.tick(Self.right)], journalRecord: 1))
        #expect(ledger.close(lane: 0).positions["journal"] == nil)
        #expect(ledger.close(lane: 1).positions["journal"] == nil)
        ledger.committed(lane: 0, ticket: nil)
        ledger.committed(lane: 1, ticket: nil)
        #expect(ledger.journalApplied == 1)
        // Applied in memory, recorded by no transaction yet: an empty batch carries it.
        #expect(ledger.bookkeepingDue)
        #expect(ledger.close(lane: 0).positions["journal"]?.offset == 1)
        ledger.committed(lane: 0, ticket: nil)
        #expect(!ledger.bookkeepingDue)
        #expect(ledger.isIdle)
    }

    @Test func eachLaneRecordsThePublishedWatermarkOfItsOwnSymbolsOnly() {
        var ledger = AckLedger(partition: SymbolPartition(count: 2))
        _ = ledger.receive(Self.fileChunk([Self.left], through: 1))
        let published: [Symbol: Int64] = [Symbol(Self.left): 7, Symbol(Self.right): 9]
        #expect(ledger.close(lane: 0, published: published).published == [Symbol(Self.left): 7])
        #expect(ledger.close(lane: 1, published: published).published == [Symbol(Self.right): 9])
    }

    @Test func aLaneCarriesTheWatermarkOnlyWhereItMovedAndAtMostOncePerInterval() {
        var ledger = AckLedger(partition: SymbolPartition(count: 1))
        let start = ContinuousClock.now
        let (scom, kcb) = (Symbol(Self.left), Symbol(Self.right))
        #expect(ledger.close(lane: 0, published: [scom: 7, kcb: 3], at: start).published == [scom: 7, kcb: 3])
        let soon = start + AckLedger.watermarkEvery / 2
        #expect(ledger.close(lane: 0, published: [scom: 9, kcb: 3], at: soon).published.isEmpty, "too soon after the last")
        let later = start + AckLedger.watermarkEvery
        #expect(ledger.close(lane: 0, published: [scom: 9, kcb: 3], at: later).published == [scom: 9], "only what moved")
        let after = later + AckLedger.watermarkEvery * 2
        #expect(ledger.close(lane: 0, published: [scom: 9, kcb: 3], at: after).published.isEmpty, "nothing moved")
        #expect(ledger.close(lane: 0, published: [scom: 9, kcb: 4], at: after).published == [kcb: 4],
                "a batch that carried nothing does not hold the next one back")
    }

    /// Random chunks, batch sizes and commit orders over three lanes: every position a
    /// transaction records is covered by ticks committed in it or before it, and at the end the
    /// database's position (the greatest recorded) is the last chunk's.
    @Test func noTransactionEverRecordsAPositionPastAnUncommittedTick() {
        var random = LinearCongruential(seed: 0x5EED)
        let symbols = ["SCOM", "KCB", "EQTY", "ABSA", "COOP", "NCBA", "BAT", "EABL"]
        for _ in 0..<200 {
            var ledger = AckLedger(partition: SymbolPartition(count: 3), journalIdentity: "j")
            let partition = ledger.partition
            var open: [[Int]] = [[], [], []]                 // per lane, chunk ids of open ticks
            var inFlight: [[(chunks: [Int], position: Int64?, journal: Int64?)]] = [[], [], []]
            var storedJournal: Int64 = 0
            var uncommitted: [Int: Int] = [:]                // chunk id → ticks not yet committed
            var offsetOf: [Int: Int64] = [:]
            var stored: Int64 = 0
            var offset: Int64 = 0
            var log: [String] = []
            func commitOne() {
                let lanes = (0..<3).filter { !inFlight[$0].isEmpty }
                guard let lane = lanes.randomElement(using: &random) else { return }
                let batch = inFlight[lane].removeFirst()
                for id in batch.chunks { uncommitted[id, default: 0] -= 1 }
                if let position = batch.position {
                    // Every chunk up to the recorded offset is fully committed now.
                    let notDone = offsetOf.filter { $0.value <= position && uncommitted[$0.key, default: 0] > 0 }
                    #expect(notDone.isEmpty, "position \(position) recorded with chunks \(notDone.keys.sorted()) uncommitted; commit lane \(lane) \(batch) after \(log)")
                    stored = max(stored, position)
                }
                if let journal = batch.journal {
                    // Chunk n carries journal record n.
                    let notDone = uncommitted.filter { $0.key <= journal && $0.value > 0 }
                    #expect(notDone.isEmpty, "journal \(journal) recorded with chunks \(notDone.keys.sorted()) uncommitted")
                    storedJournal = max(storedJournal, journal)
                }
                ledger.committed(lane: lane, ticket: nil)
                log.append("commit \(lane)")
            }
            func close(_ lane: Int, continuing: Int? = nil) {
                let progress = ledger.close(lane: lane, continuing: continuing)
                log.append("close \(lane) \(open[lane]) → \(progress.positions["file:f"]?.offset ?? -1)")
                inFlight[lane].append((open[lane], progress.positions["file:f"]?.offset, progress.positions["journal"]?.offset))
                open[lane] = []
            }
            for _ in 0..<Int.random(in: 1...30, using: &random) {
                offset += Int64.random(in: 1...100, using: &random)
                let names = (0..<Int.random(in: 0...5, using: &random)).map { _ in symbols.randomElement(using: &random)! }
                var chunk = Self.fileChunk(names, through: offset)
                chunk.journalRecord = UInt64(offsetOf.count + 1)
                let (id, parts) = ledger.receive(chunk)
                offsetOf[id] = offset
                log.append("receive \(id) \(parts.map(\.count)) @\(offset)")
                for (lane, part) in parts.enumerated() {
                    for (index, tick) in part.enumerated() {
                        #expect(partition.lane(of: tick.tick.symbol) == lane)
                        open[lane].append(id)
                        uncommitted[id, default: 0] += 1
                        if Int.random(in: 0..<4, using: &random) == 0 {
                            close(lane, continuing: index < part.count - 1 ? id : nil)
                        }
                    }
                }
                while Int.random(in: 0..<3, using: &random) == 0 { commitOne() }
                if ledger.bookkeepingDue { close(0) }
            }
            // The end of input: flush, commit everything, then the bookkeeping no batch carried.
            for lane in 0..<3 where !open[lane].isEmpty { close(lane) }
            while inFlight.contains(where: { !$0.isEmpty }) { commitOne() }
            while ledger.bookkeepingDue {
                close(0)
                commitOne()
            }
            #expect(ledger.isIdle)
            #expect(stored == offset, "the stored position is the end of the input")
            #expect(storedJournal == Int64(offsetOf.count), "the stored journal position is the last record")
        }
    }
}
