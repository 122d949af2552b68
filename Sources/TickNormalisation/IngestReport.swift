import TickCodecs

/// The counts a run ends with, printed by `--report json`.
public struct IngestReport: Sendable, Equatable {
    /// Records seen (lines that were not blank and not a CSV header).
    public var read = 0
    public var accepted = 0
    /// Accepted, but left out by `--from/--to/--symbols`.
    public var filtered = 0
    /// Lines skipped because an earlier run of the same file committed them (resumed).
    public var resumed = 0
    public var rejected = 0
    /// Rows new or changed in `market_ticks`.
    public var inserted = 0
    /// Redis messages sent.
    public var published = 0
    /// Trades the exchange's price checks held in `tickd_quarantine`, dead-lettered (action
    /// `reject`), or stored with a flag (action `accept`). Counted in `accepted` too.
    public var quarantined = 0
    public var priceRejected = 0
    public var priceFlagged = 0
    /// Trades corrected and cancelled by the feed's correction and cancel records, and those
    /// records dead-lettered because they named no stored trade (`unknown_trade`, also in
    /// `rejected`).
    public var corrected = 0
    public var cancelled = 0
    public var unknownTrades = 0
    /// Status records (halts, suspensions, resumptions, market phases) that changed a status.
    public var statusChanges = 0
    public var rejectedByReason: [RejectReason: Int] = [:]
    public var seconds: Double = 0
    public var dryRun = false

    public init() {}

    /// Counts a reject under its reason.
    public mutating func countReject(_ reason: RejectReason) {
        rejected += 1
        rejectedByReason[reason, default: 0] += 1
    }

    /// Accepted ticks per second of wall time.
    public var ticksPerSecond: Double { seconds > 0 ? Double(accepted) / seconds : 0 }

    /// One JSON object: the SPEC.md keys first, then `rejected_by_reason` and `dry_run`.
    public var json: String {
        var out: [UInt8] = []
        func number(_ key: String, _ value: String) {
            out.append(contentsOf: Array((out.isEmpty ? "{" : ",").utf8))
            JSONText.appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: Array(value.utf8))
        }
        number("read", String(read))
        number("accepted", String(accepted))
        number("rejected", String(rejected))
        number("inserted", String(inserted))
        number("published", String(published))
        number("seconds", Self.fixed(seconds, 3))
        number("ticks_per_second", Self.fixed(ticksPerSecond, 1))
        var reasons: [UInt8] = [UInt8(ascii: "{")]
        for (index, reason) in rejectedByReason.keys.sorted().enumerated() {
            if index > 0 { reasons.append(UInt8(ascii: ",")) }
            JSONText.appendString(reason.rawValue, to: &reasons)
            reasons.append(contentsOf: Array(":\(rejectedByReason[reason]!)".utf8))
        }
        reasons.append(UInt8(ascii: "}"))
        number("rejected_by_reason", String(decoding: reasons, as: UTF8.self))
        number("filtered", String(filtered))
        number("resumed", String(resumed))
        number("quarantined", String(quarantined))
        number("price_rejected", String(priceRejected))
        number("price_flagged", String(priceFlagged))
        number("corrected", String(corrected))
        number("cancelled", String(cancelled))
        number("status_changes", String(statusChanges))
        number("dry_run", dryRun ? "true" : "false")
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Formats a non-negative double with `digits` decimals, without Foundation.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite, value >= 0 else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int64(scaled / scale)
        let fraction = Int64(scaled) - whole * Int64(scale)
        guard digits > 0 else { return String(whole) }
        let fractionText = String(fraction)
        return "\(whole).\(String(repeating: "0", count: digits - fractionText.count))\(fractionText)"
    }
}
