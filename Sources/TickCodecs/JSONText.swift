/// Writing JSON text into byte buffers.
public enum JSONText {
    /// Appends `bytes` as a JSON string literal (with quotes). Bytes are expected to be valid
    /// UTF-8; control characters, `"` and `\` are escaped.
    public static func appendString<C: Collection<UInt8>>(_ bytes: C, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in bytes {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(c >> 4)], hex[Int(c & 15)]])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends the decimal digits of `value` (and a leading `-`), with no intermediate string.
    public static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var rest = value.magnitude
        var digits = 1
        var probe = rest
        while probe >= 10 { probe /= 10; digits += 1 }
        let end = out.count + digits
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var position = end - 1
        while true {
            out[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            if rest == 0 { break }
            position -= 1
        }
    }

    /// Appends a literal's bytes (field names and punctuation), with no intermediate array.
    public static func appendLiteral(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Appends a Swift string as a JSON string literal.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        appendString(text.utf8, to: &out)
    }
}
