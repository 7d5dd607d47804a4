"""Word lists and templates that give simulated markets, events and traders realistic text.

All choices come from a seeded Stream, so the same seed gives the same questions and slugs.
"""

from __future__ import annotations

import re
from datetime import UTC

from .rng import Stream

_COMPANIES = [
    "Nvidia",
    "Apple",
    "Tesla",
    "Microsoft",
    "OpenAI",
    "Anthropic",
    "Meta",
    "Amazon",
    "Netflix",
    "Intel",
    "AMD",
    "Coinbase",
    "Stripe",
    "SpaceX",
    "Boeing",
    "Airbnb",
    "Uber",
    "Palantir",
    "Shopify",
    "Spotify",
]
_ASSETS = [
    "Bitcoin",
    "Ethereum",
    "Solana",
    "XRP",
    "Dogecoin",
    "Gold",
    "Silver",
    "Crude Oil",
    "the S&P 500",
    "Nasdaq",
]
_TICKERS = {"Bitcoin": "btc", "Ethereum": "eth", "Solana": "sol", "XRP": "xrp", "Dogecoin": "doge"}
_PEOPLE = [
    "Gavin Newsom",
    "Josh Shapiro",
    "Pete Buttigieg",
    "Gretchen Whitmer",
    "Alexandria Ocasio-Cortez",
    "Wes Moore",
    "Andy Beshear",
    "JB Pritzker",
    "Jon Ossoff",
    "Cory Booker",
    "Ro Khanna",
    "Mark Kelly",
    "JD Vance",
    "Marco Rubio",
    "Ron DeSantis",
    "Vivek Ramaswamy",
    "Glenn Youngkin",
    "Tucker Carlson",
    "Nikki Haley",
    "Tim Scott",
    "Elise Stefanik",
    "Byron Donalds",
    "Kristi Noem",
    "Sarah Sanders",
]
_RACES = [
    "Democratic Presidential Nominee",
    "Republican Presidential Nominee",
    "Senate Majority Leader",
    "Next Fed Chair",
    "Time Person of the Year",
    "UK Prime Minister",
    "NYC Mayoral Election",
    "Best Picture Winner",
    "Ballon d'Or Winner",
    "World Series Champion",
]
_TEAMS = [
    "Lakers",
    "Celtics",
    "Warriors",
    "Knicks",
    "Bucks",
    "Nuggets",
    "Heat",
    "Suns",
    "Mavericks",
    "76ers",
    "Chiefs",
    "Eagles",
    "Bills",
    "49ers",
    "Cowboys",
    "Ravens",
    "Lions",
    "Packers",
    "Dodgers",
    "Yankees",
    "Arsenal",
    "Liverpool",
    "Real Madrid",
    "Barcelona",
    "Bayern Munich",
    "PSG",
    "Inter",
    "Chelsea",
]
_EVENTS = [
    "announce a stock split",
    "release a new flagship model",
    "be sued by the FTC",
    "hit a $5T market cap",
    "announce layoffs",
    "beat earnings estimates",
    "announce an acquisition",
    "be added to the Dow",
]
_COUNTRIES = [
    "Russia x Ukraine ceasefire",
    "Israel x Hamas ceasefire",
    "US x China trade deal",
    "India x Pakistan talks",
    "EU tariff agreement",
    "Iran nuclear deal",
]
_ADJ = [
    "Comfortable",
    "Brave",
    "Quiet",
    "Swift",
    "Lucky",
    "Golden",
    "Silent",
    "Bold",
    "Clever",
    "Rapid",
    "Calm",
    "Bright",
    "Frosty",
    "Mellow",
    "Wild",
    "Nimble",
]
_NOUN = [
    "Insulation",
    "Falcon",
    "Harbor",
    "Meadow",
    "Engine",
    "Lantern",
    "Compass",
    "Orchard",
    "Summit",
    "Ripple",
    "Anchor",
    "Canyon",
    "Thicket",
    "Beacon",
    "Glacier",
    "Willow",
]

IMAGE_BASE = "https://polymarket-upload.s3.us-east-2.amazonaws.com/"


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:90].rstrip("-")


def _date_words(end_ts: float) -> str:
    from datetime import datetime

    d = datetime.fromtimestamp(end_ts, tz=UTC)
    return f"{d.strftime('%B')} {d.day}"


def single_question(kind: str, rs: Stream, end_ts: float) -> dict:
    """Question text, outcome names and event title for a one-market event."""
    when = _date_words(end_ts)
    if kind == "updown":
        asset = rs.choice(list(_TICKERS))
        q = f"{asset} Up or Down - {when}, {rs.randint(1, 12)}:{rs.choice(['00', '15', '30', '45'])}PM ET"
        return {
            "question": q,
            "outcomes": ("Up", "Down"),
            "title": q,
            "image": f"{_TICKERS[asset].upper()}+fullsize.png",
            "slug_base": f"{_TICKERS[asset]}-updown-{int(end_ts)}",
            "tags": ["Crypto", "Up or Down", asset],
        }
    if kind == "sports":
        a = rs.choice(_TEAMS)
        b = rs.choice([t for t in _TEAMS if t != a])
        q = f"{a} vs. {b}"
        return {
            "question": q,
            "outcomes": (a, b),
            "title": q,
            "image": f"{slugify(a)}-{slugify(b)}.png",
            "slug_base": slugify(q),
            "tags": ["Sports", "Games"],
        }
    r = rs.random()
    if r < 0.35:
        subject = rs.choice(_COMPANIES)
        q = f"Will {subject} {rs.choice(_EVENTS)} by {when}?"
        tags = ["Business", "Tech", subject]
    elif r < 0.7:
        asset = rs.choice(_ASSETS)
        level = rs.choice([100, 120, 150, 200, 250, 3000, 4000, 5000, 6000])
        q = f"Will {asset} close above ${level:,} on {when}?"
        tags = ["Finance", "Crypto" if asset in _TICKERS else "Commodities", asset]
    else:
        q = f"{rs.choice(_COUNTRIES)} by {when}?"
        tags = ["Politics", "Geopolitics"]
    return {
        "question": q,
        "outcomes": ("Yes", "No"),
        "title": q,
        "image": f"{slugify(q)[:40]}.jpg",
        "slug_base": slugify(q),
        "tags": tags,
    }


def negrisk_event(rs: Stream, k: int, end_ts: float) -> dict:
    """An event with k mutually exclusive candidates (one Yes/No market each)."""
    race = rs.choice(_RACES)
    year = 2026 + rs.randint(0, 3)
    title = f"{race} {year}"
    pool = list(_PEOPLE)
    candidates = []
    for _ in range(k):
        name = pool.pop(rs.next64() % len(pool))
        candidates.append(name)
    questions = [f"Will {c} win the {year} {race}?" for c in candidates]
    return {
        "title": title,
        "candidates": candidates,
        "questions": questions,
        "slug_base": slugify(title),
        "image": f"{slugify(race)}.png",
        "tags": ["Politics", "Elections", race],
    }


def trader(wallet_index: int, seed: int) -> dict:
    rs = Stream(seed, 18, wallet_index)
    named = rs.random() < 0.4
    return {
        "proxyWallet": "0x" + rs.hexstr(40),
        "name": (rs.choice(_ADJ) + rs.choice(_NOUN)).upper()[: rs.randint(5, 12)] if named else "",
        "pseudonym": f"{rs.choice(_ADJ)}-{rs.choice(_NOUN)}",
        "bio": "",
        "profileImage": "",
        "profileImageOptimized": "",
    }
