/// A chunk of ticks from one source, with where it came from (for source offsets).
public struct TickChunk: Sendable {
    public var source: String
    /// The source's last line in this chunk.
    public var throughLine: Int
    public var ticks: [KeyedTick]

    public init(source: String, throughLine: Int, ticks: [KeyedTick]) {
        self.source = source
        self.throughLine = throughLine
        self.ticks = ticks
    }
}
