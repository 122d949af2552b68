import Foundation
import Logging
import TickJournal
import TickModel
import TickCodecs
import TickPipeline
import TickSinks
import TickSources
import Yams

/// Builds a `TickdConfig` from a YAML file and the environment, strictly: an unknown key or a
/// bad value is a `ConfigError` naming the key.
public enum ConfigLoader {
    /// The file read when neither `--config` nor `TICKD_CONFIG` names one, if it exists.
    public static let defaultPath = "config/tickd.yaml"

    /// Loads the configuration. `explicitPath` (from `--config`) must exist; so must
    /// `TICKD_CONFIG` when set; `config/tickd.yaml` is read only if present.
    public static func load(explicitPath: String?, environment: [String: String]) throws(ConfigError) -> TickdConfig {
        var config = TickdConfig()
        let path = explicitPath ?? environment["TICKD_CONFIG"]
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigError(key: explicitPath != nil ? "--config" : "TICKD_CONFIG", "cannot read '\(path)'")
            }
            try apply(yaml: text, to: &config)
            config.source = path
        } else if let text = try? String(contentsOfFile: defaultPath, encoding: .utf8) {
            try apply(yaml: text, to: &config)
            config.source = defaultPath
        }
        try applyEnvironment(environment, to: &config)
        if let url = environment["DATABASE_URL"], !url.isEmpty { config.databaseURL = url }
        if let url = environment["REDIS_URL"], !url.isEmpty { config.redisURL = url }
        // systemd credentials (LoadCredential=database_url:…, redis_url:…) when the variables are unset.
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            func credential(_ name: String) -> String? {
                guard let text = try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8) else { return nil }
                let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
                return value.isEmpty ? nil : value
            }
            if config.databaseURL == nil { config.databaseURL = credential("database_url") }
            if config.redisURL == nil { config.redisURL = credential("redis_url") }
        }
        _ = try config.exchangeZone()
        return config
    }

    /// Applies the YAML text on top of `config`.
    public static func apply(yaml text: String, to config: inout TickdConfig) throws(ConfigError) {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError(key: "config", "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let root else { return } // empty file: defaults
        let top = try Section(root, path: "")
        try top.only(["exchange", "input", "symbols", "dead_letter", "database", "timescale", "batch", "redis",
                      "sources", "pipeline", "journal", "shutdown", "log", "metrics"])
        if let exchange = try top.section("exchange") {
            try exchange.only(["timezone", "profile", "price_limit_action", "off_tick_action", "stale_after_ms", "feed_silent_after_ms"])
            if let ms = try exchange.integer("stale_after_ms", in: 1000...86_400_000) { config.staleAfterMilliseconds = ms }
            if let ms = try exchange.integer("feed_silent_after_ms", in: 1000...86_400_000) { config.feedSilentAfterMilliseconds = ms }
            if let action = try exchange.choice("price_limit_action", PriceCheck.Action.self) { config.priceLimitAction = action }
            if let action = try exchange.choice("off_tick_action", PriceCheck.Action.self) { config.offTickAction = action }
            if let zone = try exchange.string("timezone") { config.timezone = zone }
            if let profile = try exchange.string("profile") { config.exchangeProfile = try ExchangeProfile.load(profile, key: exchange.key("profile")) }
        }
        if let input = try top.section("input") {
            try input.only(["format", "max_line_bytes", "max_future_skew_seconds", "csv"])
            if let format = try input.choice("format", FeedFormat.self) { config.format = format }
            if let max = try input.integer("max_line_bytes", in: 64...16_777_216) { config.maxLineBytes = max }
            if let skew = try input.integer("max_future_skew_seconds", in: 0...31_536_000) { config.maxFutureSkewSeconds = Int64(skew) }
            if let csv = try input.section("csv") {
                try csv.only(["delimiter", "header", "columns"])
                if let delimiter = try csv.string("delimiter") {
                    let allowed: [String: UInt8] = [",": 0x2C, ";": 0x3B, "\t": 0x09, "\\t": 0x09, "tab": 0x09, "|": 0x7C]
                    guard let byte = allowed[delimiter] else {
                        throw ConfigError(key: csv.key("delimiter"), "must be one of , ; \\t |")
                    }
                    config.csv.delimiter = byte
                }
                if let header = try csv.choice("header", CSVHeaderMode.self) { config.csv.header = header }
                if let columns = try csv.strings("columns") {
                    config.csv.columns = try columns.map { (name) throws(ConfigError) -> TickField in
                        guard let field = TickField.named(name) else {
                            throw ConfigError(key: csv.key("columns"), "'\(name)' is not a field (time, symbol, open, high, low, close, volume, price, seq or an alias)")
                        }
                        return field
                    }
                }
            }
        }
        if let symbols = try top.section("symbols") {
            try symbols.only(["unknown", "instruments_file", "strip_prefixes", "strip_suffixes", "aliases", "reload_interval_ms"])
            if let policy = try symbols.choice("unknown", SymbolRules.UnknownPolicy.self) { config.unknownSymbols = policy }
            if let ms = try symbols.integer("reload_interval_ms", in: 100...3_600_000) { config.instrumentReloadMilliseconds = ms }
            if let file = try symbols.string("instruments_file") { config.instrumentsFile = file }
            if let prefixes = try symbols.strings("strip_prefixes") { config.stripPrefixes = prefixes }
            if let suffixes = try symbols.strings("strip_suffixes") { config.stripSuffixes = suffixes }
            if let aliases = try symbols.stringMap("aliases") { config.aliases = aliases }
        }
        if let database = try top.section("database") {
            try database.only(["ticks_table", "stocks_table", "retry_max_backoff_ms", "writers"])
            if let n = try database.integer("writers", in: 1...8) { config.databaseWriters = n }
            if let name = try database.tableName("ticks_table") { config.ticksTable = name }
            if let name = try database.tableName("stocks_table") { config.stocksTable = name }
            if let ms = try database.integer("retry_max_backoff_ms", in: 10...600_000) { config.retryMaxBackoffMilliseconds = ms }
        }
        if let timescale = try top.section("timescale") {
            try timescale.only(["enabled", "chunk_interval_hours", "compress_after_days", "retention_days", "refresh_interval_ms"])
            if let mode = try timescale.choice("enabled", SchemaOptions.TimescaleMode.self) { config.timescale = mode }
            if let hours = try timescale.integer("chunk_interval_hours", in: 1...8760) { config.chunkIntervalHours = hours }
            if let days = try timescale.integer("compress_after_days", in: 1...36_500) { config.compressAfterDays = days }
            if let days = try timescale.integer("retention_days", in: 0...36_500) { config.retentionDays = days }
            if let ms = try timescale.integer("refresh_interval_ms", in: 100...3_600_000) { config.candleRefreshMilliseconds = ms }
        }
        if let redis = try top.section("redis") {
            try redis.only(["prefix", "max_backlog", "timeout_ms", "retry_max_backoff_ms", "drain_timeout_ms",
                            "tls_ca_file", "tls_cert_file", "tls_key_file"])
            // Checked here, not at the first connection: a typo exits 2 before anything starts.
            for (key, path) in [("tls_ca_file", \TickdConfig.redisTLSCAFile), ("tls_cert_file", \TickdConfig.redisTLSCertFile),
                                ("tls_key_file", \TickdConfig.redisTLSKeyFile)] {
                guard let file = try redis.string(key), !file.isEmpty else { continue }
                guard FileManager.default.isReadableFile(atPath: file) else {
                    throw ConfigError(key: redis.key(key), "cannot read \(file): give a PEM file tickd's user can read")
                }
                config[keyPath: path] = file
            }
            if config.redisTLSKeyFile != nil && config.redisTLSCertFile == nil {
                throw ConfigError(key: redis.key("tls_key_file"), "is set without redis.tls_cert_file: give the client certificate too")
            }
            if let prefix = try redis.string("prefix") {
                guard !prefix.isEmpty, prefix.utf8.count <= 64, !prefix.contains(where: { $0.isWhitespace }) else {
                    throw ConfigError(key: redis.key("prefix"), "must be 1-64 characters without blanks, e.g. \"ticks:\"")
                }
                config.redisPrefix = prefix
            }
            if let n = try redis.integer("max_backlog", in: 0...100_000_000) { config.redisMaxBacklog = n }
            if let ms = try redis.integer("timeout_ms", in: 10...600_000) { config.redisTimeoutMilliseconds = ms }
            if let ms = try redis.integer("retry_max_backoff_ms", in: 10...600_000) { config.redisRetryMaxBackoffMilliseconds = ms }
            if let ms = try redis.integer("drain_timeout_ms", in: 0...3_600_000) { config.redisDrainTimeoutMilliseconds = ms }
        }
        if let batch = try top.section("batch") {
            try batch.only(["max_ticks", "max_age_ms", "linger_ms"])
            if let ms = try batch.integer("linger_ms", in: -1...600_000) { config.batchLingerMilliseconds = ms < 0 ? nil : ms }
            if let ticks = try batch.integer("max_ticks", in: 1...1_000_000) { config.batchMaxTicks = ticks }
            if let ms = try batch.integer("max_age_ms", in: 1...600_000) { config.batchMaxAgeMilliseconds = ms }
        }
        if let sources = try top.section("sources") {
            try sources.only(["listen", "connect", "files"])
            for section in try sources.sectionList("listen") { config.listeners.append(try listener(section, config: config)) }
            for section in try sources.sectionList("connect") { config.upstreams.append(try upstream(section, config: config)) }
            for section in try sources.sectionList("files") { config.files.append(try fileSource(section)) }
        }
        if let pipeline = try top.section("pipeline") {
            try pipeline.only(["max_queued_ticks"])
            if let n = try pipeline.integer("max_queued_ticks", in: 1...50_000_000) { config.maxQueuedTicks = n }
        }
        if let journal = try top.section("journal") {
            try journal.only(["enabled", "directory", "segment_bytes", "max_bytes", "fsync", "fsync_interval_ms"])
            if let enabled = try journal.string("enabled") {
                guard let flag = Bool(enabled.lowercased()) else { throw ConfigError(key: journal.key("enabled"), "must be true or false") }
                config.journalEnabled = flag
            }
            if let directory = try journal.string("directory") {
                guard !directory.isEmpty else { throw ConfigError(key: journal.key("directory"), "must not be empty") }
                config.journalDirectory = directory
            }
            if let n = try journal.integer("segment_bytes", in: 65_536...(1 << 30)) { config.journalSegmentBytes = n }
            if let n = try journal.integer("max_bytes", in: (1 << 20)...(1 << 40)) { config.journalMaxBytes = n }
            if config.journalMaxBytes < 2 * config.journalSegmentBytes {
                throw ConfigError(key: journal.key("max_bytes"), "must be at least twice journal.segment_bytes (\(2 * config.journalSegmentBytes)), got \(config.journalMaxBytes)")
            }
            if let policy = try journal.choice("fsync", FsyncPolicy.self) { config.journalFsync = policy }
            if let ms = try journal.integer("fsync_interval_ms", in: 1...60_000) { config.journalFsyncIntervalMilliseconds = ms }
        }
        if let shutdown = try top.section("shutdown") {
            try shutdown.only(["drain_timeout_ms"])
            if let ms = try shutdown.integer("drain_timeout_ms", in: 100...3_600_000) { config.drainTimeoutMilliseconds = ms }
        }
        if let log = try top.section("log") {
            try log.only(["format", "level"])
            if let format = try log.choice("format", LogFormat.self) { config.logFormat = format }
            if let level = try log.string("level") {
                guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                    throw ConfigError(key: log.key("level"), "must be one of trace, debug, info, notice, warning, error, critical")
                }
                config.logLevel = parsed
            }
        }
        if let metrics = try top.section("metrics") {
            try metrics.only(["address", "allow_public"])
            if let address = try metrics.string("address") {
                if address.isEmpty { config.metricsAddress = nil } else {
                    _ = try hostPort(address, key: metrics.key("address"), allowZero: true)
                    config.metricsAddress = address
                }
            }
            if let allow = try metrics.string("allow_public") {
                guard let flag = Bool(allow.lowercased()) else { throw ConfigError(key: metrics.key("allow_public"), "must be true or false") }
                config.metricsAllowPublic = flag
            }
        }
        if let deadLetter = try top.section("dead_letter") {
            try deadLetter.only(["path"])
            if let path = try deadLetter.string("path") { config.deadLetterPath = path }
        }
    }
}

