import ArgumentParser

/// `tickd run`: the daemon (not built yet: exits 2).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the daemon until SIGTERM/SIGINT.")
    @Option(name: .customLong("config")) var configPath: String?
    @Option var listen: [String] = []
    @Option var connect: [String] = []
    @Option var metrics: String?
    func run() throws { throw UsageFailure(description: "run: not implemented yet") }
}

/// `tickd migrate`: create or upgrade the schema (not built yet: exits 2).
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Create or upgrade the schema.")
    @Option(name: .customLong("config")) var configPath: String?
    func run() throws { throw UsageFailure(description: "migrate: not implemented yet") }
}

/// `tickd seed [FILE]`: upsert the instrument list (not built yet: exits 2).
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Upsert the instrument list into stocks.")
    @Argument var file: String?
    @Option(name: .customLong("config")) var configPath: String?
    func run() throws { throw UsageFailure(description: "seed: not implemented yet") }
}
