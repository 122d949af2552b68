/// The SQLSTATE of a failed connection attempt. libpq has no API for the code of an error the
/// server sent during startup, only its message, so the message is read: what no retry can fix
/// (wrong password, unknown role or database, no pg_hba.conf entry, TLS refused or failed, a bad
/// option) gets a permanent code; the server starting up or shutting down, too many clients, a
/// refused or lost connection, a timeout, a name not resolved stay transient (08001).
/// Server messages are matched in English, PostgreSQL's default `lc_messages`.
public enum ConnectFailure {
    /// A message with any of `needles` (and `alsoContains`, when set) has `sqlState`.
    struct Rule {
        let needles: [String]
        var alsoContains: String?
        let sqlState: SQLState
    }

    static let rules: [Rule] = [
        Rule(needles: ["password authentication failed", "no password supplied", "SCRAM authentication", "authentication method"],
             sqlState: "28P01"),
        Rule(needles: ["no pg_hba.conf entry", "pg_hba.conf rejects connection"], sqlState: "28000"),
        Rule(needles: ["role \""], alsoContains: "does not exist", sqlState: "28000"),
        Rule(needles: ["database \""], alsoContains: "does not exist", sqlState: "3D000"),
        Rule(needles: ["permission denied for database"], sqlState: "42501"),
        Rule(needles: ["SSL was required", "does not support SSL", "certificate", "SSL error: tlsv1 alert", "SSL error: sslv3 alert",
                       "invalid sslmode", "invalid URI", "invalid connection option", "invalid integer value",
                       "invalid value for parameter"], sqlState: "08004"),
        Rule(needles: ["the database system is starting up", "the database system is shutting down", "the database system is in recovery",
                       "not yet accepting connections", "not accepting connections"], sqlState: "57P03"),
        Rule(needles: ["too many clients", "remaining connection slots", "too many connections"], sqlState: "53300"),
    ]

    /// The SQLSTATE for libpq's message of a failed connection.
    public static func sqlState(for message: String) -> SQLState {
        let rule = rules.first { rule in
            rule.needles.contains { message.contains($0) } && rule.alsoContains.map { message.contains($0) } != false
        }
        return rule?.sqlState ?? .connectionFailure
    }
}
