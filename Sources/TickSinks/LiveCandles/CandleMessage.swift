import TickCodecs
import TickModel

/// The JSON of a live candle (docs/redis.md):
/// `{"symbol":"SCOM","interval":"1m","bucket":"2026-01-05T06:00:00.000Z","open":23.10,"high":23.15,"low":23.10,"close":23.15,"volume":1200,"ticks":3,"turnover":27750.00,"vwap":23.1250,"seq":17}`.
/// Decimals are exact, as the candle views print them; a bucket with no trade left has null
/// prices and vwap, volume and ticks 0.
public enum CandleMessage {
    /// Appends the message without its `seq` and closing brace (Redis adds both: the seq is the
    /// channel's, taken when it is published).
    public static func appendBody(_ update: CandleUpdate, to out: inout [UInt8]) {
        JSONText.appendLiteral(#"{"symbol":"#, to: &out)
        JSONText.appendString(update.symbol.rawValue, to: &out)
        JSONText.appendLiteral(#","interval":"#, to: &out)
        JSONText.appendString(update.interval.rawValue, to: &out)
        JSONText.appendLiteral(#","bucket":""#, to: &out)
        update.bucket.writeRFC3339(to: &out, fractionDigits: 3)
        guard let candle = update.candle else {
            JSONText.appendLiteral(#"","open":null,"high":null,"low":null,"close":null,"volume":0,"ticks":0,"turnover":0,"vwap":null"#, to: &out)
            return
        }
        out.append(UInt8(ascii: "\""))
        TickMessage.appendPrices(open: candle.open, high: candle.high, low: candle.low, close: candle.close, to: &out)
        JSONText.appendLiteral(#","volume":"#, to: &out)
        JSONText.appendInteger(candle.volume, to: &out)
        JSONText.appendLiteral(#","ticks":"#, to: &out)
        JSONText.appendInteger(candle.ticks, to: &out)
        JSONText.appendLiteral(#","turnover":"#, to: &out)
        out.append(contentsOf: candle.turnover.description.utf8)
        JSONText.appendLiteral(#","vwap":"#, to: &out)
        out.append(contentsOf: (candle.vwap?.description ?? "null").utf8)
    }
}
