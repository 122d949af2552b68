import ArgumentParser
import Foundation
import TickDaemon

/// `tickd corporate-actions import|list`: splits, bonus issues and consolidations.
struct CorporateActionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corporate-actions", abstract: "Import splits, bonus issues and consolidations, or list them.",
        subcommands: [Import.self, List.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read CSV symbol,ex_date,kind,ratio (kind split, bonus or consolidation; ratio new:old, e.g. 2:1, 11:10, 1:10); idempotent.")

        @Argument(help: "The CSV file.")
        var file: String

        @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
        var configPath: String?

        func run() async throws {
            let config = try loadConfig(configPath)
            let imported: CorporateActions.Imported
            do {
                imported = try await CorporateActions.importFile(config: config, path: file)
            } catch let error as CorporateActions.FileError {
                throw UsageFailure(description: "corporate-actions import: \(error)")
            }
            print("imported \(imported.read) (\(imported.changed) new or changed); previous_close adjusted: "
                  + (imported.adjusted.isEmpty ? "none" : imported.adjusted.map(\.rawValue).joined(separator: ","))
                  + "; held trades re-checked \(imported.rechecked), stored \(imported.stored)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every corporate action, by symbol and ex-date.")

        @Option(name: .customLong("config"), help: "Config file (default: $TICKD_CONFIG, else config/tickd.yaml if present).")
        var configPath: String?

        func run() throws {
            print("symbol\tex_date\tkind\tratio\timported_at")
            for entry in try CorporateActions.list(config: try loadConfig(configPath)) {
                let action = entry.action
                print([action.symbol.rawValue, action.exDateText, action.kind.rawValue, "\(action.newShares):\(action.oldShares)", entry.importedAt]
                    .joined(separator: "\t"))
            }
        }
    }
}
