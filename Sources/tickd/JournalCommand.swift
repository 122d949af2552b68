import ArgumentParser
import Foundation
import Logging
import TickDaemon
import TickJournal

/// `tickd journal show|discard`: what a journal holds and which database it serves, and how an
/// operator moves on when it belongs to a database tickd is no longer pointed at.
struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Show the journal of live feeds (its database, its records), or discard it.",
        subcommands: [Show.self, Discard.self])

    struct Location: ParsableArguments {
        @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
        var configPath: String?

        @Option(help: "The journal directory (default: journal.directory of the config).")
        var directory: String?

        /// The journal directory; exits 1 when there is no journal there.
        func resolve() throws -> String {
            let path = try directory ?? loadConfig(configPath).journalDirectory
            guard FileManager.default.fileExists(atPath: "\(path)/journal.lock") else {
                throw JournalError(path: path, message: "no journal here")
            }
            return path
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the journal's database and records (not while tickd runs on it).")

        @OptionGroup var location: Location

        func run() throws {
            let directory = try location.resolve()
            var quiet = Logger(label: "tickd.journal")
            quiet.logLevel = .error
            let journal = try Journal(options: JournalOptions(directory: directory), logger: quiet)
            let records = journal.firstRecord.map { "\($0)-\(journal.recoveredThrough) (\(journal.recoveredThrough - $0 + 1))" } ?? "none"
            print("journal \(directory)")
            print("  database: \(journal.boundDatabase ?? "not bound yet") (tickd_database.id of the database it serves)")
            print("  records: \(records)")
            print("  bytes: \(journal.usage.bytes) in \(journal.usage.segments) segment(s)")
            if let repair = journal.repair { print("  repaired at open: \(repair)") }
        }
    }

    struct Discard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the journal's records and binding (not while tickd runs on it); what they held is lost.")

        @OptionGroup var location: Location

        func run() throws {
            let directory = try location.resolve()
            let discarded = try Journal.discard(directory: directory)
            print("journal \(directory): discarded \(discarded.segments) segment(s), \(discarded.bytes) bytes; the next tickd run starts a new journal")
        }
    }
}
