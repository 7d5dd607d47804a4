"""Bad-input fault scenarios, shared by the tests and by `benchmarks/bad_input_bench.py`.

Each scenario feeds real components (the websocket processor and writer with real Parquet files, the CLOB and
Data API clients over real sockets to the stub server, the Gamma parser) a batch of good records mixed with
poisoned ones, then reads back what landed and what the quarantine holds. The promise under test: every good
record lands, every bad one is quarantined alone with its reason, and nothing bad is stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from polymarket_assets.lib.clob import ClobClient
from polymarket_assets.lib.data_api import DataApiClient
from polymarket_assets.lib.incoming import KINDS, list_incoming
from polymarket_assets.lib.parse_gamma import parse_gamma_market
from polymarket_assets.lib.parse_trades import parse_data_api_trade
from polymarket_assets.lib.quarantine import Quarantine, parse_or_quarantine
from polymarket_assets.lib.sweep import sweep_books, sweep_prices
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_assets_tests.lib.stub_server import StubServer, json_reply
from ws_sidecar.processor import FrameProcessor
from ws_sidecar.writer import Writer

NOW_MS = 1_795_587_200_000  # 2026-11-25T06:13:20Z: inside the time contract's window and the partitions
CLIENT = {
    "backoff_base_s": 0.01,
    "backoff_cap_s": 0.05,
    "read_timeout": 5.0,
    "connect_timeout": 2.0,
    "max_retries": 1,
}
# Wrong-unit timestamps, as a poisoned feed sends them.
TWENTY_DIGITS = "17900000000000000000"
MICROSECONDS = str(NOW_MS * 1000)
SECONDS = str(NOW_MS // 1000)


@dataclass
class Outcome:
    """What one scenario fed in and what came out."""

    name: str
    good_expected: int
    good_landed: int
    bad_injected: int
    bad_quarantined: int
    bad_stored: int = 0  # bad values found among the stored rows
    failures: int = 0  # failed flushes, rows left pending, exceptions that escaped
    reasons: list[str] = field(default_factory=list)

    @property
    def rows_lost(self) -> int:
        return self.good_expected - self.good_landed


def token(i: int) -> str:
    return str(10**76 + i)


def condition(i: int) -> str:
    return "0x" + f"{i:064x}"


@contextmanager
def _stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def quarantined(data_dir: Path, source: str) -> list[dict]:
    paths = list((Path(data_dir) / "quarantine" / f"source={source}").rglob("*.parquet"))
    return [row for p in paths for row in pq.read_table(p).to_pylist()]


# -- websocket: processor + writer ------------------------------------------------------------------------


class _FixedClock:
    def __init__(self, us: int):
        self.us = us

    def now_us(self) -> int:
        return self.us


def _trade(i: int, ts: str) -> dict:
    return {
        "event_type": "last_trade_price",
        "market": condition(1),
        "asset_id": token(1),
        "price": "0.5",
        "size": str(10 + i),
        "side": "BUY",
        "fee_rate_bps": "0",
        "timestamp": ts,
    }


def _change(i: int, ts: str) -> dict:
    return {
        "event_type": "price_change",
        "market": condition(1),
        "timestamp": ts,
        "price_changes": [
            {
                "asset_id": token(1),
                "price": f"0.{40 + i % 10}",
                "size": str(i + 1),
                "side": "BUY",
                "hash": "h" * 40,
            }
        ],
    }


def trade_row(uid: str, exchange_ts: int) -> tuple:
    return (
        uid,
        "data_api",
        token(1),
        condition(1),
        "BUY",
        0.5,
        1.0,
        None,
        exchange_ts,
        NOW_MS * 1000,
        None,
        None,
        None,
        None,
        "0a1b2c3d",
    )


def websocket_writer(data_dir: Path) -> Outcome:
    """One flush window of frames with poisoned timestamps (20 digits, microseconds, seconds) in single frames, in
    an array frame beside good messages, and as rows queued straight to the writer (as the backfill does)."""
    quarantine = Quarantine(data_dir, "ws_market")
    processor = FrameProcessor("0a1b2c3d", "c00", quarantine=quarantine)
    processor.track(token(1), condition(1))
    writer = Writer(data_dir, "0a1b2c3d", _FixedClock(NOW_MS * 1000 + 5_000_000), quarantine=quarantine)
    writer.add_source(processor)
    frames: list[str] = []
    good_trades = [f"t{i}" for i in range(20)]
    for i in range(20):
        frames.append(json.dumps(_trade(i, str(NOW_MS + i))))
        frames.append(json.dumps(_change(i, str(NOW_MS + i))))
    poisoned = [
        _trade(100, TWENTY_DIGITS),
        _trade(101, MICROSECONDS),
        _trade(102, SECONDS),
        _change(103, MICROSECONDS),
    ]
    frames += [json.dumps(m) for m in poisoned]
    # Two good trades batched with a poisoned change: only the change may be lost.
    frames.append(
        json.dumps([_trade(20, str(NOW_MS + 20)), _change(104, TWENTY_DIGITS), _trade(21, str(NOW_MS + 21))])
    )
    for n, text in enumerate(frames):
        processor.process(text, NOW_MS * 1000 + n)
    writer.add_rows(
        "trades",
        [trade_row("ok", NOW_MS), trade_row("in-seconds", NOW_MS // 1000), trade_row("overflow", 10**20)],
    )
    writer.flush()
    writer.flush()  # a second flush has nothing left to do and must not fail
    landed = {kind: 0 for kind in KINDS}
    stored_ts: list[int] = []
    for f in list_incoming(data_dir):
        table = pq.read_table(f.path)
        landed[f.kind] += table.num_rows
        if f.kind in ("trades", "book_updates"):
            stored_ts += [ts.timestamp() * 1000 for ts in table.column("exchange_ts").to_pylist()]
    rows = quarantined(data_dir, "ws_market")
    good_expected = (
        len(good_trades) + 2 + 1 + 20 + len(frames)
    )  # trades (+2 batched, +1 queued), changes, raw
    return Outcome(
        "websocket_writer",
        good_expected=good_expected,
        good_landed=landed["trades"] + landed["book_updates"] + landed["raw_frames"],
        bad_injected=len(poisoned) + 1 + 2,
        bad_quarantined=len(rows),
        bad_stored=sum(1 for ts in stored_ts if not NOW_MS - 86_400_000 <= ts <= NOW_MS + 86_400_000),
        failures=writer.errors + writer.pending_rows(),
        reasons=[r["reason"] for r in rows],
    )


# -- CLOB books: one bad book per POST /books answer --------------------------------------------------------


def _book(tok: str, cid: str) -> dict:
    return {
        "market": cid,
        "asset_id": tok,
        "timestamp": str(NOW_MS),
        "hash": "a" * 40,
        "bids": [{"price": "0.30", "size": "5"}, {"price": "0.40", "size": "7"}],
        "asks": [{"price": "0.70", "size": "4"}, {"price": "0.60", "size": "3"}],
        "tick_size": "0.01",
    }


BAD_BOOKS = {
    "20-digit timestamp": lambda b: {**b, "timestamp": TWENTY_DIGITS},
    "microsecond timestamp": lambda b: {**b, "timestamp": MICROSECONDS},
    "seconds timestamp": lambda b: {**b, "timestamp": SECONDS},
    "bad levels": lambda b: {**b, "bids": [{"price": "nan", "size": "1"}]},
    "level not an object": lambda b: {**b, "asks": ["0.6"]},
    "not an object": lambda b: "book",
}
BOOKS_BATCH = 10  # tokens per POST /books: five markets per answer


def open_markets(n: int, hours_to_close: float, first: int = 0) -> list[dict]:
    """`markets_current`-like rows of `n` open binary markets closing `hours_to_close` after NOW_MS."""
    end = utc(NOW_MS + int(hours_to_close * 3_600_000))
    return [
        {
            "condition_id": condition(i),
            "yes_token_id": token(2 * i),
            "no_token_id": token(2 * i + 1),
            "discovery_status": "open",
            "end_date": end,
        }
        for i in range(first, first + n)
    ]


def serve_bad_books(stub: StubServer, markets: list[dict]) -> set[str]:
    """Serve `POST /books` (answers of BOOKS_BATCH tokens) and `GET /book` for `markets`, the first YES book of
    each answer bad in one of the BAD_BOOKS ways (and still bad when fetched alone). Returns the bad markets."""
    owner = {m[k]: m["condition_id"] for m in markets for k in ("yes_token_id", "no_token_id")}
    per_answer = BOOKS_BATCH // 2
    kinds = list(BAD_BOOKS.values())
    poison = {
        markets[i]["yes_token_id"]: kinds[(i // per_answer) % len(kinds)]
        for i in range(0, len(markets), per_answer)
    }

    def served(tok: str):
        book = _book(tok, owner[tok])
        return poison[tok](book) if tok in poison else book

    stub.handle("POST", "/books", lambda req: json_reply([served(item["token_id"]) for item in req.body]))
    stub.handle("GET", "/book", lambda req: json_reply(served(req.param("token_id"))))
    return {owner[t] for t in poison}


def good_book_row(row: dict) -> bool:
    """A snapshot row built from the served good books (best bid 0.40, best ask 0.60)."""
    return row["book_status"] == "ok" and row["best_bid"] == 0.40 and row["best_ask"] == 0.60


def clob_books(data_dir: Path) -> Outcome:
    """Markets swept through `POST /books`; each answer's first YES book is bad (and stays bad when fetched again
    on its own). Only the bad books' markets may go without a row."""
    markets = open_markets(5 * len(BAD_BOOKS), hours_to_close=6)
    with _stub() as stub:
        bad_markets = serve_bad_books(stub, markets)
        clob = ClobClient(stub.url, limits={}, default_limit=None, **CLIENT)
        quarantine = Quarantine(data_dir, "snapshots_t2")
        slot = utc(NOW_MS)
        result = sweep_books(
            clob,
            markets,
            DEFAULT_PLAN.by_name("T2"),
            slot,
            slot,
            quarantine,
            batch_size=BOOKS_BATCH,
            max_workers=2,
        )
        quarantine.flush(slot)
    good = {m["condition_id"] for m in markets} - bad_markets
    landed = [r for r in result.rows if r["condition_id"] in good and good_book_row(r)]
    rows = [r for r in quarantined(data_dir, "snapshots_t2") if '"/books"' in (r["context"] or "")]
    return Outcome(
        "clob_books",
        good_expected=len(good),
        good_landed=len(landed),
        bad_injected=len(bad_markets),
        bad_quarantined=len(rows),
        bad_stored=sum(1 for r in result.rows if r["condition_id"] in bad_markets),
        reasons=[r["reason"] for r in rows],
    )


