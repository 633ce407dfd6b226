// Package wire holds the JSON shapes of avow's own management API (providers,
// settings, keys, collateral, the audit log) — not MAA's, whose shapes live
// with the handlers that speak them. The server (api) writes them and the
// client (client) reads them; neither imports the other.
package wire
