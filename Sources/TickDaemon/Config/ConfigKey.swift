import TickSinks

/// A key's value as `check-config` prints it, in a form the loader reads back.
enum ConfigValue {
    /// A plain token: a number, an enum value, `60x`.
    case token(String)
    /// Free text, printed double-quoted.
    case text(String)
    /// A flow list of free text: `["NSE:", "XNAI:"]`.
    case list([String])
    /// A nested mapping of free text (`symbols.aliases`).
    case map([(String, String)])
    /// A list of mappings (`sources.listen`): each entry's keys and values.
    case entries([[(String, ConfigValue)]])
    /// A nested mapping of names to flow lists (`publishers`).
    case listMap([(String, [String])])

    /// The value's YAML: the text after `key:` on the key's line, then any lines below it.
    func lines(indent: String) -> [String] {
        switch self {
        case .token(let token): return [" \(token)"]
        case .text(let text): return [" \(Self.quoted(text))"]
        case .list(let items): return [" [\(items.map(Self.quoted).joined(separator: ", "))]"]
        case .map(let pairs):
            return pairs.isEmpty ? [" {}"] : [""] + pairs.map { "\(indent)  \(Self.quoted($0.0)): \(Self.quoted($0.1))" }
        case .listMap(let pairs):
            return pairs.isEmpty ? [" {}"] : [""] + pairs.map { "\(indent)  \(Self.quoted($0.0)): [\($0.1.map(Self.quoted).joined(separator: ", "))]" }
        case .entries(let entries):
            guard !entries.isEmpty else { return [" []"] }
            var lines = [""]
            for entry in entries {
                for (index, (name, value)) in entry.enumerated() {
                    let lead = index == 0 ? "\(indent)  - " : "\(indent)    "
                    var valueLines = value.lines(indent: indent + "    ")
                    lines.append(lead + name + ":" + valueLines.removeFirst())
                    lines += valueLines
                }
            }
            return lines
        }
    }

    /// A YAML double-quoted scalar: a JSON string is one.
    static func quoted(_ text: String) -> String { LineLogHandler.jsonString(text) }
}

/// One configuration key, declared once (in `ConfigKeys`): its path, how it is read and checked
/// from YAML — and so from its `TICKD_…` variable, which is applied as YAML — and how
/// `check-config` prints it. `Root` is what the key sets: the whole configuration, or one entry of
/// a list such as `sources.listen`.
struct ConfigKey<Root>: Sendable {
    /// The dotted path from the root: `batch.max_ticks`, `input.csv.delimiter`; for a list
    /// entry, the key's name in the entry (`address`).
    let path: String
    /// Whether `TICKD_<PATH>` sets it (single values; lists and maps only from the file).
    let environment: Bool
    /// Reads the key from the mapping that holds it (present or not: a required key throws when absent).
    let read: @Sendable (Section, inout Root) throws(ConfigError) -> Void
    /// The value to print; nil leaves the key out (an optional that is unset).
    let value: @Sendable (Root) -> ConfigValue?

    /// The key's own name (the last part of the path).
    var name: String { String(path.split(separator: ".").last!) }
    /// The sections above the key, outermost first.
    var sections: [String] { path.split(separator: ".").dropLast().map(String.init) }
    /// The `TICKD_…` variable of the key.
    var variable: String { "TICKD_" + path.uppercased().replacingOccurrences(of: ".", with: "_") }
}

extension ConfigKey {
    /// A whole number within `range`.
    static func integer(_ path: String, _ range: ClosedRange<Int>, _ keyPath: WritableKeyPath<Root, Int> & Sendable) -> ConfigKey {
        integer(path, range, get: { $0[keyPath: keyPath] }, set: { $0[keyPath: keyPath] = $1 })
    }

    /// A whole number within `range`, converted on the way in and out.
    static func integer(_ path: String, _ range: ClosedRange<Int>, get: @escaping @Sendable (Root) -> Int,
                        set: @escaping @Sendable (inout Root, Int) -> Void) -> ConfigKey {
        ConfigKey(path: path, environment: true, read: { (section: Section, root: inout Root) throws(ConfigError) in
            if let value = try section.integer(path.lastPart, in: range) { set(&root, value) }
        }, value: { .token(String(get($0))) })
    }

    /// One of an enumeration's raw values.
    static func choice<T: RawRepresentable & CaseIterable & Sendable>(_ path: String, _ keyPath: WritableKeyPath<Root, T> & Sendable) -> ConfigKey
    where T.RawValue == String {
        ConfigKey(path: path, environment: true, read: { (section: Section, root: inout Root) throws(ConfigError) in
            if let value = try section.choice(path.lastPart, T.self) { root[keyPath: keyPath] = value }
        }, value: { .token($0[keyPath: keyPath].rawValue) })
    }

