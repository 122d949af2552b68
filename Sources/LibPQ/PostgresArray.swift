/// PostgreSQL's text form of a one-dimensional array, to pass a list as one parameter
/// (`= ANY($1::text[])`, `unnest($1::int8[])`): the one encoder of tickd.
public enum PostgresArray {
    /// Every element double-quoted, with `"` and `\` escaped: right for any text (commas,
    /// braces, quotes, white space, the word NULL, the empty string).
    public static func text(_ values: some Sequence<String>) -> String {
        var out = "{"
        var first = true
        for value in values {
            if !first { out += "," }
            first = false
            out += "\""
            for scalar in value.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { out.unicodeScalars.append("\\") }
                out.unicodeScalars.append(scalar)
            }
            out += "\""
        }
        return out + "}"
    }

    /// Whole numbers.
    public static func int64(_ values: some Sequence<Int64>) -> String {
        plain(values.lazy.map(String.init))
    }

    /// Elements whose text needs no quoting — numbers and RFC 3339 times, which hold none of
    /// `,{}"\` nor white space — joined as they are: the batch path's arrays, without the cost of
    /// quoting each element. Text of any other kind goes through `text(_:)`.
    public static func plain(_ elements: some Sequence<String>) -> String {
        var out = "{"
        var first = true
        for element in elements {
            assert(!element.isEmpty && !element.utf8.contains { Self.needsQuoting($0) }, "\(element) needs quoting")
            if !first { out += "," }
            first = false
            out += element
        }
        return out + "}"
    }

    static func needsQuoting(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: " "),
             UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): true
        default: false
        }
    }
}
