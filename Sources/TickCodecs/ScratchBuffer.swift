/// Fixed-size byte space that unescaped field values are written to, so that the original line
/// stays intact for dead letters. It never grows, so views into it stay valid for one line.
final class ScratchBuffer {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var used = 0

    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    func reset() { used = 0 }
}