    /// `true` or `false`.
    static func flag(_ path: String, _ keyPath: WritableKeyPath<Root, Bool> & Sendable) -> ConfigKey {
        ConfigKey(path: path, environment: true, read: { (section: Section, root: inout Root) throws(ConfigError) in
            guard let text = try section.string(path.lastPart) else { return }
            guard let flag = Bool(text.lowercased()) else { throw ConfigError(key: section.key(path.lastPart), "must be true or false") }
            root[keyPath: keyPath] = flag
        }, value: { .token(String($0[keyPath: keyPath])) })
    }

    /// Free text, checked (and possibly rewritten) by `check`, which gets the key's full path.
    static func text(_ path: String, _ keyPath: WritableKeyPath<Root, String> & Sendable,
                     check: @escaping @Sendable (String, String) throws(ConfigError) -> String = { text, _ in text }) -> ConfigKey {
        ConfigKey(path: path, environment: true, read: { (section: Section, root: inout Root) throws(ConfigError) in
            if let text = try section.string(path.lastPart) { root[keyPath: keyPath] = try check(text, section.key(path.lastPart)) }
        }, value: { .text($0[keyPath: keyPath]) })
    }

    /// Optional free text: an empty value unsets it.
    static func optionalText(_ path: String, _ keyPath: WritableKeyPath<Root, String?> & Sendable,
                             check: @escaping @Sendable (String, String) throws(ConfigError) -> String = { text, _ in text }) -> ConfigKey {
        ConfigKey(path: path, environment: true, read: { (section: Section, root: inout Root) throws(ConfigError) in
            guard let text = try section.string(path.lastPart) else { return }
            root[keyPath: keyPath] = text.isEmpty ? nil : try check(text, section.key(path.lastPart))
        }, value: { .text($0[keyPath: keyPath] ?? "") })
    }

    /// A list of free text.
    static func texts(_ path: String, _ keyPath: WritableKeyPath<Root, [String]> & Sendable) -> ConfigKey {
        ConfigKey(path: path, environment: false, read: { (section: Section, root: inout Root) throws(ConfigError) in
            if let values = try section.strings(path.lastPart) { root[keyPath: keyPath] = values }
        }, value: { .list($0[keyPath: keyPath]) })
    }
}

extension String {
    /// The last part of a dotted key path.
    var lastPart: String { split(separator: ".").last.map(String.init) ?? self }
}

/// Reading and printing a whole table of keys.
enum ConfigKeys {
    /// Applies every key of `keys` that `section` holds to `root`, refusing names no key declares.
    static func read<Root>(_ keys: [ConfigKey<Root>], from section: Section, into root: inout Root) throws(ConfigError) {
        try checkNames(section, keys.map { $0.path.split(separator: ".").map(String.init) })
        for key in keys {
            var owner: Section? = section
            for name in key.sections { owner = try owner?.section(name) }
            guard let owner else { continue }
            try key.read(owner, &root)
        }
    }

    /// Every name in `section` must start some key's path (`paths` relative to it).
    private static func checkNames(_ section: Section, _ paths: [[String]]) throws(ConfigError) {
        var known: [String] = []
        for path in paths where !known.contains(path[0]) { known.append(path[0]) }
        try section.only(known)
        for name in known {
            let below = paths.filter { $0.count > 1 && $0[0] == name }.map { Array($0.dropFirst()) }
            guard !below.isEmpty, let child = try section.section(name) else { continue }
            try checkNames(child, below)
        }
    }

    /// The keys of `root` as YAML, sections opened as the paths go.
    static func yaml<Root>(_ keys: [ConfigKey<Root>], of root: Root, indent: String = "") -> [String] {
        var lines: [String] = []
        var open: [String] = []
        for key in keys {
            guard let value = key.value(root) else { continue }
            let sections = key.sections
            var common = 0
            while common < min(open.count, sections.count) && open[common] == sections[common] { common += 1 }
            open = Array(open.prefix(common))
            for name in sections.dropFirst(common) {
                lines.append(indent + String(repeating: "  ", count: open.count) + name + ":")
                open.append(name)
            }
            let pad = indent + String(repeating: "  ", count: sections.count)
            var valueLines = value.lines(indent: pad)
            lines.append(pad + key.name + ":" + valueLines.removeFirst())
            lines += valueLines
        }
        return lines
    }

    /// The entry keys of one list entry as the printed pairs.
    static func entry<Root>(_ keys: [ConfigKey<Root>], of root: Root) -> [(String, ConfigValue)] {
        keys.compactMap { key in key.value(root).map { (key.path, $0) } }
    }
}
