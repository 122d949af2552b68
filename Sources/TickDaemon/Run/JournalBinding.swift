import TickJournal

/// Whether a journal may be applied to the database tickd is pointed at. A journal holds records
/// of one database (`tickd_database.id`, made by `migrate`); applying them to another would move
/// one environment's ticks into another's. Decided at start, before anything is written.
enum JournalBinding: Equatable {
    /// Not bound yet (a new journal, or one from before bindings existed), or holding no record:
    /// bind it to this database.
    case bind
    /// Bound to this database (also a restored backup of it): apply what it lacks.
    case matches
    /// Bound to another database and holding records: refuse to start.
    case refuse(bound: String)

    static func decide(bound: String?, database: String, holdsRecords: Bool) -> JournalBinding {
        guard let bound, bound != database else { return bound == nil ? .bind : .matches }
        return holdsRecords ? .refuse(bound: bound) : .bind
    }
}

/// `tickd run` pointed at a database its journal does not belong to; exits 1 with this line.
public struct JournalBelongsElsewhere: Error, CustomStringConvertible {
    public let directory: String
    public let bound: String
    public let database: String
    public let records: ClosedRange<UInt64>?

    public var description: String {
        let held = records.map { " (records \($0.lowerBound)-\($0.upperBound))" } ?? ""
        return "journal \(directory)\(held) belongs to database \(bound), but DATABASE_URL points at database \(database): "
            + "point tickd at database \(bound) to apply it, or discard it with `tickd journal discard` (its records are then lost)"
    }
}

extension Journal {
    /// The records on disk when the journal was opened.
    var heldRecords: ClosedRange<UInt64>? { firstRecord.map { $0...recoveredThrough } }

    /// Binds the journal to `database`, or throws `JournalBelongsElsewhere` when it serves another.
    func claim(for database: String) throws -> JournalBinding {
        let binding = JournalBinding.decide(bound: boundDatabase, database: database, holdsRecords: heldRecords != nil)
        switch binding {
        case .bind: try bind(to: database)
        case .matches: break
        case .refuse(let bound):
            throw JournalBelongsElsewhere(directory: options.directory, bound: bound, database: database, records: heldRecords)
        }
        return binding
    }
}
