/// The record format of a source.
public enum FeedFormat: String, Sendable, CaseIterable {
    case csv, ndjson
    /// Per line: a line starting with `{` is NDJSON, anything else CSV.
    case auto
}
