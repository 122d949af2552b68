#if canImport(Glibc)
import Glibc
#endif
import Gzip
import Zstd

/// How a feed file is compressed, told from its first bytes (not its name).
public enum Compression: String, Sendable {
    case none, gzip, zstd

    /// gzip starts 1F 8B; a zstd frame starts 28 B5 2F FD.
    public static func detect(_ head: UnsafeRawBufferPointer) -> Compression {
        if head.count >= 2 && head[0] == 0x1F && head[1] == 0x8B { return .gzip }
        if head.count >= 4 && head[0] == 0x28 && head[1] == 0xB5 && head[2] == 0x2F && head[3] == 0xFD { return .zstd }
        return .none
    }
}

/// Reads a recorded feed — a plain, gzip or zstd file, or standard input for `-` — and hands
/// out its decompressed bytes in chunks.
public struct FeedFile {
    public let path: String
    public let chunkSize: Int

    public init(path: String, chunkSize: Int = 1 << 18) {
        self.path = path
        self.chunkSize = chunkSize
    }

    /// The name used in dead letters and logs (`stdin` for `-`).
    public var sourceName: String { path == "-" ? "stdin" : path }

    /// Reads the whole input, calling `body` with each decompressed chunk (valid only during the call).
    /// Returns the compression found.
    @discardableResult
    public func read(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Compression {
        let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FeedFileError(path: path, message: String(cString: strerror(errno))) }
        defer { if path != "-" { close(fd) } }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }

        var compression: Compression?
        var gzip: GzipDecompressor?
        var zstd: ZstdDecompressor?
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw FeedFileError(path: path, message: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
            if compression == nil {
                compression = Compression.detect(chunk)
                if compression == .gzip { gzip = try GzipDecompressor() }
                if compression == .zstd { zstd = try ZstdDecompressor() }
            }
            if let gzip { try gzip.feed(chunk, body) } else if let zstd { try zstd.feed(chunk, body) } else { try body(chunk) }
        }
        try gzip?.finish()
        try zstd?.finish()
        return compression ?? .none
    }
}

/// A feed file could not be opened or read.
public struct FeedFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
