import TickModel

/// The JSON a stored tick is published as on Redis:
/// `{"symbol":"SCOM","time":"2026-01-05T06:00:00.000Z","open":23.10,"high":23.10,"low":23.10,"close":23.10,"volume":1000,"seq":4711}`.
/// Decimals are written exactly as stored (never through a float); the time is UTC with
/// milliseconds; `seq` is the symbol's publication sequence number. A trade stored although it
/// broke an exchange rule carries them: `,"flags":["off_tick"]`. A correction or cancel says so
/// and names the trade (its trade id, and the seq of the message it replaces or cancels):
/// `,"action":"cancel","trade_id":812,"ref_seq":4711`; a cancel's prices and volume are the
/// cancelled trade's.
public enum TickMessage {
    public static func json(_ tick: Tick, seq: Int64, flags: [String] = [], amends: Amended? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        append(tick, seq: seq, flags: flags, amends: amends, to: &out)
        return out
    }

    /// The trade a correction or cancel changed.
    public struct Amended: Sendable, Equatable {
        public var tradeID: Int64
        /// The seq the trade was published under before.
        public var seq: Int64
        public init(tradeID: Int64, seq: Int64) {
            self.tradeID = tradeID
            self.seq = seq
        }
    }

    /// Appends `,"open":…,"high":…,"low":…,"close":…` with the prices' exact decimals (a tick's
    /// message and a candle's share them).
    public static func appendPrices(open: Price, high: Price, low: Price, close: Price, to out: inout [UInt8]) {
        JSONText.appendLiteral(#","open":"#, to: &out)
        open.write(to: &out)
        JSONText.appendLiteral(#","high":"#, to: &out)
        high.write(to: &out)
        JSONText.appendLiteral(#","low":"#, to: &out)
        low.write(to: &out)
        JSONText.appendLiteral(#","close":"#, to: &out)
        close.write(to: &out)
    }

    /// Appends the message to `out`; the publisher encodes every tick into one reused buffer.
    public static func append(_ tick: Tick, seq: Int64, flags: [String] = [], amends: Amended? = nil, to out: inout [UInt8]) {
        JSONText.appendLiteral(#"{"symbol":"#, to: &out)
        JSONText.appendString(tick.symbol.rawValue, to: &out)
        JSONText.appendLiteral(#","time":""#, to: &out)
        tick.time.writeRFC3339(to: &out, fractionDigits: 3)
        out.append(UInt8(ascii: "\""))
        appendPrices(open: tick.open, high: tick.high, low: tick.low, close: tick.close, to: &out)
        JSONText.appendLiteral(#","volume":"#, to: &out)
        JSONText.appendInteger(tick.volume, to: &out)
        JSONText.appendLiteral(#","seq":"#, to: &out)
        JSONText.appendInteger(seq, to: &out)
        if !flags.isEmpty {
            JSONText.appendLiteral(#","flags":["#, to: &out)
            for (index, flag) in flags.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(flag, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        if tick.action.isAmendment, let amends {
            JSONText.appendLiteral(tick.action == .cancel ? #","action":"cancel","trade_id":"# : #","action":"correct","trade_id":"#, to: &out)
            JSONText.appendInteger(amends.tradeID, to: &out)
            JSONText.appendLiteral(#","ref_seq":"#, to: &out)
            JSONText.appendInteger(amends.seq, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}
