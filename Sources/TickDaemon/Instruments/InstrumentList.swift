import Foundation
import TickCodecs
import TickModel

/// Reads the instrument list (`Seeds/stocks.csv`): a CSV with a header naming at least
/// `symbol`, `name` and `sector`; optional `exchange`, `currency`, `price`, `market_cap`.
public enum InstrumentList {
    public static func load(path: String) throws(ConfigError) -> [Instrument] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(key: "symbols.instruments_file", "cannot read '\(path)'")
        }
        var lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map(String.init)
            .filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !lines.isEmpty else { throw ConfigError(key: "symbols.instruments_file", "'\(path)' is empty") }
        let header = try cells(lines.removeFirst(), path: path, line: 1).map { $0.lowercased() }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let symbolColumn = column("symbol"), let nameColumn = column("name"), let sectorColumn = column("sector") else {
            throw ConfigError(key: "symbols.instruments_file", "'\(path)' needs a header with symbol,name,sector")
        }
        var instruments: [Instrument] = []
        for (index, line) in lines.enumerated() {
            let row = try cells(line, path: path, line: index + 2)
            func value(_ column: Int?) -> String? {
                guard let column, column < row.count else { return nil }
                let text = row[column].trimmingCharacters(in: .whitespaces)
                return text.isEmpty ? nil : text
            }
            guard let symbol = value(symbolColumn), let name = value(nameColumn) else {
                throw ConfigError(key: "symbols.instruments_file", "\(path):\(index + 2): symbol and name are required")
            }
            instruments.append(Instrument(
                symbol: Symbol(symbol.uppercased()), name: name, sector: value(sectorColumn) ?? "",
                exchange: value(column("exchange")) ?? "NSE", currency: value(column("currency")) ?? "KES",
                lotSize: try lotSize(value(column("lot_size")), path: path, line: index + 2),
                price: try decimal(value(column("price")), path: path, line: index + 2),
                marketCap: try decimal(value(column("market_cap")), path: path, line: index + 2)))
        }
        return instruments
    }

    static func cells(_ line: String, path: String, line number: Int) throws(ConfigError) -> [String] {
        do { return try CSVSplitter.cells(of: line) } catch {
            throw ConfigError(key: "symbols.instruments_file", "\(path):\(number): \(error)")
        }
    }

    static func lotSize(_ text: String?, path: String, line: Int) throws(ConfigError) -> Int {
        guard let text else { return 100 }
        guard let value = Int(text), value > 0 else {
            throw ConfigError(key: "symbols.instruments_file", "\(path):\(line): lot_size '\(text)' is not a positive whole number")
        }
        return value
    }

    static func decimal(_ text: String?, path: String, line: Int) throws(ConfigError) -> Price? {
        guard let text else { return nil }
        var bytes = Array(text.utf8)
        let parsed = bytes.withUnsafeMutableBufferPointer { DecimalText.parse(UnsafeBufferPointer($0)) }
        guard case .value(let price) = parsed else {
            throw ConfigError(key: "symbols.instruments_file", "\(path):\(line): '\(text)' is not a decimal number")
        }
        return price
    }
}
