#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TickCodecs
import TickNormalisation

/// Appends rejected records to a JSON-lines file, one object per reject:
/// `{"source":"feed.csv","line":12,"reason":"negative_price","detail":"…","raw":"…"}`.
///
/// `raw` is the line as received; a line that is not valid UTF-8 has `raw` with U+FFFD for
/// the bad bytes and `raw_hex` with the exact bytes; an over-long line keeps only its first
/// bytes and says `"truncated":true,"length":N`; a CSV line read under a header line has it as
/// `header` (what `tickd redrive` needs to read the line again). Writes are buffered and reach the file when
/// 64 KiB gather, a second has passed since the last write, or on `flush()`. Safe to share
/// between sources: a lock serialises records.
public final class DeadLetterFile: RejectRecorder, Sendable {
    public let path: String
    private let fd: Int32

    /// Records not yet written, and when the file was last written.
    private struct Pending {
        var buffer: [UInt8] = []
        var lastWrite = ContinuousClock.now
        var recordCount = 0
    }
    private let pending: Mutex<Pending>

    /// Records written so far.
    public var written: Int { pending.withLock { $0.recordCount } }

    /// Opens (creating, appending) the file at `path`.
    public init(path: String) throws(DeadLetterError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DeadLetterError(path: path, message: String(cString: strerror(errno))) }
        self.fd = fd
        var first = Pending()
        first.buffer.reserveCapacity(1 << 16)
        pending = Mutex(first)
    }

    deinit {
        try? pending.withLock { pending throws(DeadLetterError) in try write(&pending) }
        Glibc.close(fd)
    }

    /// Records one reject. `raw` is the line as received (or its kept prefix when `length` is larger).
    public func record(source: String, line: Int, reject: Reject, raw: UnsafeBufferPointer<UInt8>,
                       length: Int? = nil, header: [UInt8]? = nil) throws(DeadLetterError) {
        try pending.withLock { pending throws(DeadLetterError) in
            Self.append(source: source, line: line, reject: reject, raw: raw, length: length, header: header, to: &pending.buffer)
            pending.recordCount += 1
            if pending.buffer.count >= 1 << 16 || ContinuousClock.now - pending.lastWrite > .seconds(1) { try write(&pending) }
        }
    }

    private static func append(source: String, line: Int, reject: Reject, raw: UnsafeBufferPointer<UInt8>,
                               length: Int?, header: [UInt8]?, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: Array(#"{"source":"#.utf8))
        JSONText.appendString(source, to: &buffer)
        buffer.append(contentsOf: Array(#","line":\#(line),"reason":"#.utf8))
        JSONText.appendString(reject.reason.rawValue, to: &buffer)
        buffer.append(contentsOf: Array(#","detail":"#.utf8))
        JSONText.appendString(reject.detail, to: &buffer)
        buffer.append(contentsOf: Array(#","raw":"#.utf8))
        if UTF8Check.isValid(raw) {
            JSONText.appendString(raw, to: &buffer)
        } else {
            JSONText.appendString(String(decoding: raw, as: UTF8.self), to: &buffer)
            buffer.append(contentsOf: Array(#","raw_hex":""#.utf8))
            let hex = Array("0123456789abcdef".utf8)
            for byte in raw { buffer.append(hex[Int(byte >> 4)]); buffer.append(hex[Int(byte & 15)]) }
            buffer.append(UInt8(ascii: "\""))
        }
        if let length, length > raw.count {
            buffer.append(contentsOf: Array(#","truncated":true,"length":\#(length)"#.utf8))
        }
        if let header {
            buffer.append(contentsOf: Array(#","header":"#.utf8))
            JSONText.appendString(header, to: &buffer)
        }
        buffer.append(contentsOf: Array("}\n".utf8))
    }

    /// Writes buffered records to the file.
    public func flush() throws(DeadLetterError) {
        try pending.withLock { pending throws(DeadLetterError) in try write(&pending) }
    }

    private func write(_ pending: inout Pending) throws(DeadLetterError) {
        pending.lastWrite = .now
        var offset = 0
        while offset < pending.buffer.count {
            let n = pending.buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DeadLetterError(path: path, message: String(cString: strerror(errno)))
            }
            offset += n
        }
        pending.buffer.removeAll(keepingCapacity: true)
    }
}

/// The dead-letter file could not be opened or written.
public struct DeadLetterError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "dead-letter file \(path): \(message)" }
}
