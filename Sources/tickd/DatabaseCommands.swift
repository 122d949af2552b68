import ArgumentParser
import Foundation
import TickDaemon

/// `tickd migrate`: create or upgrade the schema; idempotent.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the schema (idempotent; never drops data).")

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    func run() throws {
        let config = try loadConfig(configPath)
        let outcome = try DatabaseCommands.migrate(config: config)
        let steps = outcome.applied.isEmpty ? "none (up to date)" : outcome.applied.map(String.init).joined(separator: ", ")
        print("migrate: storage mode \(outcome.mode.rawValue); steps applied: \(steps)")
    }
}

/// `tickd seed [FILE]`: upsert the instrument list into stocks.
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Upsert the instrument list (default Seeds/stocks.csv) into stocks.")

    @Argument(help: "Instrument list CSV (default: symbols.instruments_file).")
    var file: String?

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    func run() throws {
        let config = try loadConfig(configPath)
        let outcome = try DatabaseCommands.seed(config: config, file: file)
        print("seed: \(outcome.inserted) inserted, \(outcome.updated) updated, \(outcome.unchanged) unchanged")
    }
}