extension ConfigLoader {
    /// A TCP listener from `sources.listen[]`.
    static func listener(_ section: Section, config: TickdConfig) throws(ConfigError) -> ListenerOptions {
        try section.only(["address", "format", "max_connections", "max_connections_per_peer", "idle_timeout_ms",
                          "evict_after_ms", "max_line_bytes", "allow"])
        guard let address = try section.string("address") else { throw ConfigError(key: section.key("address"), "is required (HOST:PORT)") }
        let (host, port) = try hostPort(address, key: section.key("address"), allowZero: true)
        var options = ListenerOptions(host: host, port: port, maxLineBytes: config.maxLineBytes)
        if let format = try section.choice("format", FeedFormat.self) { options.format = format } else { options.format = config.format }
        if let n = try section.integer("max_connections", in: 1...100_000) { options.maxConnections = n }
        if let n = try section.integer("max_connections_per_peer", in: 1...100_000) { options.maxConnectionsPerPeer = n }
        if let ms = try section.integer("idle_timeout_ms", in: 0...86_400_000) { options.idleTimeout = ms == 0 ? nil : .milliseconds(ms) }
        if let ms = try section.integer("evict_after_ms", in: 0...86_400_000) { options.evictAfter = ms == 0 ? nil : .milliseconds(ms) }
        if let n = try section.integer("max_line_bytes", in: 64...16_777_216) { options.maxLineBytes = n }
        if let entries = try section.strings("allow") {
            guard let allow = AddressAllowList(entries) else {
                throw ConfigError(key: section.key("allow"), "entries must be IP addresses or CIDR ranges (10.0.0.0/8, ::1)")
            }
            options.allow = allow
        }
        return options
    }

