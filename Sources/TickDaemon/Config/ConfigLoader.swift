import Foundation
import Logging
import TickJournal
import TickModel
import TickCodecs
import TickNormalisation
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
        config.databaseURL = try secret("DATABASE_URL", environment) ?? config.databaseURL
        config.redisURL = try secret("REDIS_URL", environment) ?? config.redisURL
        // systemd credentials (LoadCredential=database_url:…, redis_url:…) when the variables are unset.
        if let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            // A credential that is absent or empty is not given (the variable may come later).
            func credential(_ name: String) -> String? { try? readSecret("\(directory)/\(name)", key: name) }
            if config.databaseURL == nil { config.databaseURL = credential("database_url") }
            if config.redisURL == nil { config.redisURL = credential("redis_url") }
        }
        _ = try config.exchangeZone()
        return config
    }

    /// A secret from the environment: `NAME`, or the content of the file `NAME_FILE` names
    /// (Docker and Kubernetes secrets; trailing whitespace dropped). Both set, or a file that
    /// cannot be read or is empty, exits 2.
    static func secret(_ name: String, _ environment: [String: String]) throws(ConfigError) -> String? {
        let value = environment[name].flatMap { $0.isEmpty ? nil : $0 }
        guard let path = environment["\(name)_FILE"], !path.isEmpty else { return value }
        guard value == nil else { throw ConfigError(key: name, "and \(name)_FILE are both set: give one") }
        return try readSecret(path, key: "\(name)_FILE")
    }

    /// The content of a secret file, trimmed; exits 2 naming `key` when it cannot be read or is empty.
    static func readSecret(_ path: String, key: String) throws(ConfigError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigError(key: key, "cannot read '\(path)'") }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw ConfigError(key: key, "'\(path)' is empty") }
        return secret
    }

    /// Applies the YAML text on top of `config`: every key declared in `ConfigKeys`, strictly.
    public static func apply(yaml text: String, to config: inout TickdConfig) throws(ConfigError) {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError(key: "config", "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let root else { return } // empty file: defaults
        try ConfigKeys.read(ConfigKeys.all, from: try Section(root, path: ""), into: &config)
        try ConfigKeys.check(config)
    }
}

extension ConfigLoader {
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
    public static let environmentKeys: [String] = ConfigKeys.all.filter(\.environment).map(\.path)
    static let notKeys: Set<String> = ["TICKD_CONFIG", "TICKD_DB_PASSWORD", "TICKD_DEV_DIR", "TICKD_PG_PORT", "TICKD_REDIS_PORT", "TICKD_PG_SOCKET_DIR",
                                        "TICKD_TIMESCALE", "TICKD_FUZZ_RUNS", "TICKD_COMPOSE_CHECK"]

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
