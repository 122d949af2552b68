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
