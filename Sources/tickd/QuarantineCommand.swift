import ArgumentParser
import Foundation
import TickDaemon

/// `tickd quarantine list|release`: the trades the exchange's price checks held back.
struct QuarantineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine", abstract: "List the trades the price checks held back, or release them into the normal path.",
        subcommands: [List.self, Release.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the held trades (not released), oldest first.")

        @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
        var configPath: String?

        func run() throws {
            let held = try Quarantine.held(config: try loadConfig(configPath))
            print("id\tquarantined_at\ttime\tsymbol\tclose\tvolume\tviolations\tprevious_close\tlimit_percent")
            for entry in held {
                let tick = entry.keyed.tick
                print([String(entry.id), entry.quarantinedAt, tick.time.description, tick.symbol.rawValue, tick.close.description,
                       String(tick.volume), entry.violations.joined(separator: ","), entry.previousClose ?? "", entry.limitPercent ?? "lifted"]
                    .joined(separator: "\t"))
            }
            FileHandle.standardError.write(Data("\(held.count) held\n".utf8))
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store and publish held trades as if they had passed the checks, then mark them released.")

        @Argument(help: "Ids from `tickd quarantine list`.")
        var ids: [Int64] = []

        @Flag(help: "Release every held trade.")
        var all = false

        @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
        var configPath: String?

        func run() async throws {
            guard all != !ids.isEmpty else { throw UsageFailure(description: "quarantine release: give ids, or --all (not both)") }
            let released = try await Quarantine.release(config: try loadConfig(configPath), ids: all ? nil : ids)
            print("released \(released.released), stored \(released.stored), published \(released.published)")
        }
    }
}
