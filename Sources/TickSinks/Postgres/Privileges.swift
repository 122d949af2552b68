import Foundation
import LibPQ

/// What each tickd command needs of the database, one privilege at a time: the question the
/// server answers (`has_table_privilege`…) and the GRANT that gives it. `tickd grants` prints
/// them, and a permission error is explained with the ones the role lacks.
///
/// `migrate` runs as the owner of tickd's objects (it creates and alters them; on PostgreSQL 15
/// it needs CREATE on the schema, which no longer is everyone's), with the timescaledb extension
/// created by a superuser. `run`, `replay` and `seed` need much less: no CREATE, no ownership.
public enum Privileges {
    /// A command's part of the needs.
    public enum Command: String, Sendable, CaseIterable {
        case migrate, run, seed
    }

    /// One privilege a role needs.
    public struct Need: Sendable, Equatable {
        /// What it is on, as a GRANT names it: `TABLE public.stocks`, `SCHEMA public`.
        public let object: String
        /// The privilege as a GRANT writes it: `SELECT, INSERT, UPDATE`, `UPDATE (latest_price)`.
        public let privilege: String
        /// SQL that is true when the session's role has it.
        let held: String

        /// The statement that gives it to a role (`role` as SQL writes it: see `quotedRole`).
        public func grant(to role: String) -> String { "GRANT \(privilege) ON \(object) TO \(role)" }
    }

    /// tickd's own tables and what `run` does with each.
    static let bookkeeping: [(table: String, privilege: String)] = [
        ("tickd_symbol_seq", "SELECT, INSERT, UPDATE"), ("tickd_latest", "SELECT, INSERT, UPDATE"),
        ("tickd_source_offsets", "SELECT, INSERT, UPDATE"), ("tickd_positions", "SELECT, INSERT, UPDATE"),
        ("tickd_quarantine", "SELECT, INSERT, UPDATE"), ("tickd_price_limits", "SELECT"),
        ("tickd_database", "SELECT"), ("tickd_trade_events", "SELECT, INSERT"),
        ("tickd_trading_status", "SELECT, INSERT, UPDATE"), ("tickd_trading_status_changes", "SELECT, INSERT"),
        ("tickd_corporate_actions", "SELECT, INSERT, UPDATE")]

    /// What `command` needs, for the tables of `options` as the connection resolves them.
    public static func needed(by command: Command, options: SchemaOptions, on db: Connection) throws(PostgresError) -> [Need] {
        let context = try db.execute("SELECT current_schema(), quote_ident(current_schema()), quote_ident(current_database())")
        guard let schema = context.value(row: 0, column: 0), let schemaSQL = context.value(row: 0, column: 1),
              let database = context.value(row: 0, column: 2) else {
            throw PostgresError(sqlState: .invalidSchemaName, message: "no schema of the search_path exists", operation: "check privileges")
        }
        var needs = [Need(object: "SCHEMA \(schemaSQL)", privilege: "USAGE", held: "has_schema_privilege(\(sqlLiteral(schema)), 'USAGE')")]
        func table(_ name: String, _ privilege: String) throws(PostgresError) {
            let qualified = try qualifiedName(name, on: db)
            let checks = privilegeList(privilege).map { one in
                if let open = one.firstIndex(of: "(") {
                    let kind = one[..<open].trimmingCharacters(in: .whitespaces)
                    let columns = one[one.index(after: open)...].dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    return columns.map { "has_column_privilege(\(sqlLiteral(qualified)), \(sqlLiteral($0)), '\(kind)')" }.joined(separator: " AND ")
                }
                return "has_table_privilege(\(sqlLiteral(qualified)), '\(one)')"
            }
            needs.append(Need(object: "TABLE \(qualified)", privilege: privilege, held: checks.joined(separator: " AND ")))
        }
        switch command {
        case .migrate:
            needs.append(Need(object: "SCHEMA \(schemaSQL)", privilege: "CREATE", held: "has_schema_privilege(\(sqlLiteral(schema)), 'CREATE')"))
        case .run:
            needs.append(Need(object: "DATABASE \(database)", privilege: "TEMPORARY",
                              held: "has_database_privilege(current_database(), 'TEMPORARY')"))
            try table(options.stocksTable.description, "SELECT, UPDATE (latest_price, previous_close, updated_at)")
            // DELETE: a cancel removes its trade, a correction that moves a trade's time re-stores it.
            try table(options.ticksTable.description, "SELECT, INSERT, UPDATE, DELETE")
            for (name, privilege) in bookkeeping { try table(name, privilege) }
            let sequence = "\(schemaSQL).tickd_quarantine_id_seq"
            needs.append(Need(object: "SEQUENCE \(sequence)", privilege: "USAGE", held: "has_sequence_privilege(\(sqlLiteral(sequence)), 'USAGE')"))
        case .seed:
            // Rows of tickd's own stocks are updated by every seed; the application's only with --overwrite.
            let owner = try InstrumentSeeder.owner(db)
            try table(options.stocksTable.description, owner == .tickd ? "SELECT, INSERT, UPDATE" : "SELECT, INSERT")
            try table("tickd_database", "SELECT")
        }
        return needs
    }

