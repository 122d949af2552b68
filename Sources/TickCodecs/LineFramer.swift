#if canImport(Glibc)
import Glibc
#endif

/// One framed line as the framer hands it over.
public enum FramedLine {
    /// A complete line without its `\n` (and without a trailing `\r`). Valid only during the callback.
    case line(UnsafeBufferPointer<UInt8>)
    /// A line longer than the limit: only its first bytes are kept; the rest was skipped, not buffered.
    case overLong(prefix: UnsafeBufferPointer<UInt8>, length: Int)
}

/// Splits a byte stream into lines, with a length limit.
///
/// Lines wholly inside a chunk are handed out in place (no copy); only a line that spans chunks
/// is carried, and never more than `maxLineBytes` of it: past the limit the framer skips to the
/// next newline, keeping just a short prefix for the dead-letter record. A UTF-8 BOM at the start
/// of the stream is dropped. Line numbers are 1-based and count every physical line.
public struct LineFramer {
    /// The longest line accepted, in bytes, not counting the line end.
    public let maxLineBytes: Int
    /// How many bytes of an over-long line are kept for diagnostics.
    public let overLongPrefixBytes: Int
    /// Number of the line most recently handed out.
    public private(set) var lineNumber = 0
    /// Stream offset just past the line most recently handed out (past its `\n`, if it had one):
    /// where a reader resumes to read the lines after it.
    public private(set) var lineEnd: Int64 = 0

    /// Bytes fed before the current chunk.
    private var fedBefore: Int64 = 0

    private var carry: [UInt8] = []
    private var discarding = false
    private var discardedLength = 0
    private var atStreamStart = true

    public init(maxLineBytes: Int = 64 * 1024, overLongPrefixBytes: Int = 512) {
        precondition(maxLineBytes > 0)
        self.maxLineBytes = maxLineBytes
        self.overLongPrefixBytes = Swift.min(overLongPrefixBytes, maxLineBytes)
    }

    /// Feeds the next chunk; `body` receives each complete line with its line number.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer,
                              _ body: (FramedLine, Int) throws -> Void) rethrows {
        try feed(chunk, withEnds: { line, number, _ in try body(line, number) })
    }

    /// Hands out the last line when the stream did not end with a newline.
    public mutating func finish(_ body: (FramedLine, Int) throws -> Void) rethrows {
        try finish(withEnds: { line, number, _ in try body(line, number) })
    }

    /// Feeds the next chunk; `body` receives each complete line with its line number and the
    /// stream offset just past it (`lineEnd`).
    public mutating func feed(_ chunk: UnsafeRawBufferPointer,
                              withEnds body: (FramedLine, Int, Int64) throws -> Void) rethrows {
        guard let raw = chunk.baseAddress, chunk.count > 0 else { return }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        let count = chunk.count
        defer { fedBefore += Int64(count) }
        var start = 0
        while start < count {
            guard let hit = memchr(base + start, 0x0A, count - start) else {
                appendPartial(UnsafeBufferPointer(start: base + start, count: count - start))
                return
            }
            let end = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
            lineEnd = fedBefore + Int64(end + 1)
            if carry.isEmpty && !discarding {
                let length = end - start
                if length > maxLineBytes + 1 || (length == maxLineBytes + 1 && base[end - 1] != 0x0D) {
                    lineNumber += 1
                    atStreamStart = false
                    try body(.overLong(prefix: UnsafeBufferPointer(start: base + start, count: overLongPrefixBytes),
                                       length: length), lineNumber, lineEnd)
                } else {
                    try emit(UnsafeBufferPointer(start: base + start, count: length), body)
                }
            } else {
                appendPartial(UnsafeBufferPointer(start: base + start, count: end - start))
                try flushCarried(body)
            }
            start = end + 1
        }
    }

    /// `finish` with the end offset of the last line.
    public mutating func finish(withEnds body: (FramedLine, Int, Int64) throws -> Void) rethrows {
        lineEnd = fedBefore
        if !carry.isEmpty || discarding { try flushCarried(body) }
    }

    private mutating func flushCarried(_ body: (FramedLine, Int, Int64) throws -> Void) rethrows {
        if discarding {
            lineNumber += 1
            atStreamStart = false
            let length = discardedLength
            discarding = false
            discardedLength = 0
            try carry.withUnsafeBufferPointer { try body(.overLong(prefix: $0, length: length), lineNumber, lineEnd) }
        } else {
            let content = carry.last == 0x0D ? carry.count - 1 : carry.count
            if content > maxLineBytes {
                lineNumber += 1
                atStreamStart = false
                let keep = overLongPrefixBytes
                try carry.withUnsafeBufferPointer {
                    try body(.overLong(prefix: UnsafeBufferPointer(rebasing: $0.prefix(keep)), length: content), lineNumber, lineEnd)
                }
            } else {
                try carry.withUnsafeBufferPointer { try emit($0, body) }
            }
        }
        carry.removeAll(keepingCapacity: true)
    }

    private mutating func emit(_ line: UnsafeBufferPointer<UInt8>,
                               _ body: (FramedLine, Int, Int64) throws -> Void) rethrows {
        var line = line
        if line.count > 0 && line[line.count - 1] == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
        if atStreamStart {
            atStreamStart = false
            if line.count >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
                line = UnsafeBufferPointer(rebasing: line.dropFirst(3))
            }
        }
        lineNumber += 1
        try body(.line(line), lineNumber, lineEnd)
    }

    private mutating func appendPartial(_ piece: UnsafeBufferPointer<UInt8>) {
        if discarding {
            discardedLength += piece.count
            return
        }
        // A trailing "\r" is not content: allow one byte of slack for it.
        if carry.count + piece.count > maxLineBytes + 1 {
            discarding = true
            discardedLength = carry.count + piece.count
            let keep = Swift.max(0, overLongPrefixBytes - carry.count)
            carry.append(contentsOf: piece.prefix(keep))
            if carry.count > overLongPrefixBytes { carry.removeSubrange(overLongPrefixBytes...) }
        } else {
            carry.append(contentsOf: piece)
        }
    }
}
