import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The HTTP endpoint: `GET /metrics` (Prometheus text format), `/healthz` (200 while the process
/// runs), `/readyz` (200 when ready, 503 with the reasons otherwise).
struct MetricsServer: Service, CustomStringConvertible {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let readiness: Readiness
    let logger: Logger

    var description: String { "metrics http://\(host):\(port)" }

    func run() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [registry, readiness] channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(HTTPEndpointHandler(registry: registry, readiness: readiness))
                }
            }
            .bind(host: host, port: port).get()
        logger.notice("metrics endpoint listening", metadata: ["address": "http://\(host):\(channel.localAddress?.port ?? port)",
                                                               "port": "\(channel.localAddress?.port ?? port)"])
        try await withGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

final class HTTPEndpointHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let registry: PrometheusCollectorRegistry
    let readiness: Readiness

    init(registry: PrometheusCollectorRegistry, readiness: Readiness) {
        self.registry = registry
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        let (status, type, body): (HTTPResponseStatus, String, String)
        switch (request.method, path) {
        case (.GET, "/metrics"):
            (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToString())
        case (.GET, "/healthz"):
            (status, type, body) = (.ok, "text/plain", "ok\n")
        case (.GET, "/readyz"):
            let problems = readiness.problems
            let degraded = readiness.degraded
            (status, type, body) = problems.isEmpty
                ? (.ok, "text/plain", degraded.isEmpty ? "ready\n" : "ready, degraded: " + degraded.joined(separator: "; ") + "\n")
                : (.serviceUnavailable, "text/plain", "not ready: " + problems.joined(separator: "; ") + "\n")
        default:
            (status, type, body) = (.notFound, "text/plain", "not found\n")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
