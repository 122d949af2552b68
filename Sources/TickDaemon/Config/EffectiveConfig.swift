import TickCodecs
import TickModel
import TickSources

extension TickdConfig {
    /// The effective configuration as YAML (every key of `ConfigKeys`, which reads it back to the
    /// same configuration), with passwords in connection strings replaced by `***`.
    public var effectiveYAML: String {
        (["# effective configuration (from \(source))"] + ConfigKeys.yaml(ConfigKeys.all, of: self) + [
            "# memory budget of tickd run with these sizes: \(memoryBudgetBytes >> 20) MiB",
            "# environment",
            "DATABASE_URL: \(databaseURL.map(Redaction.connectionString) ?? "(unset)")",
            "REDIS_URL: \(redisURL.map(Redaction.connectionString) ?? "(unset: publishing off)")",
        ]).joined(separator: "\n")
    }
}

/// Removes secrets from connection strings before they are shown or logged.
public enum Redaction {
    /// `scheme://user:secret@host` → `scheme://user:***@host`; `password=secret` → `password=***`.
    public static func connectionString(_ text: String) -> String {
        var result = text
        if let scheme = result.range(of: "://"),
           let at = result[scheme.upperBound...].lastIndex(of: "@") {
            let credentials = result[scheme.upperBound..<at]
            if let colon = credentials.firstIndex(of: ":") {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        // key=value form and URI query parameters.
        for key in ["password=", "password ="] {
            var searchStart = result.startIndex
            while let range = result.range(of: key, options: [.caseInsensitive], range: searchStart..<result.endIndex) {
                var end = range.upperBound
                while end < result.endIndex, result[end] == " " { end = result.index(after: end) }
                var valueEnd = end
                if valueEnd < result.endIndex, result[valueEnd] == "'" {
                    valueEnd = result.index(after: valueEnd)
                    while valueEnd < result.endIndex, result[valueEnd] != "'" { valueEnd = result.index(after: valueEnd) }
                    if valueEnd < result.endIndex { valueEnd = result.index(after: valueEnd) }
                } else {
                    while valueEnd < result.endIndex, result[valueEnd] != " ", result[valueEnd] != "&" { valueEnd = result.index(after: valueEnd) }
                }
                result.replaceSubrange(end..<valueEnd, with: "***")
                searchStart = result.index(end, offsetBy: 3, limitedBy: result.endIndex) ?? result.endIndex
            }
        }
        return result
    }
}
