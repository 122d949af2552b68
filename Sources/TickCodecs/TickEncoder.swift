import TickModel

/// Writes normalised ticks back out as CSV or NDJSON lines, exactly (decimals as stored,
/// time as RFC 3339 UTC). Parsing what it writes gives the same tick back.
public enum TickEncoder {
    /// The CSV header matching `appendCSV`.
    public static let csvHeader = "time,symbol,open,high,low,close,volume,seq"

    /// Appends `time,symbol,open,high,low,close,volume,seq\n` (seq empty when absent).
    public static func appendCSV(_ tick: Tick, to out: inout [UInt8]) {
        tick.time.writeRFC3339(to: &out, fractionDigits: nil)
        out.append(UInt8(ascii: ","))
        appendCSVCell(tick.symbol.rawValue, to: &out)
        for price in [tick.open, tick.high, tick.low, tick.close] {
            out.append(UInt8(ascii: ","))
            price.write(to: &out)
        }
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: String(tick.volume).utf8)
        out.append(UInt8(ascii: ","))
        if let sequence = tick.feedSequence { out.append(contentsOf: String(sequence).utf8) }
        out.append(0x0A)
    }

    /// Appends `{"time":…,"symbol":…,"open":…,…}\n`; decimals are JSON numbers written exactly.
    public static func appendNDJSON(_ tick: Tick, to out: inout [UInt8]) {
        out.append(contentsOf: Array(#"{"time":""#.utf8))
        tick.time.writeRFC3339(to: &out, fractionDigits: nil)
        out.append(contentsOf: Array(#"","symbol":"#.utf8))
        JSONText.appendString(tick.symbol.rawValue, to: &out)
        let names = [#","open":"#, #","high":"#, #","low":"#, #","close":"#]
        for (name, price) in zip(names, [tick.open, tick.high, tick.low, tick.close]) {
            out.append(contentsOf: Array(name.utf8))
            price.write(to: &out)
        }
        out.append(contentsOf: Array(#","volume":"#.utf8))
        out.append(contentsOf: String(tick.volume).utf8)
        if let sequence = tick.feedSequence {
            out.append(contentsOf: Array(#","seq":"#.utf8))
            out.append(contentsOf: String(sequence).utf8)
        }
        out.append(contentsOf: Array("}\n".utf8))
    }

    static func appendCSVCell(_ text: String, to out: inout [UInt8]) {
        let bytes = Array(text.utf8)
        let needsQuotes = bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0D || $0 == 0x0A }
        guard needsQuotes else { out.append(contentsOf: bytes); return }
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            if b == UInt8(ascii: "\"") { out.append(b) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }
}
