/// A small deterministic generator for the model tests (Knuth's MMIX constants): a seed gives
/// the same runs every time, so a failure can be replayed.
public struct LinearCongruential: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state ^ (state >> 29)
    }
}
