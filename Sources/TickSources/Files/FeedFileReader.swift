#if canImport(Glibc)
import Glibc
#endif
import Gzip
import TickModel
import Zstd

/// Pull-based reading of a recorded feed — plain, gzip or zstd (told from the first bytes), or
/// standard input for `-`: each `next()` returns the next piece of decompressed bytes, nil at the
/// end. Owns its file descriptor. The calls block; in the daemon they run on a thread pool.
public final class FeedFileReader {
    public let path: String
    public let chunkSize: Int
    public private(set) var compression: Compression?
    /// Bytes read from the file so far (compressed bytes for .gz/.zst), for progress and ETA.
    public private(set) var bytesRead = 0
    /// The file's size, when it is a regular file.
    public let fileSize: Int?

    private let fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var gzip: GzipDecompressor?
    private var zstd: ZstdDecompressor?
    private var atEnd = false

    public init(path: String, chunkSize: Int = 1 << 18) throws(FeedFileError) {
        self.path = path
        self.chunkSize = chunkSize
        let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FeedFileError(path: path, message: String(cString: strerror(errno))) }
        self.fd = fd
        var info = stat()
        fileSize = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil
        buffer = .allocate(byteCount: chunkSize, alignment: 16)
    }

    deinit {
        if path != "-" { close(fd) }
        buffer.deallocate()
    }

    /// The name used in dead letters, logs and offsets (`stdin` for `-`).
    public var sourceName: String { path == "-" ? "stdin" : path }

    /// What the file is, for resuming: device, inode and a hash of its first 4 KiB
    /// (`dev:ino:hash`). Nil for standard input and other streams that cannot be read again.
    public private(set) lazy var identity: String? = {
        guard path != "-" else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var head = [UInt8](repeating: 0, count: 4096)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, 0) }
        guard n >= 0 else { return nil }
        return "\(info.st_dev):\(info.st_ino):\(String(FNV1a.hash(head.prefix(n)), radix: 16))"
    }()

    /// The next decompressed bytes (possibly empty when a compressed chunk produced nothing yet),
    /// or nil at the end of the input.
    public func next() throws -> [UInt8]? {
        if atEnd { return nil }
        while true {
            let n = read(fd, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw FeedFileError(path: path, message: String(cString: strerror(errno)))
            }
            if n == 0 {
                atEnd = true
                try gzip?.finish()
                try zstd?.finish()
                return nil
            }
            bytesRead += n
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
            if compression == nil {
                let found = Compression.detect(chunk)
                compression = found
                if found == .gzip { gzip = try GzipDecompressor() }
                if found == .zstd { zstd = try ZstdDecompressor() }
            }
            if let gzip {
                var out: [UInt8] = []
                try gzip.feed(chunk) { out.append(contentsOf: $0) }
                return out
            }
            if let zstd {
                var out: [UInt8] = []
                try zstd.feed(chunk) { out.append(contentsOf: $0) }
                return out
            }
            return Array(chunk)
        }
    }
}

