import Logging
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// TLS on a listener (`sources.listen[].tls`): its certificate and key, and with
/// `clientCAFile` a client certificate signed by that CA is required (mutual TLS); the
/// publisher is then the certificate's subject common name.
public struct ListenerTLS: Sendable, Equatable {
    public var certFile: String
    public var keyFile: String
    /// Required client certificates must chain to this CA (PEM); nil: none is asked for.
    public var clientCAFile: String?
    /// A connection whose handshake has not completed this long after it was accepted is closed
    /// (a slow-loris handshake must not keep a connection slot).
    public var handshakeTimeout: Duration

    public init(certFile: String, keyFile: String, clientCAFile: String? = nil, handshakeTimeout: Duration = .seconds(10)) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
        self.handshakeTimeout = handshakeTimeout
    }

    /// A server context from the files as they are now: TLS 1.2 or later, and the client
    /// certificate check when `clientCAFile` is set. Throws with what is wrong with a file.
    public func makeContext() throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certFile).map { NIOSSLCertificateSource.certificate($0) }
        guard !chain.isEmpty else { throw TLSFileError(path: certFile, problem: "holds no PEM certificate") }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        var configuration: TLSConfiguration
        if let clientCAFile {
            let roots = try NIOSSLCertificate.fromPEMFile(clientCAFile)
            guard !roots.isEmpty else { throw TLSFileError(path: clientCAFile, problem: "holds no PEM certificate") }
            configuration = .makeServerConfigurationWithMTLS(certificateChain: chain, privateKey: .privateKey(key), trustRoots: .certificates(roots))
            configuration.sendCANameList = true
        } else {
            configuration = .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        }
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}

/// A certificate or key file that cannot be used.
public struct TLSFileError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "\(path) \(problem)" }
}

/// The context new connections of a TLS listener get; `reload` swaps it (SIGHUP) while open
/// connections keep the one they began with.
final class ListenerTLSContext: Sendable {
    let settings: ListenerTLS
    private let current: Mutex<NIOSSLContext>

    init(_ settings: ListenerTLS) throws {
        self.settings = settings
        current = Mutex(try settings.makeContext())
    }

    var context: NIOSSLContext { current.withLock { $0 } }

    /// Reads the files again; on failure the context in use stays, and the error is thrown.
    func reload() throws {
        let fresh = try settings.makeContext()
        current.withLock { $0 = fresh }
    }
}

/// Completes when the TLS handshake has (with the peer's identity), fails when it failed or
/// the connection ended first; closes the connection when it takes longer than `timeout`.
final class TLSHandshakeWatch: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let done: EventLoopPromise<String?>
    private let timeout: TimeAmount

    init(eventLoop: any EventLoop, timeout: TimeAmount) {
        done = eventLoop.makePromise()
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel, promise = done
        let timer = context.eventLoop.scheduleTask(in: timeout) {
            promise.fail(TLSHandshakeTimeout())
            channel.close(promise: nil)
        }
        done.futureResult.whenComplete { _ in timer.cancel() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let promise = done
            context.channel.nioSSL_peerCertificate().whenComplete { result in
                let certificate = (try? result.get()) ?? nil
                promise.succeed(certificate.flatMap(Self.identity))
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    /// A publisher's identity: its certificate's subject common name, else its first DNS name.
    static func identity(_ certificate: NIOSSLCertificate) -> String? {
        if let name = certificate.subjectName.first(where: { $0.type == .commonName })?.value { return name }
        for name in certificate._subjectAlternativeNames() where name.nameType == .dnsName {
            return String(decoding: Array(name.contents), as: UTF8.self)
        }
        return nil
    }
}

/// The handshake did not complete within the listener's handshake timeout.
struct TLSHandshakeTimeout: Error, CustomStringConvertible {
    var description: String { "the TLS handshake did not complete in time" }
}
