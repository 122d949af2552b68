/// Decodes one JSON object per line into a `RawRecord`.
///
/// Keys match field names and aliases case-insensitively; unknown keys are skipped whatever
/// their value. Values may be numbers or strings (`"23.10"`); `null` counts as absent. Strings
/// with escapes are unescaped into scratch space; everything else is a view into the line.
public struct NDJSONDecoder {
    private let scratch: ScratchBuffer

    public init(maxLineBytes: Int = 64 * 1024) {
        scratch = ScratchBuffer(capacity: maxLineBytes + 1)
    }

    public func decode(_ line: UnsafeBufferPointer<UInt8>, into record: inout RawRecord) throws(SyntaxError) {
        record.clear()
        scratch.reset()
        var parser = Cursor(bytes: line, scratch: scratch)
        parser.skipSpace()
        try parser.expect(UInt8(ascii: "{"))
        parser.skipSpace()
        if parser.peek() == UInt8(ascii: "}") {
            parser.index += 1
        } else {
            while true {
                parser.skipSpace()
                let key = try parser.string()
                parser.skipSpace()
                try parser.expect(UInt8(ascii: ":"))
                parser.skipSpace()
                let field = TickField.named(key)
                let value = try parser.value()
                if let field { record[field] = value }
                parser.skipSpace()
                guard let next = parser.peek() else { throw .json("unexpected end of line inside an object") }
                parser.index += 1
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw .json("expected ',' or '}' at byte \(parser.index)") }
            }
        }
        parser.skipSpace()
        guard parser.index == line.count else { throw .json("unexpected text after the object at byte \(parser.index + 1)") }
    }
}

/// A forward-only reader over one JSON line.
private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    let scratch: ScratchBuffer
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>, scratch: ScratchBuffer) {
        self.bytes = bytes
        self.scratch = scratch
    }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpace() {
        while index < bytes.count {
            let c = bytes[index]
            guard c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A else { return }
            index += 1
        }
    }

    mutating func expect(_ c: UInt8) throws(SyntaxError) {
        guard peek() == c else {
            throw .json("expected '\(Character(Unicode.Scalar(c)))' at byte \(index + 1)")
        }
        index += 1
    }

    /// A scalar value's bytes (string content or number/literal token), nil for null;
    /// nested objects and arrays are skipped and give an empty view (an invalid value).
    mutating func value() throws(SyntaxError) -> UnsafeBufferPointer<UInt8>? {
        guard let c = peek() else { throw .json("missing value at end of line") }
        switch c {
        case UInt8(ascii: "\""):
            return try string()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipNested()
            return UnsafeBufferPointer(rebasing: bytes[index..<index])
        default:
            let start = index
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == 0x20 || b == 0x09 || b == UInt8(ascii: "]") { break }
                index += 1
            }
            guard index > start else { throw .json("missing value at byte \(start + 1)") }
            let token = UnsafeBufferPointer(rebasing: bytes[start..<index])
            if token.count == 4 && token[0] == UInt8(ascii: "n") && token[1] == UInt8(ascii: "u")
                && token[2] == UInt8(ascii: "l") && token[3] == UInt8(ascii: "l") { return nil }
            return token
        }
    }

    /// A string's content; escapes are decoded into scratch space.
    mutating func string() throws(SyntaxError) -> UnsafeBufferPointer<UInt8> {
        try expect(UInt8(ascii: "\""))
        let start = index
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                defer { index += 1 }
                return UnsafeBufferPointer(rebasing: bytes[start..<index])
            }
            if c == UInt8(ascii: "\\") { return try escapedString(from: start) }
            if c < 0x20 { throw .json("control character in a string at byte \(index + 1)") }
            index += 1
        }
        throw .json("unterminated string")
    }

    private mutating func escapedString(from start: Int) throws(SyntaxError) -> UnsafeBufferPointer<UInt8> {
        let out = scratch.base + scratch.used
        var w = 0
        for k in start..<index { out[w] = bytes[k]; w += 1 }
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                index += 1
                scratch.used += w
                return UnsafeBufferPointer(start: out, count: w)
            }
            if c < 0x20 { throw .json("control character in a string at byte \(index + 1)") }
            guard c == UInt8(ascii: "\\") else { out[w] = c; w += 1; index += 1; continue }
            guard index + 1 < bytes.count else { break }
            let e = bytes[index + 1]
            index += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out[w] = e; w += 1
            case UInt8(ascii: "b"): out[w] = 0x08; w += 1
            case UInt8(ascii: "f"): out[w] = 0x0C; w += 1
            case UInt8(ascii: "n"): out[w] = 0x0A; w += 1
            case UInt8(ascii: "r"): out[w] = 0x0D; w += 1
            case UInt8(ascii: "t"): out[w] = 0x09; w += 1
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw .json("lone surrogate in \\u escape") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw .json("bad surrogate pair in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw .json("lone surrogate in \\u escape")
                }
                for byte in UTF8.encode(Unicode.Scalar(scalar)!)! { out[w] = byte; w += 1 }
            default:
                throw .json("bad escape '\\\(Character(Unicode.Scalar(e)))' at byte \(index - 1)")
            }
        }
        throw .json("unterminated string")
    }

    private mutating func hex4() throws(SyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .json("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - 55)
            default: throw .json("bad hex digit in \\u escape")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    private mutating func skipNested() throws(SyntaxError) {
        var depth = 0
        while index < bytes.count {
            let c = bytes[index]
            switch c {
            case UInt8(ascii: "\""):
                _ = try string()
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { index += 1; return }
            default: break
            }
            index += 1
        }
        throw .json("unterminated nested value")
    }
}
