import TickModel

/// What a decimal field held.
public enum DecimalParse: Equatable, Sendable {
    case value(Price)
    /// `NaN`, `Infinity`, `inf` and their signed forms.
    case nonFinite
    /// Not a decimal number, or out of range (more than 18 digits, scale over 18).
    case invalid
}

/// Parses decimal text straight from bytes into an exact `Price` (never through `Double`).
///
/// Accepts optional surrounding blanks, a sign, digits with an optional `.` fraction and an
/// optional exponent (`2.31E1` is 23.1). The scale is kept as written: `23.10` has scale 2.
public enum DecimalText {
    public static func parse(_ text: UnsafeBufferPointer<UInt8>) -> DecimalParse {
        var i = 0, end = text.count
        while i < end && isBlank(text[i]) { i += 1 }
        while end > i && isBlank(text[end - 1]) { end -= 1 }
        guard i < end else { return .invalid }
        var negative = false
        if text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") {
            negative = text[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < end else { return .invalid }
        if !isDigit(text[i]) && text[i] != UInt8(ascii: ".") {
            return isNonFiniteWord(UnsafeBufferPointer(rebasing: text[i..<end])) ? .nonFinite : .invalid
        }
        var units: Int64 = 0
        var digits = 0, fractionDigits = 0
        var seenPoint = false
        while i < end {
            let c = text[i]
            if isDigit(c) {
                let (times, o1) = units.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(Int64(c &- 48))
                if o1 || o2 { return .invalid }
                units = plus
                digits += 1
                if seenPoint { fractionDigits += 1 }
            } else if c == UInt8(ascii: ".") && !seenPoint {
                seenPoint = true
            } else {
                break
            }
            i += 1
        }
        guard digits > 0 else { return .invalid }
        var exponent = 0
        if i < end && (text[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < end && (text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+")) {
                expNegative = text[i] == UInt8(ascii: "-")
                i += 1
            }
            var expDigits = 0
            while i < end && isDigit(text[i]) {
                exponent = exponent * 10 + Int(text[i] &- 48)
                expDigits += 1
                if exponent > 400 { return .invalid }
                i += 1
            }
            guard expDigits > 0 else { return .invalid }
            if expNegative { exponent = -exponent }
        }
        guard i == end else { return .invalid }
        var scale = fractionDigits - exponent
        while scale < 0 {
            let (times, overflow) = units.multipliedReportingOverflow(by: 10)
            if overflow { return .invalid }
            units = times
            scale += 1
        }
        guard scale <= Int(Price.maxScale) else { return .invalid }
        return .value(Price(units: negative ? -units : units, scale: UInt8(scale)))
    }

    /// Parses a whole number (volume, sequence). `1000`, `1000.0` and `1e3` are 1000; `10.5` is invalid.
    public static func parseInteger(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard case .value(let price) = parse(text) else { return nil }
        var units = price.units
        for _ in 0..<price.scale {
            if units % 10 != 0 { return nil }
            units /= 10
        }
        return units
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- 48 < 10 }
    @inline(__always) static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    static func isNonFiniteWord(_ word: UnsafeBufferPointer<UInt8>) -> Bool {
        let lowered = word.map { $0 | 0x20 }
        return lowered == Array("nan".utf8) || lowered == Array("inf".utf8) || lowered == Array("infinity".utf8)
    }
}
