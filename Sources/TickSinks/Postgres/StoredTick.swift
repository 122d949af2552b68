import TickModel
import TickPipeline

/// A tick the database stored (new or changed) in a committed batch, with its per-symbol
/// publication sequence number.
public struct StoredTick: Sendable, Equatable {
    public var keyed: KeyedTick
    /// Increases by one per stored tick of the symbol, across batches and restarts.
    public var seq: Int64

    public init(keyed: KeyedTick, seq: Int64) {
        self.keyed = keyed
        self.seq = seq
    }
}
