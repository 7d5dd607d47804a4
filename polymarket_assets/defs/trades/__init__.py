"""The `trades` domain: what ws_sidecar records (trades, book updates, raw frames, gaps) enters the lake here."""
