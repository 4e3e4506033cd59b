"""Country names to ISO 3166-1 alpha-2, for the names shoppers and carts really type.

Warehouses want ISO-2 codes while Order Desk passes on whatever the cart sent ("Germany",
"Deutschland", "USA"). Unknown names are kept as given so the warehouse can refuse them with its
own message rather than us guessing.
"""

from __future__ import annotations

import unicodedata

_NAMES: dict[str, str] = {
    "US": "united states|united states of america|usa|u.s.a.|u.s.|america|estados unidos",
    "CA": "canada",
    "MX": "mexico|méxico",
    "GB": "united kingdom|uk|u.k.|great britain|england|scotland|wales|northern ireland|gbr",
    "IE": "ireland|éire|eire",
    "DE": "germany|deutschland|allemagne|alemania|deu",
    "AT": "austria|österreich|osterreich|aut",
    "CH": "switzerland|schweiz|suisse|svizzera|che",
    "FR": "france|fra",
    "BE": "belgium|belgië|belgique|belgien|bel",
    "NL": "netherlands|the netherlands|nederland|holland|nld",
    "LU": "luxembourg",
    "IT": "italy|italia|ita",
    "ES": "spain|españa|espana|esp",
    "PT": "portugal|prt",
    "DK": "denmark|danmark|dnk",
    "SE": "sweden|sverige|swe",
    "NO": "norway|norge|nor",
    "FI": "finland|suomi|fin",
    "IS": "iceland|ísland",
    "PL": "poland|polska|pol",
    "CZ": "czech republic|czechia|česko|cze",
    "SK": "slovakia|slovensko",
    "HU": "hungary|magyarország",
    "RO": "romania|românia",
    "GR": "greece|ελλάδα|grc",
    "TR": "turkey|türkiye|turkiye",
    "AU": "australia|aus",
    "NZ": "new zealand|aotearoa|nzl",
    "JP": "japan|日本|jpn",
    "CN": "china|people's republic of china|中国|chn",
    "HK": "hong kong",
    "TW": "taiwan",
    "KR": "south korea|korea|republic of korea|대한민국|kor",
    "SG": "singapore",
    "IN": "india|ind",
    "IL": "israel",
    "AE": "united arab emirates|uae",
    "ZA": "south africa",
    "BR": "brazil|brasil|bra",
    "AR": "argentina",
    "CL": "chile",
    "CO": "colombia",
    "PR": "puerto rico",
}

_BY_NAME: dict[str, str] = {
    name: code for code, names in _NAMES.items() for name in names.split("|")
}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.strip().lower().split()))


def to_iso2(country: str) -> str:
    """ISO-2 code for a country name or code; the input unchanged when not recognised."""
    cleaned = country.strip()
    if len(cleaned) == 2 and cleaned.isalpha() and cleaned.isascii():
        return cleaned.upper()
    return _BY_NAME.get(_fold(cleaned), cleaned)