# -- CLOB prices: bad entries in POST /prices and POST /midpoints ------------------------------------------

BAD_PRICES = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "negative": -0.1,
    "above one": 1.5,
    "text": "abc",
    "text nan": "nan",
    "not an object": ["0.5"],
}
PRICE_COLUMNS = ("best_bid", "best_ask", "mid", "no_best_bid", "no_best_ask", "no_mid")


def serve_bad_prices(stub: StubServer, markets: list[dict]) -> tuple[set[str], int]:
    """Serve `POST /prices` and `POST /midpoints` for `markets`: the YES token of the first len(BAD_PRICES)
    markets is bad in both answers (one way each; "not an object" is a list in /prices and a dict in
    /midpoints), the NO token of the next two is bad too. Returns (markets that cannot be captured, bad entries
    served)."""
    bad = {markets[i]["yes_token_id"]: v for i, v in enumerate(BAD_PRICES.values())}
    n = len(BAD_PRICES)
    bad |= {markets[n]["no_token_id"]: math.nan, markets[n + 1]["no_token_id"]: 2.0}

    def prices(req):
        out: dict = {}
        for item in req.body:
            tok, side = item["token_id"], item["side"]
            if isinstance(bad.get(tok), list):
                out[tok] = bad[tok]
            else:
                out.setdefault(tok, {})[side] = bad.get(tok, "0.41" if side == "BUY" else "0.43")
        return json_reply(out)

    def mids(req):
        out = {}
        for item in req.body:
            value = bad.get(item["token_id"], "0.42")
            out[item["token_id"]] = {"mid": "0.5"} if isinstance(value, list) else value
        return json_reply(out)

    stub.handle("POST", "/prices", prices)
    stub.handle("POST", "/midpoints", mids)
    return {m["condition_id"] for m in markets[:n]}, 2 * len(bad)


