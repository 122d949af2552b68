#if canImport(Glibc)
import Glibc
#endif
import Zstd

/// The journal's files: `journal.id`, `journal.database` (the database it serves), and per segment `<first record, 20 digits>.seg` (being
/// written, or sealed but not compressed) or `….seg.zst` (sealed and compressed).
struct SegmentFiles {
    let directory: String

    func path(first: UInt64, compressed: Bool) -> String {
        let digits = String(first)
        return "\(directory)/\(String(repeating: "0", count: max(0, 20 - digits.count)))\(digits).seg\(compressed ? ".zst" : "")"
    }

    var identityPath: String { "\(directory)/journal.id" }
    var databasePath: String { "\(directory)/journal.database" }

    /// The segments on disk: first record number and whether compressed, oldest first. Removes
    /// leftovers of an interrupted seal (`.tmp`; a raw `.seg` whose `.seg.zst` is complete).
    func list() throws(JournalError) -> [(first: UInt64, compressed: Bool)] {
        guard let dir = opendir(directory) else { throw error(directory) }
        defer { closedir(dir) }
        var raw = Set<UInt64>(), compressed = Set<UInt64>()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".tmp") {
                unlink("\(directory)/\(name)")
            } else if name.hasSuffix(".seg.zst"), let first = UInt64(name.dropLast(8)) {
                compressed.insert(first)
            } else if name.hasSuffix(".seg"), let first = UInt64(name.dropLast(4)) {
                raw.insert(first)
            }
        }
        for first in raw.intersection(compressed) {
            unlink(path(first: first, compressed: false))
            raw.remove(first)
        }
        return (raw.map { ($0, false) } + compressed.map { ($0, true) }).sorted { $0.0 < $1.0 }
    }

    func readAll(_ path: String) throws(JournalError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw error(path) }
            if n == 0 { return out }
            out.append(contentsOf: buffer[..<n])
        }
    }

    /// Writes `bytes` to a new file atomically: a `.tmp` file, fsync, rename, fsync of the folder.
    func writeAtomically(_ bytes: [UInt8], to path: String) throws(JournalError) {
        try writeAtomically(to: path) { fd, temporary throws(JournalError) in try writeAll(fd, bytes, path: temporary) }
    }

    /// Writes the zstd-compressed copy of `source` to `path` atomically, streaming it 1 MiB at a
    /// time; returns the compressed size.
    func compress(_ source: String, to path: String, level: Int32) throws(JournalError) -> Int {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw error(source) }
        defer { close(input) }
        var written = 0
        try writeAtomically(to: path) { output, temporary throws(JournalError) in
            let compressor: ZstdCompressor
            do { compressor = try ZstdCompressor(level: level) } catch { throw JournalError(path: path, message: "\(error)") }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            let emit = { (piece: UnsafeRawBufferPointer) throws(JournalError) in
                try writeAll(output, Array(piece), path: temporary)
                written += piece.count
            }
            while true {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue }; throw error(source) }
                do {
                    if n == 0 { try compressor.finish(emit); return }
                    try buffer.withUnsafeBytes { try compressor.feed(UnsafeRawBufferPointer(rebasing: $0[..<n]), emit) }
                } catch let failure as JournalError { throw failure } catch { throw JournalError(path: path, message: "\(error)") }
            }
        }
        return written
    }

    /// Creates `path` atomically: `fill` writes a `.tmp` file (given its descriptor and name),
    /// then fsync, rename, fsync of the folder. On failure nothing is left behind.
    private func writeAtomically(to path: String, _ fill: (Int32, String) throws(JournalError) -> Void) throws(JournalError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw error(temporary) }
        do throws(JournalError) {
            try fill(fd, temporary)
            guard fsync(fd) == 0 else { throw error(temporary) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else { let failure = error(path); unlink(temporary); throw failure }
        syncDirectory()
    }

    func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(JournalError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 { if errno == EINTR { continue }; throw error(path) }
            written += n
        }
    }

    func syncDirectory() {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// The error of the last failed call, naming `path`.
    func error(_ path: String) -> JournalError {
        let code = errno
        return JournalError(path: path, message: String(cString: strerror(code)), isDiskFull: code == ENOSPC || code == EDQUOT)
    }
}
