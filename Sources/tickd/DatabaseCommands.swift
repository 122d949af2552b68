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

    @Flag(name: .customLong("overwrite"), help: "Also update the rows of a stocks table the application owns (names, sectors, lot sizes).")
    var overwrite = false

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    func run() throws {
        let config = try loadConfig(configPath)
        let outcome = try DatabaseCommands.seed(config: config, file: file, overwrite: overwrite)
        var line = "seed: \(outcome.inserted) inserted, \(outcome.updated) updated, \(outcome.unchanged) unchanged"
        if outcome.kept > 0 {
            line += ", \(outcome.kept) kept (\(config.stocksTable) is the application's table: its rows stay as it wrote them; --overwrite updates them)"
        }
        print(line)
    }
}

/// `tickd grants ROLE`: the GRANT statements that give a role what `run`, `replay` and `seed`
/// need on the migrated schema (no CREATE, no ownership), for an owner or superuser to run.
struct GrantsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grants", abstract: "Print the GRANTs a role needs for tickd run, replay and seed (run them as the owner).")

    @Argument(help: "The role tickd run, replay and seed connect as.")
    var role: String

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    func run() throws {
        let config = try loadConfig(configPath)
        for statement in try DatabaseCommands.grants(config: config, role: role) { print(statement) }
    }
}
