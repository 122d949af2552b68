/// Redis commands written in the protocol's own encoding (RESP arrays of bulk strings), many to
/// one buffer, for a single `RedisConnection.append(encoded:)`. The publisher sends thousands of
/// commands per pipeline; this skips hiredis's per-command argv copy and formatting.
public struct RedisCommandBuffer: Sendable {
    /// The encoded commands, ready for the socket.
    public private(set) var bytes: [UInt8] = []
    /// How many commands the buffer holds (each gets one reply).
    public private(set) var count = 0

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Empties the buffer, keeping its memory for the next pipeline.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        count = 0
    }

    /// Starts a command of `arguments` arguments (the command name is the first); exactly that
    /// many `argument` calls must follow.
    public mutating func begin(arguments: Int) {
        count += 1
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(arguments)
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    /// Appends one argument: any bytes, binary-safe.
    public mutating func argument(_ value: [UInt8]) {
        value.withUnsafeBufferPointer { argument($0) }
    }

    /// Appends one argument from raw memory.
    public mutating func argument(_ value: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(value.count)
        bytes.append(0x0D)
        bytes.append(0x0A)
        bytes.append(contentsOf: value)
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    private mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0)
        var digits = 1
        var probe = value
        while probe >= 10 { probe /= 10; digits += 1 }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var rest = value
        for position in stride(from: start + digits - 1, through: start, by: -1) {
            bytes[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
    }
}
