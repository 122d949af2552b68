/// Who owns `stocks`, as `migrate` recorded it (`tickd_database.stocks_owner`): tickd never
/// overwrites what the application owns (names, sectors, metadata) unless `tickd seed
/// --overwrite` is asked to.
public enum StocksOwner: String, Sendable {
    /// `migrate` created the table: `tickd seed` upserts the instrument list into it.
    case tickd
    /// The table was there before tickd (the Stock Soko backend's): `tickd seed` adds the
    /// instruments it lacks and leaves existing rows alone.
    case application

    /// For a database migrated before the owner was recorded: tickd's own `stocks` has
    /// `symbol varchar(32)` and an id made by `gen_random_uuid()`; any other shape is the application's.
    static func guess(_ shape: TableShape?) -> StocksOwner {
        guard let shape, shape.column("symbol")?.type == "character varying(32)",
              shape.column("id")?.defaultSQL?.contains("gen_random_uuid()") == true else { return .application }
        return .tickd
    }
}
