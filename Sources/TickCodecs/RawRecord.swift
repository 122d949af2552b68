/// The fields of one decoded line, as byte views (into the line or the decoder's scratch space),
/// before any value is interpreted. Valid only until the decoder handles its next line.
public struct RawRecord {
    @usableFromInline var slots: InlineArray<11, UnsafeBufferPointer<UInt8>?>

    public init() { slots = InlineArray(repeating: nil) }

    /// The bytes of `field`, or nil when the line did not carry it (or carried JSON null).
    /// Inlinable: the normaliser reads a record's fields once per line, from another module.
    @inlinable public subscript(field: TickField) -> UnsafeBufferPointer<UInt8>? {
        get { slots[field.rawValue] }
        set { slots[field.rawValue] = newValue }
    }

    /// Forgets every field.
    public mutating func clear() { slots = InlineArray(repeating: nil) }
}

/// Why a line could not be split into fields at all.
public enum SyntaxError: Error, Equatable, Sendable {
    case csv(String)
    case json(String)
}
