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
        } catch {
            throw SinkError(table: "tickd_schema_migrations", underlying: error)
        }
    }

    /// Upserts the instrument list from `file` (default `symbols.instruments_file`).
    public static func seed(config: TickdConfig, file: String?) throws -> InstrumentSeeder.Outcome {
        let instruments = try InstrumentList.load(path: file ?? config.instrumentsFile)
        let db = try connect(config, purpose: "seed")
        return try InstrumentSeeder(stocksTable: config.stocksTable).seed(instruments, into: db)
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
