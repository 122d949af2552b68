import ArgumentParser
import Foundation
import TickDaemon

/// `tickd check-config`: validate and print the effective configuration, secrets redacted.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate and print the effective configuration, secrets redacted.")

    @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
    var configPath: String?

    func run() throws {
        let config = try loadConfig(configPath)
        print(config.effectiveYAML)
    }
}
