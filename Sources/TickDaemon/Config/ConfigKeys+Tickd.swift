import Foundation
import Kafka
import Logging
import TickCodecs
import TickJournal
import TickKafka
import TickModel
import TickNormalisation
import TickSinks
import TickSources

/// Every key of the configuration file, in the order `check-config` prints them. Parsing, the
/// `TICKD_…` variables, the error messages and `check-config`'s output all come from here.
extension ConfigKeys {
    static let all: [ConfigKey<TickdConfig>] = exchange + input + symbols + storage + redis + pipeline + operations

    static let exchange: [ConfigKey<TickdConfig>] = [
        .text("exchange.timezone", \.timezone),
        ConfigKey(path: "exchange.profile", environment: true, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            if let profile = try section.string("profile") { config.exchangeProfile = try ExchangeProfile.load(profile, key: section.key("profile")) }
        }, value: { .text($0.exchangeProfile.name) }),
        .choice("exchange.price_limit_action", \.priceLimitAction),
        .choice("exchange.off_tick_action", \.offTickAction),
        .choice("exchange.halted_action", \.haltedAction),
        .integer("exchange.stale_after_ms", 1000...86_400_000, \.staleAfterMilliseconds),
        .integer("exchange.feed_silent_after_ms", 1000...86_400_000, \.feedSilentAfterMilliseconds),
    ]

    static let input: [ConfigKey<TickdConfig>] = [
        .choice("input.format", \.format),
        .integer("input.max_line_bytes", 64...16_777_216, \.maxLineBytes),
        .integer("input.max_future_skew_seconds", 0...31_536_000, get: { Int($0.maxFutureSkewSeconds) }, set: { $0.maxFutureSkewSeconds = Int64($1) }),
        ConfigKey(path: "input.csv.delimiter", environment: true, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            guard let delimiter = try section.string("delimiter") else { return }
            let allowed: [String: UInt8] = [",": 0x2C, ";": 0x3B, "\t": 0x09, "\\t": 0x09, "tab": 0x09, "|": 0x7C]
            guard let byte = allowed[delimiter] else { throw ConfigError(key: section.key("delimiter"), "must be one of , ; \\t |") }
            config.csv.delimiter = byte
        }, value: { .text($0.csv.delimiter == 0x09 ? "\\t" : String(UnicodeScalar($0.csv.delimiter))) }),
        .choice("input.csv.header", \.csv.header),
        ConfigKey(path: "input.csv.columns", environment: false, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            guard let columns = try section.strings("columns") else { return }
            config.csv.columns = try columns.map { (name) throws(ConfigError) -> TickField in
                guard let field = TickField.named(name) else {
                    throw ConfigError(key: section.key("columns"), "'\(name)' is not a field (time, symbol, open, high, low, close, volume, price, seq or an alias)")
                }
                return field
            }
        }, value: { .list($0.csv.columns.map(\.description)) }),
    ]

    static let symbols: [ConfigKey<TickdConfig>] = [
        .choice("symbols.unknown", \.unknownSymbols),
        .text("symbols.instruments_file", \.instrumentsFile),
        .integer("symbols.reload_interval_ms", 100...3_600_000, \.instrumentReloadMilliseconds),
        .texts("symbols.strip_prefixes", \.stripPrefixes),
        .texts("symbols.strip_suffixes", \.stripSuffixes),
        ConfigKey(path: "symbols.aliases", environment: false, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            if let aliases = try section.stringMap("aliases") { config.aliases = aliases }
        }, value: { config in .map(config.aliases.keys.sorted().map { ($0, config.aliases[$0]!) }) }),
        .text("dead_letter.path", \.deadLetterPath),
    ]

    static let storage: [ConfigKey<TickdConfig>] = [
        ConfigKey(path: "database.ticks_table", environment: true, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            if let name = try section.tableName("ticks_table") { config.ticksTable = name }
        }, value: { .text($0.ticksTable.description) }),
        ConfigKey(path: "database.stocks_table", environment: true, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            if let name = try section.tableName("stocks_table") { config.stocksTable = name }
        }, value: { .text($0.stocksTable.description) }),
        .integer("database.retry_max_backoff_ms", 10...600_000, \.retryMaxBackoffMilliseconds),
        .integer("database.writers", 1...8, \.databaseWriters),
        .choice("timescale.enabled", \.timescale),
        .integer("timescale.chunk_interval_hours", 1...8760, \.chunkIntervalHours),
        .integer("timescale.compress_after_days", 1...36_500, \.compressAfterDays),
        .integer("timescale.retention_days", 0...36_500, \.retentionDays),
        .integer("timescale.refresh_interval_ms", 100...3_600_000, \.candleRefreshMilliseconds),
        .integer("batch.max_ticks", 1...1_000_000, \.batchMaxTicks),
        .integer("batch.max_age_ms", 1...600_000, \.batchMaxAgeMilliseconds),
        .integer("batch.linger_ms", -1...600_000, get: { $0.batchLingerMilliseconds ?? -1 },
                 set: { $0.batchLingerMilliseconds = $1 < 0 ? nil : $1 }),
    ]

    static let redis: [ConfigKey<TickdConfig>] = [
        .text("redis.prefix", \.redisPrefix, check: { (prefix, key) throws(ConfigError) in try channelPrefix(prefix, key, example: "ticks:") }),
        .text("redis.status_prefix", \.redisStatusPrefix, check: { (prefix, key) throws(ConfigError) in
            try channelPrefix(prefix, key, example: "status:")
        }),
        .text("redis.candle_prefix", \.redisCandlePrefix, check: { (prefix, key) throws(ConfigError) in
            try channelPrefix(prefix, key, example: "candles:")
        }),
        .flag("redis.live_candles", \.redisLiveCandles),
        .integer("redis.max_backlog", 0...100_000_000, \.redisMaxBacklog),
        .integer("redis.stream_max_len", 0...100_000_000, \.redisStreamMaxLength),
        .integer("redis.timeout_ms", 10...600_000, \.redisTimeoutMilliseconds),
        .integer("redis.retry_max_backoff_ms", 10...600_000, \.redisRetryMaxBackoffMilliseconds),
        .integer("redis.drain_timeout_ms", 0...3_600_000, \.redisDrainTimeoutMilliseconds),
        // Checked when read, not at the first connection: a typo exits 2 before anything starts.
        .optionalText("redis.tls_ca_file", \.redisTLSCAFile, check: readablePEM),
        .optionalText("redis.tls_cert_file", \.redisTLSCertFile, check: readablePEM),
        .optionalText("redis.tls_key_file", \.redisTLSKeyFile, check: readablePEM),
    ]

    static let pipeline: [ConfigKey<TickdConfig>] = [
        ConfigKey(path: "publishers", environment: false, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            // Empty (the documented default) is absent: no entitlements, not "nobody".
            guard let publishers = try section.section("publishers"), !publishers.pairs.isEmpty else { return }
            var entitled: [String: Set<Symbol>?] = [:]
            for (identity, _) in publishers.pairs {
                guard let symbols = try publishers.strings(identity), !symbols.isEmpty, symbols.allSatisfy({ !$0.isEmpty }) else {
                    throw ConfigError(key: publishers.key(identity), "must be a list of symbols, or [\"*\"] for every symbol")
                }
                entitled.updateValue(symbols.contains("*") ? nil : Set(symbols.map { Symbol($0.uppercased()) }), forKey: identity)
            }
            config.publishers = PublisherEntitlements(entitled)
        }, value: { config in
            config.publishers.map { publishers in
                .listMap(publishers.symbols.keys.sorted().map { identity in
                    (identity, publishers.symbols[identity]!.map { $0.map(\.rawValue).sorted() } ?? ["*"])
                })
            }
        }),
        ConfigKey(path: "sources.listen", environment: false, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            for entry in try section.sectionList("listen") {
                var options = ListenerOptions(host: "", port: 0, maxLineBytes: config.maxLineBytes)
                options.format = config.format
                try ConfigKeys.read(listener, from: entry, into: &options)
                config.listeners.append(options)
            }
        }, value: { config in .entries(config.listeners.map { ConfigKeys.entry(listener, of: $0) }) }),
        ConfigKey(path: "sources.connect", environment: false, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            for entry in try section.sectionList("connect") {
                var options = UpstreamOptions(host: "", port: 0, format: config.format, maxLineBytes: config.maxLineBytes)
                try ConfigKeys.read(upstream, from: entry, into: &options)
                config.upstreams.append(options)
            }
        }, value: { config in .entries(config.upstreams.map { ConfigKeys.entry(upstream, of: $0) }) }),
        ConfigKey(path: "sources.files", environment: false, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            for entry in try section.sectionList("files") {
                var options = FileSourceOptions(path: "")
                try ConfigKeys.read(file, from: entry, into: &options)
                config.files.append(options)
            }
        }, value: { config in .entries(config.files.map { ConfigKeys.entry(file, of: $0) }) }),
        ConfigKey(path: "sources.kafka", environment: false, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            for entry in try section.sectionList("kafka") {
                var options = KafkaFeedOptions(brokers: "", topics: [], group: "", format: config.format, maxLineBytes: config.maxLineBytes)
                try ConfigKeys.read(kafka, from: entry, into: &options)
                for (name, missing) in [("brokers", options.brokers.isEmpty), ("topics", options.topics.isEmpty), ("group", options.group.isEmpty)]
                where missing {
                    throw ConfigError(key: entry.key(name), "is required")
                }
                config.kafka.append(options)
            }
        }, value: { config in .entries(config.kafka.map { ConfigKeys.entry(kafka, of: $0) }) }),
        .integer("pipeline.max_queued_ticks", 1...50_000_000, \.maxQueuedTicks),
        .flag("journal.enabled", \.journalEnabled),
        .text("journal.directory", \.journalDirectory, check: { (directory, key) throws(ConfigError) in
            guard !directory.isEmpty else { throw ConfigError(key: key, "must not be empty") }
            return directory
        }),
        .integer("journal.segment_bytes", 65_536...(1 << 30), \.journalSegmentBytes),
        .integer("journal.max_bytes", (1 << 20)...(1 << 40), \.journalMaxBytes),
        .choice("journal.fsync", \.journalFsync),
        .integer("journal.fsync_interval_ms", 1...60_000, \.journalFsyncIntervalMilliseconds),
        .integer("shutdown.drain_timeout_ms", 100...3_600_000, \.drainTimeoutMilliseconds),
    ]

    static let operations: [ConfigKey<TickdConfig>] = [
        .choice("log.format", \.logFormat),
        ConfigKey(path: "log.level", environment: true, read: { (section: Section, config: inout TickdConfig) throws(ConfigError) in
            guard let level = try section.string("level") else { return }
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigError(key: section.key("level"), "must be one of trace, debug, info, notice, warning, error, critical")
            }
            config.logLevel = parsed
        }, value: { .token($0.logLevel.rawValue) }),
        .optionalText("metrics.address", \.metricsAddress, check: { (address, key) throws(ConfigError) in
            _ = try ConfigLoader.hostPort(address, key: key, allowZero: true)
            return address
        }),
        .flag("metrics.allow_public", \.metricsAllowPublic),
    ]

    /// A Redis channel prefix: 1-64 characters without blanks.
    @Sendable static func channelPrefix(_ prefix: String, _ key: String, example: String) throws(ConfigError) -> String {
        guard !prefix.isEmpty, prefix.utf8.count <= 64, !prefix.contains(where: { $0.isWhitespace }) else {
            throw ConfigError(key: key, "must be 1-64 characters without blanks, e.g. \"\(example)\"")
        }
        return prefix
    }

    /// A file tickd's user can read (the TLS files).
    @Sendable static func readablePEM(_ file: String, _ key: String) throws(ConfigError) -> String {
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw ConfigError(key: key, "cannot read \(file): give a PEM file tickd's user can read")
        }
        return file
    }

    /// Rules between keys, checked once the file and the environment are applied.
    static func check(_ config: TickdConfig) throws(ConfigError) {
        if config.journalMaxBytes < 2 * config.journalSegmentBytes {
            throw ConfigError(key: "journal.max_bytes",
                              "must be at least twice journal.segment_bytes (\(2 * config.journalSegmentBytes)), got \(config.journalMaxBytes)")
        }
        if config.redisTLSKeyFile != nil && config.redisTLSCertFile == nil {
            throw ConfigError(key: "redis.tls_key_file", "is set without redis.tls_cert_file: give the client certificate too")
        }
        // A PSUBSCRIBE on any of the prefixes must get its own messages only.
        func overlap(_ a: String, _ b: String) -> Bool { a.hasPrefix(b) || b.hasPrefix(a) }
        if overlap(config.redisStatusPrefix, config.redisPrefix) {
            throw ConfigError(key: "redis.status_prefix",
                              "'\(config.redisStatusPrefix)' overlaps redis.prefix '\(config.redisPrefix)': give status messages a prefix of their own, e.g. \"status:\"")
        }
        for (other, name) in [(config.redisPrefix, "redis.prefix"), (config.redisStatusPrefix, "redis.status_prefix")]
        where overlap(config.redisCandlePrefix, other) {
            throw ConfigError(key: "redis.candle_prefix",
                              "'\(config.redisCandlePrefix)' overlaps \(name) '\(other)': give candle messages a prefix of their own, e.g. \"candles:\"")
        }
    }
}

