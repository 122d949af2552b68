import TickModel

/// The JSON a stored tick is published as on Redis:
/// `{"symbol":"SCOM","time":"2026-01-05T06:00:00.000Z","open":23.10,"high":23.10,"low":23.10,"close":23.10,"volume":1000,"seq":4711}`.
/// Decimals are written exactly as stored (never through a float); the time is UTC with
/// milliseconds; `seq` is the symbol's publication sequence number. A trade stored although it
/// broke an exchange rule carries them: `,"flags":["off_tick"]`.
public enum TickMessage {
    public static func json(_ tick: Tick, seq: Int64, flags: [String] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out.append(contentsOf: Array(#"{"symbol":"#.utf8))
        JSONText.appendString(tick.symbol.rawValue, to: &out)
        out.append(contentsOf: Array(#","time":""#.utf8))
        tick.time.writeRFC3339(to: &out, fractionDigits: 3)
        out.append(UInt8(ascii: "\""))
        let fields: [(String, Price)] = [(#","open":"#, tick.open), (#","high":"#, tick.high),
                                         (#","low":"#, tick.low), (#","close":"#, tick.close)]
        for (name, price) in fields {
            out.append(contentsOf: Array(name.utf8))
            price.write(to: &out)
        }
        out.append(contentsOf: Array(#","volume":"#.utf8))
        out.append(contentsOf: Array(String(tick.volume).utf8))
        out.append(contentsOf: Array(#","seq":"#.utf8))
        out.append(contentsOf: Array(String(seq).utf8))
        if !flags.isEmpty {
            out.append(contentsOf: Array(#","flags":["#.utf8))
            for (index, flag) in flags.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(flag, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
