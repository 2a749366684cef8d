"""The orders domain's errors: each one is the problem+json answer a client sees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from servicekit.core.problems import ProblemError, problem_type


class OrdersError(ProblemError):
    """Base of every orders domain error."""


class NotFoundError(OrdersError):
    """Absent, soft-deleted, or another tenant's: the three are indistinguishable on purpose."""

    def __init__(self, kind: str, entity_id: object) -> None:
        super().__init__(
            404,
            title=f"{kind.capitalize()} not found",
            detail=f"No {kind} with id {entity_id}.",
            type_=problem_type(f"{kind.replace(' ', '-')}-not-found"),
        )


class ItemNotFoundError(NotFoundError):
    def __init__(self, item_id: object) -> None:
        super().__init__("item", item_id)


class PedidoNotFoundError(NotFoundError):
    def __init__(self, pedido_id: object) -> None:
        super().__init__("pedido", pedido_id)


class PedidoLineNotFoundError(NotFoundError):
    def __init__(self, line_id: object) -> None:
        super().__init__("pedido line", line_id)


class SkuTakenError(OrdersError):
    def __init__(self, sku: str) -> None:
        super().__init__(
            409,
            title="SKU already in use",
            detail=f"Another live item of this tenant has SKU {sku!r}.",
            type_=problem_type("sku-taken"),
        )


class StaleVersionError(OrdersError):
    def __init__(self, current_version: int) -> None:
        super().__init__(
            412,
            title="Precondition failed",
            detail="The resource changed since it was read; fetch it again and retry.",
            type_=problem_type("stale-version"),
            headers={"ETag": f'"{current_version}"'},
        )


class IllegalTransitionError(OrdersError):
    def __init__(self, *, action: str, current_status: str) -> None:
        super().__init__(
            409,
            title="Illegal state transition",
            detail=f"Cannot {action} a pedido that is {current_status}.",
            type_=problem_type("illegal-transition"),
            extra={"current_status": current_status, "action": action},
        )


class InsufficientStockError(OrdersError):
    def __init__(self, shortages: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(
            409,
            title="Insufficient stock",
            detail="Not enough stock to confirm this pedido; nothing was reserved.",
            type_=problem_type("insufficient-stock"),
            extra={"shortages": list(shortages)},
        )


class EmptyPedidoError(OrdersError):
    def __init__(self) -> None:
        super().__init__(
            409,
            title="Pedido has no lines",
            detail="A pedido needs at least one line to be confirmed.",
            type_=problem_type("empty-pedido"),
        )


class InvalidLinesError(OrdersError):
    """Lines that name an item the tenant cannot order (absent, inactive, other currency)."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(
            422,
            title="Invalid pedido lines",
            detail="One or more lines name an item that cannot be ordered.",
            type_=problem_type("invalid-lines"),
            extra={"errors": list(errors)},
        )


class TooManyLinesError(OrdersError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            409,
            title="Too many lines",
            detail=f"A pedido holds at most {limit} lines.",
            type_=problem_type("too-many-lines"),
        )


class PermissionDeniedError(OrdersError):
    def __init__(self, permission: str) -> None:
        super().__init__(
            403,
            title="Forbidden",
            detail=f"This action needs the permission {permission!r}.",
            type_=problem_type("forbidden"),
            extra={"missing_permission": permission},
        )


class InvalidCursorProblemError(OrdersError):
    def __init__(self) -> None:
        super().__init__(
            400,
            title="Invalid cursor",
            detail="The cursor is not one this list issued (or it was issued for another sort); "
            "start again from the first page.",
            type_=problem_type("invalid-cursor"),
        )


class UnusableIdentityError(OrdersError):
    def __init__(self) -> None:
        super().__init__(
            403,
            title="Forbidden",
            detail="The token's tenant or subject cannot be used by this service.",
            type_=problem_type("unusable-identity"),
        )


class PreconditionRequiredError(OrdersError):
    """RFC 6585 section 3: an absolute write that would undo changes it never saw."""

    def __init__(self, field: str) -> None:
        super().__init__(
            428,
            title="Precondition required",
            detail=f"Changing {field!r} needs If-Match with the ETag last read; or use "
            "POST /api/v1/items/{id}/stock-adjustments for a relative change.",
            type_=problem_type("precondition-required"),
        )


class StockOutOfRangeError(OrdersError):
    def __init__(self, *, available: int, delta: int, maximum: int) -> None:
        super().__init__(
            409,
            title="Insufficient stock" if delta < 0 else "Stock limit exceeded",
            detail=f"Adjusting {available} by {delta} would leave stock outside 0..{maximum}; "
            "nothing changed.",
            type_=problem_type("insufficient-stock"),
            extra={"available": available, "delta": delta},
        )
