"""Money on the wire: `{"amount": "12.50", "currency": "BRL"}`, amount always a decimal string.

Amounts are stored as NUMERIC(12, 2), so a currency whose minor unit is finer than cents
(BHD, KWD, ...) cannot be represented exactly and is not accepted; a currency without minor
units (JPY, CLP, ...) accepts whole amounts only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    with_config,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

CENT = Decimal("0.01")

# Active ISO 4217 codes with minor unit 2 (the default) or 0. Fund codes, precious metals and
# test codes are not money a catalogue prices in.
_ZERO_MINOR_UNIT = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()  # noqa: SIM905 - a code table reads best as text
)
_TWO_MINOR_UNITS = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP
    PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 - a code table reads best as text
)
CURRENCIES = _ZERO_MINOR_UNIT | _TWO_MINOR_UNITS


def minor_units(currency: str) -> int:
    return 0 if currency in _ZERO_MINOR_UNIT else 2


def to_cents(amount: Decimal) -> Decimal:
    """Round half up to cents (the rounding of every computed amount: line totals, totals)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _amount_must_be_text(value: Any) -> Any:
    # A JSON number would have passed through a binary float somewhere upstream; money is
    # exchanged as text only.
    if isinstance(value, str | Decimal):
        return value
    raise PydanticCustomError(
        "money_amount_type", 'amount must be a decimal string such as "12.50"'
    )


def _known_currency(value: str) -> str:
    if value not in CURRENCIES:
        raise PydanticCustomError("currency_unknown", "unknown or unsupported ISO 4217 currency")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_must_be_text),
    Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False),
    AfterValidator(to_cents),
    PlainSerializer(format_amount, return_type=str, when_used="json"),
]
Currency = Annotated[
    str,
    Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$", strict=True),
    AfterValidator(_known_currency),
]


@with_config(ConfigDict(extra="forbid"))
class Money(TypedDict):
    """An amount in one currency (a TypedDict: plain nested data, no behaviour)."""

    amount: Amount
    currency: Currency


def _whole_units_where_required(value: Money) -> Money:
    if minor_units(value["currency"]) == 0 and value["amount"] != value["amount"].to_integral():
        raise PydanticCustomError("money_minor_units", "this currency has no minor units")
    return value


MoneyIn = Annotated[Money, AfterValidator(_whole_units_where_required)]


def money(amount: Decimal, currency: str) -> Money:
    return Money(amount=amount, currency=currency)
