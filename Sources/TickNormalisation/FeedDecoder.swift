import TickCodecs
import TickModel

/// What one line of a feed became.
public enum LineOutcome {
    case tick(Tick)
    case reject(Reject)
    /// A CSV header line; not a record.
    case header
    /// An empty or blank line; not a record.
    case blank
}

/// Decodes and normalises the lines of one source (one file or one connection): UTF-8 check,
/// format choice, CSV or NDJSON decoding, normalisation. Holds the per-source state (the CSV
/// header) — use one per source.
public struct FeedDecoder {
    public let format: FeedFormat
    public var normaliser: Normaliser
    private var csv: CSVDecoder
    private let json: NDJSONDecoder
    private var record = RawRecord()
    /// The CSV header line in effect (a copy), so a rejected CSV line can be read again later
    /// (`tickd redrive`) with the columns it was sent under.
    public private(set) var csvHeader: [UInt8]?

    public init(format: FeedFormat, csv options: CSVOptions, normaliser: Normaliser, maxLineBytes: Int) {
        self.format = format
        self.normaliser = normaliser
        csv = CSVDecoder(options: options, maxLineBytes: maxLineBytes)
        json = NDJSONDecoder(maxLineBytes: maxLineBytes)
    }

    /// Decodes one framed line (without its line end).
    public mutating func decode(_ line: UnsafeBufferPointer<UInt8>) -> LineOutcome {
        var first = 0
        while first < line.count && (line[first] == 0x20 || line[first] == 0x09) { first += 1 }
        if first == line.count { return .blank }
        guard UTF8Check.isValid(line) else { return .reject(Reject(.invalidUTF8, "the line is not valid UTF-8")) }
        let isJSON: Bool
        switch format {
        case .csv: isJSON = false
        case .ndjson: isJSON = true
        case .auto: isJSON = line[first] == UInt8(ascii: "{")
        }
        do throws(SyntaxError) {
            if isJSON {
                try json.decode(line, into: &record)
            } else if try csv.decode(line, into: &record) == .header {
                csvHeader = Array(line)
                return .header
            }
        } catch {
            switch error {
            case .csv(let why): return .reject(Reject(.malformedCSV, why))
            case .json(let why): return .reject(Reject(.malformedJSON, why))
            }
        }
        switch normaliser.normalise(record) {
        case .success(let tick): return .tick(tick)
        case .failure(let reject): return .reject(reject)
        }
    }
}

/// UTF-8 validation with an ASCII fast path.
public enum UTF8Check {
    public static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        let raw = UnsafeRawPointer(base)
        while i + 8 <= n {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        while i < n && bytes[i] < 0x80 { i += 1 }
        if i == n { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }
}
