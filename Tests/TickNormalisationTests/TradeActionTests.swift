import Testing
import TickCodecs
import TickModel
import TickNormalisation

/// The `action` field (aliases `type`, `event`): trades, corrections and cancels in CSV and NDJSON.
@Suite struct TradeActionTests {
    static func outcome(_ decoder: inout FeedDecoder, _ line: String) -> Result<Tick, Reject>? {
        var bytes = Array(line.utf8)
        let outcome = bytes.withUnsafeMutableBufferPointer { decoder.decode(UnsafeBufferPointer($0)) }
        switch outcome {
        case .tick(let tick): return .success(tick)
        case .reject(let reject): return .failure(reject)
        default: return nil
        }
    }

    static func decoder(_ format: FeedFormat) -> FeedDecoder {
        FeedDecoder(format: format, csv: CSVOptions(), normaliser: Normaliser(symbols: SymbolRules(known: ["SCOM"]),
                                                                                now: Timestamp(secondsSinceEpoch: 1_800_000_000)), maxLineBytes: 4096)
    }

    @Test func csvRecordsNameTheirActionAndACancelNeedsNoPrice() throws {
        var decoder = Self.decoder(.csv)
        #expect(Self.outcome(&decoder, "time,symbol,price,volume,trade_id,Type") == nil)
        let trade = try #require(try Self.outcome(&decoder, "2026-01-05T07:00:00Z,SCOM,23.10,100,7,")?.get())
        #expect(trade.action == .trade && trade.feedSequence == 7)
        let corrected = try Self.outcome(&decoder, "2026-01-05T07:00:05Z,SCOM,23.15,200,7, Correction ")?.get()
        #expect(corrected?.action == .correct && corrected?.close == Price(units: 2315, scale: 2) && corrected?.volume == 200)
        let cancel = try Self.outcome(&decoder, "2026-01-05T07:01:00Z,SCOM,,,7,CANCEL")?.get()
        #expect(cancel?.action == .cancel && cancel?.feedSequence == 7 && cancel?.symbol == "SCOM")
        // A cancel's prices, if sent, are not read; its trade id is required, as a correction's.
        #expect(try Self.outcome(&decoder, "2026-01-05T07:01:00Z,SCOM,abc,,7,cancelled")?.get().action == .cancel)
        #expect(Self.outcome(&decoder, "2026-01-05T07:01:00Z,SCOM,,,,cancel") == .failure(Reject(.missingField, "a cancel names its trade by trade_id (seq), which is missing")))
        #expect(Self.outcome(&decoder, "2026-01-05T07:01:00Z,SCOM,23.10,100,,correct") == .failure(Reject(.missingField, "a correct names its trade by trade_id (seq), which is missing")))
        #expect(Self.outcome(&decoder, "2026-01-05T07:01:00Z,SCOM,23.10,100,7,bust") == .failure(Reject(.unknownAction, "action 'bust' is not trade, correct, cancel or status")))
        #expect(Self.outcome(&decoder, "2026-01-05T07:01:00Z,SCOM,,,x,cancel") == .failure(Reject(.badNumber, "seq 'x' is not a whole number")))
    }

    @Test func ndjsonRecordsTakeTheActionUnderAnyOfItsNames() throws {
        var decoder = Self.decoder(.ndjson)
        let cancel = try Self.outcome(&decoder, #"{"ts":"2026-01-05T07:01:00Z","sym":"SCOM","trade_id":9,"event":"cancel"}"#)?.get()
        #expect(cancel?.action == .cancel && cancel?.feedSequence == 9)
        let corrected = try Self.outcome(&decoder, #"{"time":"2026-01-05T07:01:00Z","symbol":"SCOM","price":"23.20","qty":5,"seq":9,"action":"correct"}"#)?.get()
        #expect(corrected?.action == .correct && corrected?.volume == 5)
        #expect(try Self.outcome(&decoder, #"{"time":"2026-01-05T07:01:00Z","symbol":"SCOM","price":23.2,"size":5,"action":null}"#)?.get().action == .trade)
        #expect(try Self.outcome(&decoder, #"{"time":"2026-01-05T07:01:00Z","symbol":"SCOM","price":23.2,"size":5,"type":""}"#)?.get().action == .trade)
    }

    @Test func statusRecordsNameAnInstrumentOrTheMarket() throws {
        var decoder = Self.decoder(.csv)
        #expect(Self.outcome(&decoder, "time,symbol,price,volume,trade_id,action,status") == nil)
        let halted = try Self.outcome(&decoder, "2026-01-05T07:00:00Z,scom,,,,status, Halted ")?.get()
        #expect(halted == .status(.halted, of: "SCOM", at: Timestamp(secondsSinceEpoch: 1_767_596_400)))
        for market in ["", "*", "market"] {
            let phase = try Self.outcome(&decoder, "2026-01-05T06:30:00Z,\(market),,,,status,pre-open")?.get()
            #expect(phase?.symbol == TradingStatus.market && phase?.status == .preOpen && phase?.action == .status)
        }
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:00Z,SCOM,,,,status,open")
                == .failure(Reject(.unknownStatus, "an instrument is halted, suspended or resumed; open is a market phase")))
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:00Z,,,,,status,suspended")
                == .failure(Reject(.unknownStatus, "the market is pre_open, open, closed, halted or resumed, not suspended")))
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:00Z,SCOM,,,,status,frozen")
                == .failure(Reject(.unknownStatus, "status 'frozen' is not halted, suspended, resumed, pre_open, open or closed")))
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:00Z,SCOM,,,,status,") == .failure(Reject(.missingField, "a status record's status is missing")))
        // The listing applies to instruments, as for trades.
        #expect(Self.outcome(&decoder, "2026-01-05T07:00:00Z,NOPE,,,,status,halted") == .failure(Reject(.unknownSymbol, "'NOPE' is not a listed instrument")))
        var ndjson = Self.decoder(.ndjson)
        let suspended = try Self.outcome(&ndjson, #"{"ts":"2026-01-05T07:00:00Z","sym":"SCOM","type":"status","state":"suspended"}"#)?.get()
        #expect(suspended?.status == .suspended && suspended?.action == .status)
    }
}
