import Testing
import TickModel
import TickSinks

@Suite struct SkippedRangesTests {
    @Test func consecutiveSeqsMergeIntoRanges() {
        var ranges = SkippedRanges()
        for seq in [11, 12, 13, 20, 21, 13] as [Int64] { ranges.add("SCOM", seq: seq) }
        ranges.add("KCB", seq: 5)
        #expect(ranges.description == "KCB seq 5-5, SCOM seq 11-13, SCOM seq 20-21")
        #expect(!ranges.isEmpty)
        #expect(SkippedRanges().isEmpty)
    }
}
