"""Money on the wire: `{"amount": "12.50", "currency": "BRL"}`, amount always a decimal string.

Amounts are stored as NUMERIC(12, 2), so a currency whose minor unit is finer than cents
(BHD, KWD, ...) cannot be represented exactly and is not accepted; a currency without minor
units (JPY, CLP, ...) accepts whole amounts only.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
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


# The amounts NUMERIC(12, 2) holds, as plain decimal text: what the documented schema says and
# what validation accepts are the same set of strings.
AMOUNT_PATTERN = r"^\d{1,10}(\.\d{1,2})?$"
WHOLE_AMOUNT_PATTERN = r"^\d{1,10}(\.0{1,2})?$"
_AMOUNT_TEXT = re.compile(AMOUNT_PATTERN)


def _amount_must_be_text(value: Any) -> Any:
    # A JSON number would have passed through a binary float somewhere upstream; money is
    # exchanged as text only, and only as plain decimal text ("1e3" and "" are not amounts).
    if isinstance(value, Decimal) or (isinstance(value, str) and _AMOUNT_TEXT.match(value)):
        return value
    raise PydanticCustomError(
        "money_amount_type", 'amount must be a decimal string such as "12.50"'
    )


def _amount_text(value: Any) -> Any:
    # A query value is text; a plain decimal, as amounts are written (no "1e3", no "").
    if isinstance(value, Decimal) or (isinstance(value, str) and _AMOUNT_TEXT.match(value)):
        return value
    raise PydanticCustomError("amount_text", 'an amount is decimal text such as "12.50"')


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
# An amount given alone, as text (a price or total bound in a query string).
AmountText = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False),
    WithJsonSchema(
        {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12.50"]}, mode="validation"
    ),
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


def _money_in_variant(currencies: frozenset[str], amount_pattern: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["amount", "currency"],
        "properties": {
            "amount": {"type": "string", "pattern": amount_pattern, "examples": ["12.50"]},
            "currency": {"type": "string", "enum": sorted(currencies)},
        },
    }


# What a client may send, exactly: a currency this service prices in, and an amount with at
# most its currency's minor units (whole amounts for JPY and the other zero-minor-unit ones).
MONEY_IN_SCHEMA: dict[str, Any] = {
    "title": "MoneyIn",
    "description": 'An amount in one currency: {"amount": "12.50", "currency": "BRL"}.',
    "anyOf": [
        _money_in_variant(_TWO_MINOR_UNITS, AMOUNT_PATTERN),
        _money_in_variant(_ZERO_MINOR_UNIT, WHOLE_AMOUNT_PATTERN),
    ],
}

MoneyIn = Annotated[
    Money,
    AfterValidator(_whole_units_where_required),
    WithJsonSchema(MONEY_IN_SCHEMA, mode="validation"),
]
