/// A five-character SQLSTATE as PostgreSQL reports it (`PG_DIAG_SQLSTATE`), with its class and
/// the codes tickd acts on by name. Compares with a string literal (`error.sqlState == "42501"`).
public struct SQLState: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    /// The class: the first two characters.
    public var sqlClass: SQLClass { SQLClass(rawValue: String(rawValue.prefix(2))) }
    public var description: String { rawValue }

    /// Whether retrying the same work later can succeed: class 08 connection exception (but
    /// 08004, the server or the TLS setup rejecting the connection), 40 transaction rollback
    /// (serialization failure, deadlock), 53 insufficient resources, 58 system error, 57P01–57P03
    /// and 57014 (admin or crash shutdown, cannot connect now, a cancelled statement), 55P03 lock
    /// not available.
    public var isTransient: Bool {
        switch sqlClass {
        case .connectionException: self != .connectionRejected
        case .transactionRollback, .insufficientResources, .systemError: true
        case .operatorIntervention: [.adminShutdown, .crashShutdown, .cannotConnectNow, .queryCanceled].contains(self)
        case .objectNotInPrerequisiteState: self == .lockNotAvailable
        default: false
        }
    }

    public static let connectionFailure: SQLState = "08001"
    public static let connectionRejected: SQLState = "08004"
    public static let serializationFailure: SQLState = "40001"
    public static let deadlockDetected: SQLState = "40P01"
    public static let invalidParameterValue: SQLState = "22023"
    public static let uniqueViolation: SQLState = "23505"
    public static let invalidAuthorization: SQLState = "28000"
    public static let invalidPassword: SQLState = "28P01"
    public static let invalidCatalogName: SQLState = "3D000"
    public static let invalidSchemaName: SQLState = "3F000"
    public static let insufficientPrivilege: SQLState = "42501"
    public static let undefinedTable: SQLState = "42P01"
    public static let undefinedColumn: SQLState = "42703"
    public static let tooManyConnections: SQLState = "53300"
    public static let objectNotInPrerequisiteState: SQLState = "55000"
    public static let lockNotAvailable: SQLState = "55P03"
    public static let queryCanceled: SQLState = "57014"
    public static let adminShutdown: SQLState = "57P01"
    public static let crashShutdown: SQLState = "57P02"
    public static let cannotConnectNow: SQLState = "57P03"
    public static let noDataFound: SQLState = "P0002"
    public static let internalError: SQLState = "XX000"
}

/// An SQLSTATE class (its first two characters).
public struct SQLClass: RawRepresentable, Hashable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let connectionException = SQLClass(rawValue: "08")
    public static let integrityConstraintViolation = SQLClass(rawValue: "23")
    public static let invalidAuthorization = SQLClass(rawValue: "28")
    public static let transactionRollback = SQLClass(rawValue: "40")
    public static let syntaxOrAccessRule = SQLClass(rawValue: "42")
    public static let insufficientResources = SQLClass(rawValue: "53")
    public static let objectNotInPrerequisiteState = SQLClass(rawValue: "55")
    public static let operatorIntervention = SQLClass(rawValue: "57")
    public static let systemError = SQLClass(rawValue: "58")
}
