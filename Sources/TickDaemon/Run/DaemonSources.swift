import Logging
import NIOPosix
import ServiceLifecycle
import TickEngine
import TickJournal
import TickSources

/// The sources of `tickd run`, from the configuration: listeners and upstream connections (live:
/// journaled before they are queued, since they cannot be read again), files, and Kafka groups
/// (read again from the database's offsets: no journal).
struct DaemonSources {
    let listeners: [TCPFeedServer]
    let upstreams: [TCPFeedClient]
    let files: [FileSourceService]
    let kafka: [KafkaSourceService]

    init(config: TickdConfig, url: String, wiring: SourceWiring, journal: Journal?, queue: TickQueue, io: BlockingIO,
         first: WriterLane, rebalance: KafkaRebalance) throws {
        let group = MultiThreadedEventLoopGroup.singleton
        var live = wiring
        if let journal {
            let gate = JournalGate(journal: journal, queue: queue, io: io, logger: Logger(label: "tickd.journal"))
            live.deliver = { chunk in await gate.deliver(chunk) }
        }
        listeners = try config.listeners.map { listener in
            var options = listener
            options.publishers = config.publishers
            return try TCPFeedServer(options: options, group: group, wiring: live.logging(as: "tickd.tcp"))
        }
        upstreams = config.upstreams.map { TCPFeedClient(options: $0, group: group, wiring: live.logging(as: "tickd.upstream")) }
        files = config.files.map {
            FileSourceService(path: $0.path, format: $0.format ?? config.format, speed: $0.speed, maxLineBytes: config.maxLineBytes,
                              wiring: wiring.logging(as: "tickd.file"), io: io, lane: first)
        }
        kafka = config.kafka.map {
            KafkaSourceService(options: $0, wiring: wiring.logging(as: "tickd.kafka"), databaseURL: url, io: io, rebalance: rebalance)
        }
    }

    /// One service each; a file's service ends when the file does, without ending the group.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        listeners.map { .init(service: ListenerService(server: $0), serviceName: $0.options.name) }
            + upstreams.map { .init(service: UpstreamService(client: $0), serviceName: $0.options.name) }
            + files.map { .init(service: $0, successTerminationBehavior: .ignore, serviceName: "file \($0.path)") }
            + kafka.map { .init(service: $0, serviceName: $0.description) }
    }
}