/// The keys of one entry of `sources.listen`, `sources.connect`, `sources.files` and `sources.kafka`.
extension ConfigKeys {
    static let listener: [ConfigKey<ListenerOptions>] = [
        address("address", allowZero: true, get: { ($0.host, $0.port) }, set: { $0.host = $1; $0.port = $2 }),
        .choice("format", \.format),
        .integer("max_connections", 1...100_000, \.maxConnections),
        .integer("max_connections_per_peer", 1...100_000, \.maxConnectionsPerPeer),
        .integer("idle_timeout_ms", 0...86_400_000, get: { Int($0.idleTimeout?.milliseconds ?? 0) },
                 set: { $0.idleTimeout = $1 == 0 ? nil : .milliseconds($1) }),
        .integer("evict_after_ms", 0...86_400_000, get: { Int($0.evictAfter?.milliseconds ?? 0) },
                 set: { $0.evictAfter = $1 == 0 ? nil : .milliseconds($1) }),
        .integer("max_line_bytes", 64...16_777_216, \.maxLineBytes),
        ConfigKey(path: "allow", environment: false, read: { (section: Section, options: inout ListenerOptions) throws(ConfigError) in
            guard let entries = try section.strings("allow") else { return }
            guard let allow = AddressAllowList(entries) else {
                throw ConfigError(key: section.key("allow"), "entries must be IP addresses or CIDR ranges (10.0.0.0/8, ::1)")
            }
            options.allow = allow
        }, value: { .list($0.allow?.entries ?? []) }),
        ConfigKey(path: "tls", environment: false, read: { (section: Section, options: inout ListenerOptions) throws(ConfigError) in
            guard let map = try section.stringMap("tls") else { return }
            let key = section.key("tls")
            let known = ["cert_file", "key_file", "client_ca_file", "handshake_timeout_ms"]
            if let unknown = map.keys.sorted().first(where: { !known.contains($0) }) {
                throw ConfigError(key: "\(key).\(unknown)", "is not a key of tls (\(known.joined(separator: ", ")))")
            }
            guard let cert = map["cert_file"], let privateKey = map["key_file"] else {
                throw ConfigError(key: key, "needs cert_file and key_file (PEM)")
            }
            var tls = ListenerTLS(certFile: cert, keyFile: privateKey, clientCAFile: map["client_ca_file"])
            if let text = map["handshake_timeout_ms"] {
                guard let ms = Int(text), (100...600_000).contains(ms) else {
                    throw ConfigError(key: "\(key).handshake_timeout_ms", "must be an integer from 100 to 600000, got \(text)")
                }
                tls.handshakeTimeout = .milliseconds(ms)
            }
            // Read now: a wrong path, a key that does not match, an unreadable CA exits 2 here.
            do { _ = try tls.makeContext() } catch {
                throw ConfigError(key: key, "cannot be used: \(error) (cert_file \(cert), key_file \(privateKey)\(tls.clientCAFile.map { ", client_ca_file \($0)" } ?? ""))")
            }
            options.tls = tls
        }, value: { options in
            guard let tls = options.tls else { return nil }
            var pairs = [("cert_file", tls.certFile), ("key_file", tls.keyFile)]
            if let ca = tls.clientCAFile { pairs.append(("client_ca_file", ca)) }
            pairs.append(("handshake_timeout_ms", String(tls.handshakeTimeout.milliseconds)))
            return .map(pairs)
        }),
    ]

