import Synchronization
import TickModel

/// The listed instruments, shared by every source of a running tickd and replaced while it runs
/// (a new listing seeded into `stocks` is known within the reload interval, without a restart).
/// Each normaliser checks `version` before using its cache of symbol results, so a symbol
/// rejected as unknown is looked at again after a reload.
public final class Listing: Sendable {
    private let symbols: Mutex<Set<Symbol>>
    private let changes = Atomic<Int>(0)

    public init(_ symbols: Set<Symbol>) {
        self.symbols = Mutex(symbols)
    }

    /// Bumped by every `replace` that changed the list.
    public var version: Int { changes.load(ordering: .acquiring) }

    public func contains(_ symbol: Symbol) -> Bool { symbols.withLock { $0.contains(symbol) } }

    /// Replaces the list; returns what was added and removed.
    @discardableResult
    public func replace(with new: Set<Symbol>) -> (added: Set<Symbol>, removed: Set<Symbol>) {
        let change = symbols.withLock { current -> (added: Set<Symbol>, removed: Set<Symbol>) in
            let change = (added: new.subtracting(current), removed: current.subtracting(new))
            current = new
            return change
        }
        if !change.added.isEmpty || !change.removed.isEmpty { changes.add(1, ordering: .releasing) }
        return change
    }
}