def good_price_row(row: dict) -> bool:
    return (row["best_bid"], row["best_ask"], row["mid"]) == (0.41, 0.43, 0.42)


def bad_price_values(rows: list[dict]) -> int:
    values = [r[c] for r in rows for c in PRICE_COLUMNS]
    return sum(1 for v in values if v is not None and not 0.0 <= v <= 1.0)


def clob_prices(data_dir: Path) -> Outcome:
    """A T0 prices sweep with bad YES entries (their markets cannot be captured) and bad NO entries (their rows
    land without NO prices)."""
    markets = open_markets(16, hours_to_close=72)
    with _stub() as stub:
        bad_markets, injected = serve_bad_prices(stub, markets)
        clob = ClobClient(stub.url, limits={}, default_limit=None, **CLIENT)
        quarantine = Quarantine(data_dir, "snapshots_t0")
        slot = utc(NOW_MS)
        result = sweep_prices(clob, markets, DEFAULT_PLAN.by_name("T0"), slot, slot, quarantine)
        quarantine.flush(slot)
    good = {m["condition_id"] for m in markets} - bad_markets
    landed = [r for r in result.rows if r["condition_id"] in good and good_price_row(r)]
    rows = quarantined(data_dir, "snapshots_t0")
    return Outcome(
        "clob_prices",
        good_expected=len(good),
        good_landed=len(landed),
        bad_injected=injected,
        bad_quarantined=len(rows),
        bad_stored=bad_price_values(result.rows)
        + sum(1 for r in result.rows if r["condition_id"] in bad_markets),
        reasons=[r["reason"] for r in rows],
    )