    /// An upstream feed from `sources.connect[]`.
    static func upstream(_ section: Section, config: TickdConfig) throws(ConfigError) -> UpstreamOptions {
        try section.only(["address", "format", "subscribe", "retry_max_backoff_ms", "connect_timeout_ms", "max_line_bytes"])
        guard let address = try section.string("address") else { throw ConfigError(key: section.key("address"), "is required (HOST:PORT)") }
        let (host, port) = try hostPort(address, key: section.key("address"), allowZero: false)
        var options = UpstreamOptions(host: host, port: port, format: config.format, maxLineBytes: config.maxLineBytes)
        if let format = try section.choice("format", FeedFormat.self) { options.format = format }
        if let line = try section.string("subscribe") {
            guard !line.contains("\n"), !line.contains("\r") else { throw ConfigError(key: section.key("subscribe"), "must be one line") }
            options.subscribe = line
        }
        if let ms = try section.integer("retry_max_backoff_ms", in: 10...3_600_000) { options.maxBackoff = .milliseconds(ms) }
        if let ms = try section.integer("connect_timeout_ms", in: 10...600_000) { options.connectTimeout = .milliseconds(ms) }
        if let n = try section.integer("max_line_bytes", in: 64...16_777_216) { options.maxLineBytes = n }
        return options
    }

