import Testing
import TickCodecs
import TickModel
import TickNormalisation

@Suite struct NormaliserTests {
    @Test func nairobiIsThreeHoursAheadOfUTC() {
        var zone = ExchangeZone.nairobi
        let wall = Int64(1_767_603_600) * 1_000_000_000   // 2026-01-05T09:00 wall clock
        #expect(zone.instant(ofWallClock: wall) == Timestamp(secondsSinceEpoch: 1_767_592_800))
        #expect(zone.offsetSeconds(at: Timestamp(secondsSinceEpoch: 1_767_592_800)) == 10_800)
        #expect(ExchangeZone(identifier: "Mars/Olympus") == nil)
    }

    @Test func daylightSavingZonesUseTheOffsetInForce() {
        var zone = ExchangeZone(identifier: "Europe/London")!
        // 2026-07-01T12:00 wall clock in London is 11:00Z (BST); 2026-01-05T12:00 is 12:00Z.
        #expect(zone.instant(ofWallClock: 1_782_907_200 * 1_000_000_000) == Timestamp(secondsSinceEpoch: 1_782_903_600))
        #expect(zone.instant(ofWallClock: 1_767_614_400 * 1_000_000_000) == Timestamp(secondsSinceEpoch: 1_767_614_400))
    }

    @Test func symbolRules() {
        let rules = SymbolRules(aliases: ["safaricom": "SCOM"], known: ["SCOM", "KCB"])
        #expect(rules.normalise(" nse:kcb ") == .success("KCB"))
        #expect(rules.normalise("Safaricom.NR") == .success("SCOM"))
        #expect(rules.normalise("") == .failure(.missing))
        #expect(rules.normalise("NSE:") == .failure(.reject(Reject(.unknownSymbol, "'NSE:' is not a listed instrument"))))
        guard case .failure(.reject(let reject)) = rules.normalise("SC OM") else { Issue.record("expected a reject"); return }
        #expect(reject.reason == .badSymbol)
    }

    @Test func reportJSONHasTheSpecKeys() {
        var report = IngestReport()
        report.read = 3
        report.accepted = 2
        report.countReject(.badTime)
        report.seconds = 0.5
        #expect(report.json == #"{"read":3,"accepted":2,"rejected":1,"inserted":0,"published":0,"seconds":0.500,"ticks_per_second":4.0,"rejected_by_reason":{"bad_time":1},"filtered":0,"resumed":0,"quarantined":0,"price_rejected":0,"price_flagged":0,"corrected":0,"cancelled":0,"status_changes":0,"dry_run":false}"#)
    }

    @Test func everyReasonCodeIsSnakeCaseAndUnique() {
        let codes = RejectReason.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        #expect(codes.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber } })
        #expect(codes.count == 22)
    }
}
