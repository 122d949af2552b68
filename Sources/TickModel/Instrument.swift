/// A listed instrument as in `Seeds/stocks.csv` and the `stocks` table.
public struct Instrument: Hashable, Sendable {
    public var symbol: Symbol
    public var name: String
    public var sector: String
    public var exchange: String
    public var currency: String
    /// Shares per board lot.
    public var lotSize: Int
    public var price: Price?
    public var marketCap: Price?

    public init(symbol: Symbol, name: String, sector: String, exchange: String = "NSE",
                currency: String = "KES", lotSize: Int = 100, price: Price? = nil, marketCap: Price? = nil) {
        self.symbol = symbol
        self.name = name
        self.sector = sector
        self.exchange = exchange
        self.currency = currency
        self.lotSize = lotSize
        self.price = price
        self.marketCap = marketCap
    }
}