    static let upstream: [ConfigKey<UpstreamOptions>] = [
        address("address", allowZero: false, get: { ($0.host, $0.port) }, set: { $0.host = $1; $0.port = $2 }),
        .choice("format", \.format),
        ConfigKey(path: "subscribe", environment: false, read: { (section: Section, options: inout UpstreamOptions) throws(ConfigError) in
            guard let line = try section.string("subscribe") else { return }
            guard !line.contains("\n"), !line.contains("\r") else { throw ConfigError(key: section.key("subscribe"), "must be one line") }
            options.subscribe = line.isEmpty ? nil : line
        }, value: { .text($0.subscribe ?? "") }),
        .integer("retry_max_backoff_ms", 10...3_600_000, get: { Int($0.maxBackoff.milliseconds) }, set: { $0.maxBackoff = .milliseconds($1) }),
        .integer("connect_timeout_ms", 10...600_000, get: { Int($0.connectTimeout.milliseconds) }, set: { $0.connectTimeout = .milliseconds($1) }),
        .integer("max_line_bytes", 64...16_777_216, \.maxLineBytes),
    ]

    static let file: [ConfigKey<FileSourceOptions>] = [
        ConfigKey(path: "path", environment: false, read: { (section: Section, options: inout FileSourceOptions) throws(ConfigError) in
            guard let path = try section.string("path"), !path.isEmpty else { throw ConfigError(key: section.key("path"), "is required") }
            options.path = path
        }, value: { .text($0.path) }),
        ConfigKey(path: "format", environment: false, read: { (section: Section, options: inout FileSourceOptions) throws(ConfigError) in
            options.format = try section.choice("format", FeedFormat.self)
        }, value: { $0.format.map { .token($0.rawValue) } }),
        ConfigKey(path: "speed", environment: false, read: { (section: Section, options: inout FileSourceOptions) throws(ConfigError) in
            guard let text = try section.string("speed") else { return }
            guard let speed = ReplaySpeed(text) else { throw ConfigError(key: section.key("speed"), "must be max, realtime or Nx (e.g. 60x)") }
            options.speed = speed
        }, value: { .token("\($0.speed)") }),
    ]

