/// How a CSV source's columns are named.
public enum CSVHeaderMode: String, Sendable, CaseIterable {
    /// The first line is a header when one of its cells names the time or symbol field.
    case auto
    /// The first line is always a header.
    case present
    /// No header: columns follow the configured order.
    case absent
}

/// CSV options of one source.
public struct CSVOptions: Sendable, Equatable {
    /// Field separator: `,` (default), `;`, `\t` or `|`.
    public var delimiter: UInt8
    public var header: CSVHeaderMode
    /// Column order of headerless CSV.
    public var columns: [TickField]

    public static let defaultColumns: [TickField] = [.time, .symbol, .open, .high, .low, .close, .volume]

    public init(delimiter: UInt8 = UInt8(ascii: ","), header: CSVHeaderMode = .auto,
                columns: [TickField] = CSVOptions.defaultColumns) {
        self.delimiter = delimiter
        self.header = header
        self.columns = columns
    }
}

/// Decodes CSV lines (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`) into `RawRecord`s.
///
/// A record is one line: a quoted field cannot span lines (an unterminated quote is a syntax
/// error for that line only). Works on bytes; quoted fields with doubled quotes are unescaped
/// into scratch space, every other field is a view into the line.
public struct CSVDecoder {
    public let options: CSVOptions
    /// Column index → field, once known (from the header or the configured order).
    public private(set) var mapping: [TickField?]?
    private var symbolColumn: Int?
    private var timeColumn: Int?
    private var splitter: CSVSplitter

    public init(options: CSVOptions, maxLineBytes: Int = 64 * 1024) {
        self.options = options
        splitter = CSVSplitter(delimiter: options.delimiter, maxLineBytes: maxLineBytes)
        if options.header == .absent { useConfiguredColumns() }
    }

    /// What a line turned out to be.
    public enum Outcome {
        case record
        case header
    }

    /// Decodes one line (no line end) into `record`.
    public mutating func decode(_ line: UnsafeBufferPointer<UInt8>, into record: inout RawRecord) throws(SyntaxError) -> Outcome {
        try splitter.split(line)
        let cells = splitter.cells
        if mapping == nil {
            if options.header == .present || Self.looksLikeHeader(cells) {
                adoptHeader(cells)
                return .header
            }
            useConfiguredColumns()
        } else if options.header != .absent, let symbol = symbolColumn, let time = timeColumn,
                  symbol < cells.count, time < cells.count,
                  TickField.named(cells[symbol]) != nil, TickField.named(cells[time]) != nil {
            // A header again (concatenated files): where symbol and time belong there are field
            // names. Take it; it may order the columns differently.
            adoptHeader(cells)
            return .header
        }
        record.clear()
        let mapping = self.mapping!
        for index in 0..<Swift.min(cells.count, mapping.count) {
            guard let field = mapping[index] else { continue }
            record[field] = cells[index].isEmpty ? nil : cells[index]
        }
        return .record
    }

    private mutating func adoptHeader(_ cells: [UnsafeBufferPointer<UInt8>]) {
        setMapping(cells.map { TickField.named($0) })
    }

    private mutating func useConfiguredColumns() {
        setMapping(options.columns.map { Optional($0) })
    }

    private mutating func setMapping(_ fields: [TickField?]) {
        mapping = fields
        symbolColumn = fields.firstIndex(of: .symbol)
        timeColumn = fields.firstIndex(of: .time)
    }

    static func looksLikeHeader(_ cells: [UnsafeBufferPointer<UInt8>]) -> Bool {
        cells.contains { cell in
            let field = TickField.named(cell)
            return field == .time || field == .symbol
        }
    }
}

/// Splits one CSV line into cells (RFC 4180 quoting). Cells are views into the line, or into
/// scratch space for quoted cells with doubled quotes; valid until the next `split`.
public struct CSVSplitter {
    public let delimiter: UInt8
    /// The cells of the last line split.
    public private(set) var cells: [UnsafeBufferPointer<UInt8>] = []
    private let scratch: ScratchBuffer

    public init(delimiter: UInt8 = UInt8(ascii: ","), maxLineBytes: Int = 64 * 1024) {
        self.delimiter = delimiter
        scratch = ScratchBuffer(capacity: maxLineBytes + 1)
        cells.reserveCapacity(16)
    }

    /// Splits a line of text into cell strings (for small files such as the instrument list).
    public static func cells(of line: String, delimiter: UInt8 = UInt8(ascii: ",")) throws(SyntaxError) -> [String] {
        var bytes = Array(line.utf8)
        var splitter = CSVSplitter(delimiter: delimiter, maxLineBytes: bytes.count)
        return try bytes.withUnsafeMutableBufferPointer { (buffer) throws(SyntaxError) -> [String] in
            try splitter.split(UnsafeBufferPointer(buffer))
            return splitter.cells.map { String(decoding: $0, as: UTF8.self) }
        }
    }

    public mutating func split(_ line: UnsafeBufferPointer<UInt8>) throws(SyntaxError) {
        cells.removeAll(keepingCapacity: true)
        scratch.reset()
        let delimiter = self.delimiter
        let n = line.count
        guard let base = line.baseAddress else {
            cells.append(UnsafeBufferPointer(start: nil, count: 0))
            return
        }
        var i = 0
        while true {
            // Blanks before an opening quote are ignored: ` "EQTY" ` is the quoted field EQTY.
            var q = i
            while q < n && (line[q] == 0x20 || line[q] == 0x09) && line[q] != delimiter { q += 1 }
            if q < n && line[q] == UInt8(ascii: "\"") {
                i = try quotedField(line, from: q + 1)
                var j = i
                while j < n && line[j] != delimiter && (line[j] == 0x20 || line[j] == 0x09) { j += 1 }
                if j < n && line[j] != delimiter {
                    throw .csv("unexpected character after a closing quote at byte \(j + 1)")
                }
                i = j
            } else {
                let start = i
                while i < n && line[i] != delimiter { i += 1 }
                cells.append(UnsafeBufferPointer(start: base + start, count: i - start))
            }
            if i >= n { return }
            i += 1 // skip the delimiter
            if i == n { cells.append(UnsafeBufferPointer(start: base + n, count: 0)); return }
        }
    }

    /// Reads a quoted field whose content starts at `from`; returns the index after the closing quote.
    private mutating func quotedField(_ line: UnsafeBufferPointer<UInt8>, from: Int) throws(SyntaxError) -> Int {
        let n = line.count
        var r = from
        // Fast path: no doubled quote inside — the field is a view into the line.
        while r < n && line[r] != UInt8(ascii: "\"") { r += 1 }
        guard r < n else { throw .csv("unterminated quoted field") }
        if r + 1 >= n || line[r + 1] != UInt8(ascii: "\"") {
            cells.append(UnsafeBufferPointer(rebasing: line[from..<r]))
            return r + 1
        }
        // Slow path: unescape "" into scratch space.
        let out = scratch.base + scratch.used
        var w = 0
        r = from
        while r < n {
            let c = line[r]
            if c == UInt8(ascii: "\"") {
                if r + 1 < n && line[r + 1] == UInt8(ascii: "\"") {
                    out[w] = c; w += 1; r += 2
                    continue
                }
                scratch.used += w
                cells.append(UnsafeBufferPointer(start: out, count: w))
                return r + 1
            }
            out[w] = c; w += 1; r += 1
        }
        throw .csv("unterminated quoted field")
    }
}
