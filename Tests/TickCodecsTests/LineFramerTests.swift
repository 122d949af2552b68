import Testing
import TickCodecs

/// Collects what a framer hands out, as text, for assertions.
struct FramedCollector {
    var lines: [String] = []
    var numbers: [Int] = []

    mutating func take(_ framed: FramedLine, _ number: Int) {
        numbers.append(number)
        switch framed {
        case .line(let bytes): lines.append(String(decoding: bytes, as: UTF8.self))
        case .overLong(let prefix, let length): lines.append("<too long \(length): \(String(decoding: prefix, as: UTF8.self))>")
        }
    }
}

func frame(_ text: [UInt8], maxLineBytes: Int, prefix: Int = 4, chunk: Int) -> FramedCollector {
    var framer = LineFramer(maxLineBytes: maxLineBytes, overLongPrefixBytes: prefix)
    var collector = FramedCollector()
    var offset = 0
    while offset < text.count {
        let end = min(offset + chunk, text.count)
        text[offset..<end].withUnsafeBytes { framer.feed($0) { collector.take($0, $1) } }
        offset = end
    }
    framer.finish { collector.take($0, $1) }
    return collector
}

@Suite struct LineFramerTests {
    @Test(arguments: [1, 2, 3, 5, 64, 1000])
    func splitsLinesAcrossChunks(chunk: Int) {
        let input = Array("\u{FEFF}a,b\r\n\nccc\nlast".utf8)
        let got = frame(input, maxLineBytes: 10, chunk: chunk)
        #expect(got.lines == ["a,b", "", "ccc", "last"])
        #expect(got.numbers == [1, 2, 3, 4])
    }

    @Test(arguments: [1, 3, 7, 100, 10_000])
    func skipsOverLongLinesAndKeepsGoing(chunk: Int) {
        let long = String(repeating: "x", count: 5000)
        let input = Array("ok1\n\(long)\nok2\n12345678\n123456789\n1234567\r\n".utf8)
        let got = frame(input, maxLineBytes: 8, chunk: chunk)
        #expect(got.lines == ["ok1", "<too long 5000: xxxx>", "ok2", "12345678", "<too long 9: 1234>", "1234567"])
        #expect(got.numbers == [1, 2, 3, 4, 5, 6])
    }

    @Test func overLongLastLineWithoutNewline() {
        let got = frame(Array("a\nbbbbbbbbbbbb".utf8), maxLineBytes: 4, chunk: 3)
        #expect(got.lines == ["a", "<too long 12: bbbb>"])
    }

    @Test func bomIsOnlyDroppedAtStreamStart() {
        let got = frame(Array("x\n\u{FEFF}y\n".utf8), maxLineBytes: 100, chunk: 100)
        #expect(got.lines == ["x", "\u{FEFF}y"])
    }
}
