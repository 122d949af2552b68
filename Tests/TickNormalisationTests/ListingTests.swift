import Testing
import TickCodecs
import TickModel
import TickNormalisation

/// A listing that changes while a decoder runs: its cached unknown-symbol rejects do not outlive it.
@Suite struct ListingTests {
    static func outcome(_ decoder: inout FeedDecoder, _ line: String) -> String {
        var line = line
        let outcome = line.withUTF8 { decoder.decode($0) }
        switch outcome {
        case .tick(let tick): return "tick \(tick.symbol)"
        case .reject(let reject): return "reject \(reject.reason.rawValue)"
        case .header: return "header"
        case .blank: return "blank"
        }
    }

    @Test func aSymbolListedAfterItWasRejectedIsAcceptedByTheSameDecoder() {
        let listing = Listing(["SCOM"])
        var rules = SymbolRules(known: [])
        rules.listing = listing
        var decoder = FeedDecoder(format: .csv, csv: CSVOptions(),
                                  normaliser: Normaliser(symbols: rules, now: Timestamp(secondsSinceEpoch: 1_800_000_000)), maxLineBytes: 4096)
        #expect(Self.outcome(&decoder, "time,symbol,price,volume") == "header")
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:00Z,NEWCO,10.00,100") == "reject unknown_symbol")
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:00Z,SCOM,23.10,100") == "tick SCOM")
        let change = listing.replace(with: ["SCOM", "NEWCO"])
        #expect(change.added == ["NEWCO"] && change.removed.isEmpty && listing.version == 1)
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:01Z,NEWCO,10.05,100") == "tick NEWCO")
        // Delisted: rejected again. An unchanged list leaves the version (and the caches) alone.
        listing.replace(with: ["SCOM"])
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:02Z,NEWCO,10.10,100") == "reject unknown_symbol")
        listing.replace(with: ["SCOM"])
        #expect(listing.version == 2)
    }
}
