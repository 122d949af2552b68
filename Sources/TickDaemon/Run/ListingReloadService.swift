import Logging
import ServiceLifecycle
import TickEngine
import TickModel
import TickNormalisation

/// Reads the listed instruments from `stocks` every `interval` (on the first writer lane's thread,
/// between batches) and replaces the shared `Listing`, so an instrument added by `tickd seed` or by the
/// Stock Soko backend is accepted by a running tickd within the interval. A failed read is
/// logged and tried again at the next interval; the list in use stays.
struct ListingReloadService: Service, CustomStringConvertible {
    let listing: Listing
    let lane: WriterLane
    let interval: Duration
    let logger: Logger

    var description: String { "instrument list" }

    func run() async throws {
        // A graceful shutdown ends the wait at once instead of after up to one interval.
        try? await cancelWhenGracefulShutdown { [self] in
            while true {
                try await Task.sleep(for: interval)
                await reload()
            }
        }
    }

    private func reload() async {
        do {
            let change = listing.replace(with: try await lane.perform { try await $0.sink.knownSymbols() })
            if !change.added.isEmpty || !change.removed.isEmpty {
                logger.notice("instruments: the listing changed", metadata: [
                    "added": "\(change.added.map(\.rawValue).sorted().joined(separator: ","))",
                    "removed": "\(change.removed.map(\.rawValue).sorted().joined(separator: ","))"])
            }
        } catch {
            logger.warning("instruments: could not read the listing, keeping the one in use", metadata: ["error": "\(error)"])
        }
    }
}
