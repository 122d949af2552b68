import ArgumentParser
#if canImport(CMalloc)
import CMalloc
#endif
import Foundation
import Logging
import TickDaemon

/// The `tickd` command line: the daemon and its one-shot tools.
struct Tickd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickd",
        abstract: "Market-data ingestion daemon for Stock Soko (NSE): feeds → OHLCV → PostgreSQL/TimescaleDB → Redis.",
        version: "0.1.0",
        subcommands: [RunCommand.self, ReplayCommand.self, MigrateCommand.self, SeedCommand.self, CheckConfigCommand.self,
                      JournalCommand.self, RedriveCommand.self, QuarantineCommand.self, StatusCommand.self, CorporateActionsCommand.self, GrantsCommand.self])
}

/// Exit codes of SPEC.md.
enum ExitStatus {
    static let runtimeFailure: Int32 = 1
    static let badUsage: Int32 = 2
}

/// An error that ends tickd with exit code 2 and one line on stderr.
struct UsageFailure: Error, CustomStringConvertible {
    let description: String
}

/// Ends the process: exit 2 with one line for usage and configuration errors, 1 for the rest.
func fail(_ error: Error) -> Never {
    let line: String
    let code: Int32
    switch error {
    case let error as ConfigError: (line, code) = ("config: \(error)", ExitStatus.badUsage)
    case let error as UsageFailure: (line, code) = (error.description, ExitStatus.badUsage)
    default: (line, code) = (String(describing: error), ExitStatus.runtimeFailure)
    }
    FileHandle.standardError.write(Data("tickd: \(line)\n".utf8))
    exit(code)
}

@main
enum Main {
    static func main() async {
        #if canImport(CMalloc) && canImport(Glibc)
        // Many threads (NIO, the pool, writers, the publisher) would each get a malloc arena (up
        // to 8 per core) that keeps its high-water mark: two arenas keep a long run's RSS flat.
        // MALLOC_ARENA_MAX in the environment still wins.
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil { mallopt(M_ARENA_MAX, 2) }
        #endif
        let command: ParsableCommand
        do {
            command = try Tickd.parseAsRoot()
        } catch {
            // Help and --version exit 0 as ArgumentParser does; bad usage exits 2, not 64.
            let code = Tickd.exitCode(for: error)
            if code == .success { Tickd.exit(withError: error) }
            FileHandle.standardError.write(Data("tickd: \(Tickd.message(for: error))\n".utf8))
            FileHandle.standardError.write(Data("\(Tickd.usageString(for: error))\n".utf8))
            exit(ExitStatus.badUsage)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
        } catch {
            // Help and --version surface here as errors whose exit code is success.
            if Tickd.exitCode(for: error) == .success { Tickd.exit(withError: error) }
            fail(error)
        }
    }
}

extension Tickd {
    static func usageString(for error: Error) -> String {
        let full = fullMessage(for: error)
        return full.split(separator: "\n").dropFirst().joined(separator: "\n")
    }
}

/// Loads the configuration (file, environment) and sets up logging from it.
func loadConfig(_ path: String?) throws -> TickdConfig {
    let config = try ConfigLoader.load(explicitPath: path, environment: ProcessInfo.processInfo.environment)
    LogSetup.bootstrap(format: config.logFormat, level: config.logLevel)
    return config
}