# -- Data API trades: poisoned timestamps inside a paged walk ----------------------------------------------


def data_api_trades(data_dir: Path) -> Outcome:
    """Two pages of trades newest first; the first page holds rows in milliseconds, microseconds, 20 digits, a
    tiny number and a negative one. A poisoned row must neither be stored nor end the walk early."""
    now_s = NOW_MS // 1000
    good = [
        {
            "proxyWallet": "0x" + "1" * 40,
            "side": "BUY",
            "asset": token(1),
            "conditionId": condition(1),
            "size": 5,
            "price": 0.5,
            "timestamp": now_s - i,
            "transactionHash": f"0x{i:064x}",
        }
        for i in range(12)
    ]
    poisoned = [
        {**good[0], "timestamp": value, "transactionHash": f"0x{100 + n:064x}"}
        for n, value in enumerate([NOW_MS, NOW_MS * 1000, int(TWENTY_DIGITS), 5, -now_s])
    ]
    page1 = good[:4] + poisoned + good[4:6]
    page2 = good[6:]
    pages = [page1, page2]

    def trades(req):
        offset = int(req.param("offset"))
        return json_reply(pages[0] if offset == 0 else pages[1] if offset == len(page1) else [])

    quarantine = Quarantine(data_dir, "data_api_trades")
    with _stub() as stub:
        stub.handle("GET", "/trades", trades)
        client = DataApiClient(stub.url, limits={}, default_limit=None, **CLIENT)
        walk = client.iter_trades([condition(1)], since_ts=now_s - 3600, page_size=len(page1))
        parsed = [
            t
            for page in walk
            for raw in page
            if (t := parse_or_quarantine(parse_data_api_trade, raw, quarantine))
        ]
    quarantine.flush(utc(NOW_MS))
    good_hashes = {g["transactionHash"] for g in good}
    rows = quarantined(data_dir, "data_api_trades")
    return Outcome(
        "data_api_trades",
        good_expected=len(good),
        good_landed=sum(1 for t in parsed if t.transaction_hash in good_hashes),
        bad_injected=len(poisoned),
        bad_quarantined=len(rows),
        bad_stored=sum(1 for t in parsed if t.transaction_hash not in good_hashes),
        reasons=[r["reason"] for r in rows],
    )


# -- Gamma: negative volume/liquidity, observation times out of the window ---------------------------------


def _gamma(i: int, **changes) -> dict:
    created = utc(NOW_MS - 86_400_000).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": str(1000 + i),
        "question": f"Q{i}?",
        "conditionId": condition(i),
        "outcomes": '["Yes", "No"]',
        "clobTokenIds": json.dumps([token(2 * i), token(2 * i + 1)]),
        "outcomePrices": '["0.4", "0.6"]',
        "volume": "1000.5",
        "volumeNum": 1000.5,
        "volume24hr": 10.0,
        "liquidity": "250.0",
        "createdAt": created,
        "updatedAt": created,
        "endDate": "2500-01-01T00:00:00Z",
        **changes,
    }


def gamma_markets(data_dir: Path) -> Outcome:
    good = [_gamma(i) for i in range(10)]
    bad = [
        _gamma(20, volume="-5"),
        _gamma(21, liquidity=-1.0),
        _gamma(22, volume24hr=-0.5),
        _gamma(23, volumeNum=-3),
        _gamma(24, createdAt="1970-01-01T00:00:00Z"),
        _gamma(25, updatedAt="2199-01-01T00:00:00Z"),
    ]
    quarantine = Quarantine(data_dir, "gamma_markets")
    parsed = [m for raw in good + bad if (m := parse_or_quarantine(parse_gamma_market, raw, quarantine))]
    quarantine.flush(utc(NOW_MS))
    rows = quarantined(data_dir, "gamma_markets")
    good_ids = {g["id"] for g in good}
    return Outcome(
        "gamma_markets",
        good_expected=len(good),
        good_landed=sum(1 for m in parsed if m.gamma_id in good_ids),
        bad_injected=len(bad),
        bad_quarantined=len(rows),
        bad_stored=sum(1 for m in parsed if m.gamma_id not in good_ids),
        reasons=[r["reason"] for r in rows],
    )


SCENARIOS = (websocket_writer, clob_books, clob_prices, data_api_trades, gamma_markets)


def run_all(root: Path) -> list[Outcome]:
    """Every scenario, each in its own data directory under `root`."""
    return [scenario(Path(root) / scenario.__name__) for scenario in SCENARIOS]


def stored_hours(data_dir: Path) -> list[str]:
    """Hours of the incoming files written (a timestamp in seconds would show up as 1970)."""
    return sorted({f.hour for f in list_incoming(data_dir)})
