import Synchronization

/// A value that is not `Sendable` (a file reader, a journal cursor, connections being opened)
/// handed between a task and the blocking threads it calls, one access at a time.
public final class Exclusive<Value>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: consuming sending Value) { mutex = Mutex(value) }

    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        try mutex.withLock(body)
    }
}