    /// The needs of `command` the session's role lacks.
    public static func missing(for command: Command, options: SchemaOptions, on db: Connection) throws(PostgresError) -> [Need] {
        let needs = try needed(by: command, options: options, on: db)
        let held = try db.execute("SELECT " + needs.map { "(\($0.held))" }.joined(separator: ", "))
        return needs.indices.filter { held.value(row: 0, column: $0) != "t" }.map { needs[$0] }
    }

    /// One line for a permission error (SQLSTATE 42501): the role, what it lacks for `command`,
    /// and the GRANTs that fix it; nil when the role lacks none of them (the error is elsewhere).
    public static func explain(_ error: PostgresError, command: Command, options: SchemaOptions, on db: Connection) -> String? {
        guard error.sqlState == .insufficientPrivilege, db.isOpen else { return nil }
        if db.isInTransaction { _ = try? db.execute("ROLLBACK") }
        guard let role = try? db.execute("SELECT current_user").value(row: 0, column: 0), let roleSQL = try? quotedRole(role, on: db),
              let lacking = try? missing(for: command, options: options, on: db), !lacking.isEmpty else { return nil }
        let what = lacking.map { "\($0.privilege) on \($0.object)" }.joined(separator: "; ")
        let fix = lacking.map { $0.grant(to: roleSQL) + ";" }.joined(separator: " ")
        let owner = command == .migrate ? " (tickd migrate runs as the owner of tickd's tables; the timescaledb extension is created by a superuser)" : ""
        return "role \(role) lacks what tickd \(command.rawValue) needs: \(what)\(owner); as the objects' owner or a superuser: \(fix)"
    }

    /// A role's name as SQL writes it (quoted where it must be, as the server's quote_ident does).
    public static func quotedRole(_ role: String, on db: Connection) throws(PostgresError) -> String {
        try db.execute("SELECT quote_ident($1)", [role]).value(row: 0, column: 0) ?? quotedIdentifier(role)
    }

    /// The privileges of a GRANT's list, split at the commas outside a column list:
    /// `SELECT, UPDATE (a, b)` is `SELECT` and `UPDATE (a, b)`.
    static func privilegeList(_ text: String) -> [String] {
        var parts: [String] = [], current = "", depth = 0
        for character in text {
            switch character {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts
    }

    /// `name` (as tickd's configuration or search_path names it) qualified with the schema the
    /// connection finds it in; the configured name when no such table exists yet.
    static func qualifiedName(_ name: String, on db: Connection) throws(PostgresError) -> String {
        let sqlName = TableName(name)?.sql ?? quotedIdentifier(name)
        let found = try db.execute("""
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)
            """, [sqlName]).value(row: 0, column: 0)
        return found ?? sqlName
    }
}
