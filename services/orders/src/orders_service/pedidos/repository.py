"""Every query of the pedidos and pedido_lines tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from orders_service.pedidos.models import Pedido, PedidoLine
from orders_service.pedidos.specifications import PedidoTenantSpec
from servicekit.data.repository import TenantRepository
from servicekit.data.specification import Specification


class PedidoRepository(TenantRepository[Pedido]):
    """Pedidos of one tenant; their lines load with them (one selectin query per page)."""

    model = Pedido
    sortable: ClassVar[Mapping[str, str]] = {
        "created_at": "created_at",
        "updated_at": "updated_at",
    }

    def tenant_spec(self) -> Specification[Pedido]:
        return PedidoTenantSpec(self.tenant_id)

    async def add_line(self, pedido: Pedido, line: PedidoLine) -> None:
        pedido.lines.append(line)
        await self.session.flush()

    async def remove_line(self, pedido: Pedido, line: PedidoLine) -> None:
        # delete-orphan: taking the line out of the collection deletes its row on flush.
        pedido.lines.remove(line)
        await self.session.flush()