    static func fileSource(_ section: Section) throws(ConfigError) -> FileSourceOptions {
        try section.only(["path", "format", "speed"])
        guard let path = try section.string("path") else { throw ConfigError(key: section.key("path"), "is required") }
        var options = FileSourceOptions(path: path)
        options.format = try section.choice("format", FeedFormat.self)
        if let text = try section.string("speed") {
            guard let speed = ReplaySpeed(text) else { throw ConfigError(key: section.key("speed"), "must be max, realtime or Nx (e.g. 60x)") }
            options.speed = speed
        }
        return options
    }

    /// `HOST:PORT`, `[::1]:PORT`, `:PORT` (all interfaces).
    public static func hostPort(_ text: String, key: String, allowZero: Bool) throws(ConfigError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else { throw ConfigError(key: key, "'\(text)' is not HOST:PORT") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(text[text.index(after: colon)...]), (allowZero ? 0 : 1)...65535 ~= port else {
            throw ConfigError(key: key, "'\(text)' has no valid port (\(allowZero ? 0 : 1)-65535)")
        }
        return (host, port)
    }

    /// Environment variables that set single keys: `TICKD_` + the key path in upper case with
    /// `_` for `.` (`TICKD_BATCH_MAX_TICKS=1000` sets `batch.max_ticks`). Applied after the file,
    /// validated the same way. `TICKD_CONFIG` and the dev scripts' own variables are not keys.
    public static let environmentKeys: [String] = [
        "exchange.timezone", "exchange.profile", "exchange.price_limit_action", "exchange.off_tick_action", "exchange.stale_after_ms",
        "exchange.feed_silent_after_ms", "input.format", "input.max_line_bytes", "input.max_future_skew_seconds",
        "input.csv.delimiter", "input.csv.header", "symbols.unknown", "symbols.instruments_file", "symbols.reload_interval_ms", "dead_letter.path",
        "database.ticks_table", "database.stocks_table", "database.retry_max_backoff_ms", "database.writers", "timescale.enabled",
        "timescale.chunk_interval_hours", "timescale.compress_after_days", "timescale.retention_days", "timescale.refresh_interval_ms",
        "batch.max_ticks", "batch.max_age_ms", "batch.linger_ms", "redis.prefix", "redis.max_backlog", "redis.timeout_ms",
        "redis.retry_max_backoff_ms", "redis.drain_timeout_ms", "redis.tls_ca_file", "redis.tls_cert_file", "redis.tls_key_file", "pipeline.max_queued_ticks", "shutdown.drain_timeout_ms",
        "journal.enabled", "journal.directory", "journal.segment_bytes", "journal.max_bytes", "journal.fsync",
        "journal.fsync_interval_ms",
        "log.format", "log.level", "metrics.address", "metrics.allow_public",
    ]
    static let notKeys: Set<String> = ["TICKD_CONFIG", "TICKD_DB_PASSWORD", "TICKD_DEV_DIR", "TICKD_PG_PORT", "TICKD_REDIS_PORT", "TICKD_PG_SOCKET_DIR",
                                        "TICKD_TIMESCALE", "TICKD_FUZZ_RUNS"]

    static func applyEnvironment(_ environment: [String: String], to config: inout TickdConfig) throws(ConfigError) {
        let byVariable = Dictionary(uniqueKeysWithValues: environmentKeys.map {
            ("TICKD_" + $0.uppercased().replacingOccurrences(of: ".", with: "_"), $0)
        })
        var tree: [String: Any] = [:]
        for (variable, value) in environment.sorted(by: { $0.key < $1.key })
        where variable.hasPrefix("TICKD_") && !notKeys.contains(variable) {
            guard let path = byVariable[variable] else {
                throw ConfigError(key: variable, "unknown environment variable (TICKD_<SECTION>_<KEY> of a config key, e.g. TICKD_BATCH_MAX_TICKS)")
            }
            let parts = path.split(separator: ".").map(String.init)
            tree = insert(value, at: parts[...], into: tree)
        }
        guard !tree.isEmpty else { return }
        do { try apply(yaml: yaml(tree, indent: ""), to: &config) } catch {
            // Name the variable, not the key path.
            let variable = "TICKD_" + error.key.uppercased().replacingOccurrences(of: ".", with: "_")
            throw ConfigError(key: variable, error.message)
        }
    }

    private static func insert(_ value: String, at path: ArraySlice<String>, into tree: [String: Any]) -> [String: Any] {
        var tree = tree
        let head = path.first!
        if path.count == 1 {
            tree[head] = value
        } else {
            tree[head] = insert(value, at: path.dropFirst(), into: tree[head] as? [String: Any] ?? [:])
        }
        return tree
    }

    private static func yaml(_ tree: [String: Any], indent: String) -> String {
        tree.keys.sorted().map { key in
            if let child = tree[key] as? [String: Any] { return "\(indent)\(key):\n" + yaml(child, indent: indent + "  ") }
            let text = (tree[key] as? String ?? "").replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\(indent)\(key): \"\(text)\"\n"
        }.joined()
    }
}

/// A YAML mapping with its dotted path, for strict reading.
struct Section {
    let path: String
    let pairs: [(String, Node)]

