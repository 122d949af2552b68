import TickCodecs
import TickModel
import TickSources

extension TickdConfig {
    /// The effective configuration as YAML, with passwords in connection strings replaced by `***`.
    public var effectiveYAML: String {
        let delimiter = csv.delimiter == 0x09 ? "\\t" : String(UnicodeScalar(csv.delimiter))
        var lines = ["# effective configuration (from \(source))",
                     "exchange:", "  timezone: \(timezone)", "  profile: \(exchangeProfile.name)",
                     "  price_limit_action: \(priceLimitAction.rawValue)", "  off_tick_action: \(offTickAction.rawValue)",
                     "  stale_after_ms: \(staleAfterMilliseconds)", "  feed_silent_after_ms: \(feedSilentAfterMilliseconds)",
                     "input:", "  format: \(format.rawValue)", "  max_line_bytes: \(maxLineBytes)",
                     "  max_future_skew_seconds: \(maxFutureSkewSeconds)",
                     "  csv:", "    delimiter: \"\(delimiter)\"", "    header: \(csv.header.rawValue)",
                     "    columns: [\(csv.columns.map(\.description).joined(separator: ", "))]",
                     "symbols:", "  unknown: \(unknownSymbols.rawValue)", "  instruments_file: \(instrumentsFile)",
                     "  reload_interval_ms: \(instrumentReloadMilliseconds)",
                     "  strip_prefixes: [\(stripPrefixes.map { "\"\($0)\"" }.joined(separator: ", "))]",
                     "  strip_suffixes: [\(stripSuffixes.map { "\"\($0)\"" }.joined(separator: ", "))]",
                     "  aliases:"]
        lines += aliases.keys.sorted().map { "    \($0): \(aliases[$0]!)" }
        lines += ["dead_letter:", "  path: \(deadLetterPath)",
                  "database:", "  ticks_table: \(ticksTable)", "  stocks_table: \(stocksTable)",
                  "  retry_max_backoff_ms: \(retryMaxBackoffMilliseconds)", "  writers: \(databaseWriters)",
                  "timescale:", "  enabled: \(timescale.rawValue)", "  chunk_interval_hours: \(chunkIntervalHours)",
                  "  compress_after_days: \(compressAfterDays)", "  retention_days: \(retentionDays)",
                  "  refresh_interval_ms: \(candleRefreshMilliseconds)",
                  "batch:", "  max_ticks: \(batchMaxTicks)", "  max_age_ms: \(batchMaxAgeMilliseconds)",
                  "  linger_ms: \(batchLingerMilliseconds ?? -1)",
                  "redis:", "  prefix: \"\(redisPrefix)\"", "  max_backlog: \(redisMaxBacklog)",
                  "  timeout_ms: \(redisTimeoutMilliseconds)", "  retry_max_backoff_ms: \(redisRetryMaxBackoffMilliseconds)",
                  "  drain_timeout_ms: \(redisDrainTimeoutMilliseconds)",
                  "  tls_ca_file: \(redisTLSCAFile ?? "\"\"")", "  tls_cert_file: \(redisTLSCertFile ?? "\"\"")",
                  "  tls_key_file: \(redisTLSKeyFile ?? "\"\"")",
                  "sources:", "  listen:"]
        for l in listeners {
            lines += ["    - address: \"\(l.host):\(l.port)\"", "      format: \(l.format.rawValue)",
                      "      max_connections: \(l.maxConnections)", "      max_connections_per_peer: \(l.maxConnectionsPerPeer)",
                      "      idle_timeout_ms: \(l.idleTimeout?.milliseconds ?? 0)",
                      "      evict_after_ms: \(l.evictAfter?.milliseconds ?? 0)",
                      "      max_line_bytes: \(l.maxLineBytes)",
                      "      allow: [\(l.allow?.entries.joined(separator: ", ") ?? "")]"]
        }
        lines += ["  connect:"]
        for u in upstreams {
            lines += ["    - address: \"\(u.host):\(u.port)\"", "      format: \(u.format.rawValue)",
                      "      subscribe: \(u.subscribe.map { "\"\($0)\"" } ?? "~")",
                      "      retry_max_backoff_ms: \(u.maxBackoff.milliseconds)",
                      "      connect_timeout_ms: \(u.connectTimeout.milliseconds)", "      max_line_bytes: \(u.maxLineBytes)"]
        }
        lines += ["  files:"]
        for f in files {
            lines += ["    - path: \(f.path)", "      speed: \(f.speed)"] + (f.format.map { ["      format: \($0.rawValue)"] } ?? [])
        }
        lines += ["pipeline:", "  max_queued_ticks: \(maxQueuedTicks)",
                  "journal:", "  enabled: \(journalEnabled)", "  directory: \(journalDirectory)",
                  "  segment_bytes: \(journalSegmentBytes)", "  max_bytes: \(journalMaxBytes)",
                  "  fsync: \(journalFsync.rawValue)", "  fsync_interval_ms: \(journalFsyncIntervalMilliseconds)",
                  "shutdown:", "  drain_timeout_ms: \(drainTimeoutMilliseconds)",
                  "log:", "  format: \(logFormat.rawValue)", "  level: \(logLevel.rawValue)",
                  "metrics:", "  address: \"\(metricsAddress ?? "")\"", "  allow_public: \(metricsAllowPublic)",
                  "# memory budget of tickd run with these sizes: \(memoryBudgetBytes >> 20) MiB",
                  "# environment",
                  "DATABASE_URL: \(databaseURL.map(Redaction.connectionString) ?? "(unset)")",
                  "REDIS_URL: \(redisURL.map(Redaction.connectionString) ?? "(unset: publishing off)")"]
        return lines.joined(separator: "\n")
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
