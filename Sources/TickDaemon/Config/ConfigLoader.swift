import Foundation
import TickCodecs
import TickPipeline
import TickSinks
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
        if let url = environment["DATABASE_URL"], !url.isEmpty { config.databaseURL = url }
        if let url = environment["REDIS_URL"], !url.isEmpty { config.redisURL = url }
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
        try top.only(["exchange", "input", "symbols", "dead_letter", "database", "timescale", "batch", "redis"])
        if let exchange = try top.section("exchange") {
            try exchange.only(["timezone"])
            if let zone = try exchange.string("timezone") { config.timezone = zone }
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
            try symbols.only(["unknown", "instruments_file", "strip_prefixes", "strip_suffixes", "aliases"])
            if let policy = try symbols.choice("unknown", SymbolRules.UnknownPolicy.self) { config.unknownSymbols = policy }
            if let file = try symbols.string("instruments_file") { config.instrumentsFile = file }
            if let prefixes = try symbols.strings("strip_prefixes") { config.stripPrefixes = prefixes }
            if let suffixes = try symbols.strings("strip_suffixes") { config.stripSuffixes = suffixes }
            if let aliases = try symbols.stringMap("aliases") { config.aliases = aliases }
        }
        if let database = try top.section("database") {
            try database.only(["ticks_table", "stocks_table", "retry_max_backoff_ms"])
            if let name = try database.tableName("ticks_table") { config.ticksTable = name }
            if let name = try database.tableName("stocks_table") { config.stocksTable = name }
            if let ms = try database.integer("retry_max_backoff_ms", in: 10...600_000) { config.retryMaxBackoffMilliseconds = ms }
        }
        if let timescale = try top.section("timescale") {
            try timescale.only(["enabled", "chunk_interval_hours", "compress_after_days", "retention_days"])
            if let mode = try timescale.choice("enabled", SchemaOptions.TimescaleMode.self) { config.timescale = mode }
            if let hours = try timescale.integer("chunk_interval_hours", in: 1...8760) { config.chunkIntervalHours = hours }
            if let days = try timescale.integer("compress_after_days", in: 1...36_500) { config.compressAfterDays = days }
            if let days = try timescale.integer("retention_days", in: 0...36_500) { config.retentionDays = days }
        }
        if let redis = try top.section("redis") {
            try redis.only(["prefix", "max_backlog", "timeout_ms", "retry_max_backoff_ms", "drain_timeout_ms"])
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
            try batch.only(["max_ticks", "max_age_ms"])
            if let ticks = try batch.integer("max_ticks", in: 1...1_000_000) { config.batchMaxTicks = ticks }
            if let ms = try batch.integer("max_age_ms", in: 1...600_000) { config.batchMaxAgeMilliseconds = ms }
        }
        if let deadLetter = try top.section("dead_letter") {
            try deadLetter.only(["path"])
            if let path = try deadLetter.string("path") { config.deadLetterPath = path }
        }
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