    static let kafka: [ConfigKey<KafkaFeedOptions>] = [
        .text("brokers", \.brokers),
        .texts("topics", \.topics),
        .text("group", \.group),
        .choice("format", \.format),
        .integer("max_line_bytes", 64...16_777_216, \.maxLineBytes),
        ConfigKey(path: "options", environment: false, read: { (section: Section, options: inout KafkaFeedOptions) throws(ConfigError) in
            if var properties = try section.stringMap("options") {
                // `<setting>_file`: the setting's value is the file's content (a secret kept out
                // of the configuration: Docker secrets, systemd credentials).
                for name in properties.keys.sorted() where name.hasSuffix("_file") {
                    let setting = String(name.dropLast(5)), path = properties.removeValue(forKey: name)!
                    var file = path
                    if !path.hasPrefix("/"), let directory = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
                        file = "\(directory)/\(path)"   // a systemd credential's name
                    }
                    properties[setting] = try ConfigLoader.readSecret(file, key: "\(section.key("options")).\(name)")
                    options.secretFiles[setting] = path
                }
                // Checked now, so that a misspelt or bad setting exits 2 before anything starts.
                if let refused = KafkaConfiguration.firstRefused(properties) {
                    throw ConfigError(key: "\(section.key("options")).\(refused.name)", refused.reason)
                }
                options.properties = properties
            }
        }, value: { options in
            // Settings read from files print as the file; SASL and TLS passwords are not printed.
            .map(options.properties.keys.sorted().map { name in
                if let file = options.secretFiles[name] { return (name + "_file", file) }
                return (name, name.contains("password") || name.contains("secret") ? "***" : options.properties[name]!)
            })
        }),
    ]

    /// A required `HOST:PORT`.
    static func address<Root>(_ name: String, allowZero: Bool, get: @escaping @Sendable (Root) -> (String, Int),
                              set: @escaping @Sendable (inout Root, String, Int) -> Void) -> ConfigKey<Root> {
        ConfigKey(path: name, environment: false, read: { (section: Section, root: inout Root) throws(ConfigError) in
            guard let text = try section.string(name) else { throw ConfigError(key: section.key(name), "is required (HOST:PORT)") }
            let (host, port) = try ConfigLoader.hostPort(text, key: section.key(name), allowZero: allowZero)
            set(&root, host, port)
        }, value: { root in
            let (host, port) = get(root)
            return .text(host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        })
    }
}
