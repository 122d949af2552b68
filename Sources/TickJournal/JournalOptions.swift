/// When appended records are forced to the disk.
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// After every record, before it counts as received: survives a power loss.
    case always
    /// At most every `fsyncInterval` (and when tickd stops): a power loss may take that much;
    /// a crash of tickd alone loses nothing (the kernel has the writes).
    case interval
    /// Left to the kernel.
    case never
}

/// Where and how the journal keeps its segments (`journal.*` in the config).
public struct JournalOptions: Sendable, Equatable {
    public var directory: String
    /// A segment is sealed (and compressed) once it holds this many bytes.
    public var segmentBytes: Int
    /// Past this many bytes on disk, appends wait (sources stop reading) until applied segments are deleted.
    public var maxBytes: Int
    public var fsync: FsyncPolicy
    public var fsyncInterval: Duration

    public init(directory: String, segmentBytes: Int = 16 << 20, maxBytes: Int = 1 << 30,
                fsync: FsyncPolicy = .interval, fsyncInterval: Duration = .milliseconds(200)) {
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.maxBytes = maxBytes
        self.fsync = fsync
        self.fsyncInterval = fsyncInterval
    }
}

/// A journal operation that failed, naming the file and the system's reason.
public struct JournalError: Error, CustomStringConvertible, Sendable, Equatable {
    /// True when the disk (or the quota) is full: appending can succeed once space is freed.
    public let isDiskFull: Bool
    public let path: String
    public let message: String

    public init(path: String, message: String, isDiskFull: Bool = false) {
        self.path = path
        self.message = message
        self.isDiskFull = isDiskFull
    }

    public var description: String { "journal \(path): \(message)" }
}
