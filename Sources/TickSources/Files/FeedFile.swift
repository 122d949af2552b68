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

/// Reads a whole recorded feed, handing each decompressed chunk to a callback.
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
        let reader = try FeedFileReader(path: path, chunkSize: chunkSize)
        while let chunk = try reader.next() {
            try chunk.withUnsafeBytes { try body($0) }
        }
        return reader.compression ?? .none
    }
}

/// A feed file could not be opened or read.
public struct FeedFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
