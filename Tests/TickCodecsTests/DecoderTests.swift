import Testing
import TickCodecs

func text(_ view: UnsafeBufferPointer<UInt8>?) -> String? { view.map { String(decoding: $0, as: UTF8.self) } }

@Suite struct CSVDecoderTests {
    @Test func cellsOfALine() throws {
        #expect(try CSVSplitter.cells(of: #"a,"b,c","d ""e""",,"#) == ["a", "b,c", #"d "e""#, "", ""])
        #expect(try CSVSplitter.cells(of: "") == [""])
        #expect(try CSVSplitter.cells(of: "x;y", delimiter: UInt8(ascii: ";")) == ["x", "y"])
        #expect(throws: SyntaxError.self) { try CSVSplitter.cells(of: #""abc"#) }
    }

    @Test func headerMapsColumnsAndExtraColumnsAreIgnored() throws {
        var decoder = CSVDecoder(options: CSVOptions())
        var record = RawRecord()
        let header = Array("Ticker,TIMESTAMP,Last,qty,exchange".utf8)
        let row = Array("SCOM,2026-01-05T06:00:00Z,23.10,100,NSE,extra".utf8)
        let first = try header.withUnsafeBufferPointer { (b) throws(SyntaxError) -> CSVDecoder.Outcome in
            try decoder.decode(b, into: &record)
        }
        #expect(first == .header)
        try row.withUnsafeBufferPointer { (b) throws(SyntaxError) in
            let outcome = try decoder.decode(b, into: &record)
            #expect(outcome == .record)
            #expect(text(record[.symbol]) == "SCOM")
            #expect(text(record[.time]) == "2026-01-05T06:00:00Z")
            #expect(text(record[.price]) == "23.10")
            #expect(text(record[.volume]) == "100")
            #expect(record[.open] == nil)
        }
    }
}

@Suite struct NDJSONDecoderTests {
    @Test func unescapesIntoScratchAndLeavesTheLineIntact() throws {
        let decoder = NDJSONDecoder()
        var record = RawRecord()
        let original = #"{"SYMBOL":"S\u0043OM\/x","price":"23.10","ts":1767592800,"x":[1,"]"]}"#
        let bytes = Array(original.utf8)
        try bytes.withUnsafeBufferPointer { (buffer) throws(SyntaxError) in
            try decoder.decode(buffer, into: &record)
            #expect(text(record[.symbol]) == "SCOM/x")
            #expect(text(record[.price]) == "23.10")
            #expect(text(record[.time]) == "1767592800")
        }
        #expect(String(decoding: bytes, as: UTF8.self) == original)
    }

    @Test(arguments: ["", "[]", "{", #"{"a":}"#, #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":"x"} x"#, #"{"a":"\x"}"#, "{\"a\":\"\u{1}\"}"])
    func rejectsMalformedJSON(line: String) {
        let decoder = NDJSONDecoder()
        var record = RawRecord()
        let bytes = Array(line.utf8)
        let failed = bytes.withUnsafeBufferPointer { buffer -> Bool in
            do { try decoder.decode(buffer, into: &record); return false } catch { return true }
        }
        #expect(failed)
    }
}
