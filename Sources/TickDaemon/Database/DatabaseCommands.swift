import LibPQ
import Logging
import TickSinks

/// `tickd migrate` and `tickd seed`: one connection, one job.
public enum DatabaseCommands {
    /// Creates or upgrades the schema.
    public static func migrate(config: TickdConfig, logger: Logger = Logger(label: "tickd.migrate")) throws -> SchemaMigrator.Outcome {
        let db = try connect(config, purpose: "migrate")
        do {
            return try SchemaMigrator(options: config.schemaOptions, logger: logger).migrate(db)
        } catch let error as PostgresError {
            throw Privileges.explain(error, command: .migrate, options: config.schemaOptions, on: db).map(PermissionFailure.init)
                ?? SinkError(table: error.table ?? "tickd_schema_migrations", underlying: error)
        }
    }

    /// Upserts the instrument list from `file` (default `symbols.instruments_file`); rows of an
    /// application's `stocks` are updated only with `overwrite`.
    public static func seed(config: TickdConfig, file: String?, overwrite: Bool = false) throws -> InstrumentSeeder.Outcome {
        let instruments = try InstrumentList.load(path: file ?? config.instrumentsFile)
        let db = try connect(config, purpose: "seed")
        do {
            return try InstrumentSeeder(stocksTable: config.stocksTable, overwrite: overwrite).seed(instruments, into: db)
        } catch let error as SinkError {
            throw Privileges.explain(error.underlying, command: .seed, options: config.schemaOptions, on: db).map(PermissionFailure.init) ?? error
        }
    }

    /// `error`, or where it is the server refusing `command` a privilege (SQLSTATE 42501), a
    /// `PermissionFailure` naming the role, what it lacks and the GRANTs that fix it (asked on a
    /// connection of its own: the failed one may be gone). The engine's commands (run, replay,
    /// redrive, quarantine release) pass their errors through it.
    static func explainingPermission(_ error: any Error, command: Privileges.Command, config: TickdConfig) -> any Error {
        guard let failure = error as? SinkError, failure.underlying.sqlState == .insufficientPrivilege,
              let db = try? connect(config, purpose: command.rawValue),
              let line = Privileges.explain(failure.underlying, command: command, options: config.schemaOptions, on: db) else { return error }
        return PermissionFailure(description: line)
    }

    /// The GRANT statements that give `role` what `run`, `replay` and `seed` need (`tickd grants`).
    public static func grants(config: TickdConfig, role: String) throws -> [String] {
        let db = try connect(config, purpose: "grants")
        do {
            let needs = try Privileges.needed(by: .run, options: config.schemaOptions, on: db)
                + Privileges.needed(by: .seed, options: config.schemaOptions, on: db)
            let roleSQL = try Privileges.quotedRole(role, on: db)
            var seen = Set<String>()
            return needs.map { $0.grant(to: roleSQL) + ";" }.filter { seen.insert($0).inserted }
        } catch {
            throw SinkError(table: "pg_class", underlying: error.during("read privileges"))
        }
    }

    /// The server refused a privilege: the role, what it lacks and the fix, in one line.
    public struct PermissionFailure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    static func connect(_ config: TickdConfig, purpose: String) throws -> Connection {
        let url = try config.requireDatabaseURL(for: purpose)
        do {
            return try Connection(conninfo: url, defaults: PostgresSink.connectionDefaults)
        } catch {
            throw SinkError(table: "connection", underlying: error)
        }
    }
}