    init(_ node: Node, path: String) throws(ConfigError) {
        guard case .mapping(let mapping) = node else {
            throw ConfigError(key: path.isEmpty ? "config" : path, "must be a mapping of keys to values")
        }
        var pairs: [(String, Node)] = []
        for (key, value) in mapping {
            guard let name = key.string else { throw ConfigError(key: path, "keys must be strings") }
            pairs.append((name, value))
        }
        self.path = path
        self.pairs = pairs
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func only(_ known: [String]) throws(ConfigError) {
        for (name, _) in pairs where !known.contains(name) {
            throw ConfigError(key: key(name), "unknown key (known here: \(known.joined(separator: ", ")))")
        }
    }

    func node(_ name: String) -> Node? {
        guard let node = pairs.last(where: { $0.0 == name })?.1 else { return nil }
        if case .scalar(let scalar) = node, scalar.string == "~" || scalar.string == "null" || scalar.string.isEmpty,
           scalar.style == .plain { return nil }
        return node
    }

    func sectionList(_ name: String) throws(ConfigError) -> [Section] {
        guard let node = node(name) else { return [] }
        guard case .sequence(let items) = node else { throw ConfigError(key: key(name), "must be a list") }
        var sections: [Section] = []
        for (index, item) in items.enumerated() { sections.append(try Section(item, path: "\(key(name))[\(index)]")) }
        return sections
    }

    func section(_ name: String) throws(ConfigError) -> Section? {
        guard let node = node(name) else { return nil }
        return try Section(node, path: key(name))
    }

    func string(_ name: String) throws(ConfigError) -> String? {
        guard let node = node(name) else { return nil }
        guard case .scalar(let scalar) = node else { throw ConfigError(key: key(name), "must be a single value") }
        return scalar.string
    }

    func tableName(_ name: String) throws(ConfigError) -> TableName? {
        guard let text = try string(name) else { return nil }
        guard let table = TableName(text) else {
            throw ConfigError(key: key(name), "'\(text)' is not a table name (letters, digits and _, optionally schema.table)")
        }
        return table
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let text = try string(name) else { return nil }
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")), range.contains(value) else {
            throw ConfigError(key: key(name), "must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type) throws(ConfigError) -> T?
    where T.RawValue == String {
        guard let text = try string(name) else { return nil }
        guard let value = T(rawValue: text.lowercased()) else {
            throw ConfigError(key: key(name), "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
        }
        return value
    }

    func strings(_ name: String) throws(ConfigError) -> [String]? {
        guard let node = node(name) else { return nil }
        guard case .sequence(let sequence) = node else { throw ConfigError(key: key(name), "must be a list") }
        var values: [String] = []
        for item in sequence {
            guard case .scalar(let scalar) = item else { throw ConfigError(key: key(name), "must be a list of strings") }
            values.append(scalar.string)
        }
        return values
    }

    func stringMap(_ name: String) throws(ConfigError) -> [String: String]? {
        guard let section = try section(name) else { return nil }
        var map: [String: String] = [:]
        for (alias, value) in section.pairs {
            guard case .scalar(let scalar) = value, !scalar.string.isEmpty else {
                throw ConfigError(key: section.key(alias), "must be a symbol")
            }
            map[alias] = scalar.string
        }
        return map
    }
}
