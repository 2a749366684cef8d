"""A small service built by `create_service_app`, for the limit and header tests.

Run in-process (`create_app(settings)`), as a real server process
(`python -m servicekit.web.serve tests.support.limits_app:create_app`, settings from
`LIMITS_TEST_*`), or built first and handed to the runner
(`python -m tests.support.limits_app --port N`).
It opens no database connection: the engine is built lazily and no route uses it.
"""

from __future__ import annotations

import argparse
import asyncio

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from servicekit.core.settings import ServiceSettings
from servicekit.web.app import create_service_app
from servicekit.web.limits import body_cap
from servicekit.web.shutdown import run_service


class LimitsTestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LIMITS_TEST_", extra="ignore", hide_input_in_errors=True
    )

    service_name: str = "limits-test"
    # The cap /note and /notes/{note_id} declare (servicekit.web.limits.body_cap).
    note_max_bytes: int = 1024


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    tags: list[str] = Field(default_factory=list)
    nested: object = None


class Echo(BaseModel):
    name: str
    tags: int


def create_app(settings: LimitsTestSettings | None = None) -> FastAPI:
    settings = settings or LimitsTestSettings()
    router = APIRouter()
    # A request inside /hold reports in on `app.state.entered`, then waits for `release`.
    release = asyncio.Event()
    entered: asyncio.Queue[None] = asyncio.Queue()

    @router.post("/echo")
    async def echo(payload: Payload) -> Echo:
        return Echo(name=payload.name, tags=len(payload.tags))

    @router.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.post("/note")
    @body_cap("note_max_bytes")
    async def note(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.put("/notes/{note_id}")
    @body_cap("note_max_bytes")
    async def put_note(note_id: int, request: Request) -> dict[str, int]:
        return {"id": note_id, "bytes": len(await request.body())}

    @router.get("/search")
    async def search(q: str = Query(default="")) -> dict[str, int]:
        return {"length": len(q)}

    @router.get("/cached")
    async def cached(response: Response) -> dict[str, bool]:
        response.headers["Cache-Control"] = "public, max-age=60"
        return {"cached": True}

    @router.get("/slow")
    async def slow(seconds: float = Query(default=0.0, ge=0, le=5)) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @router.get("/hold")
    async def hold() -> dict[str, bool]:
        entered.put_nowait(None)
        await release.wait()
        return {"held": True}

    app = create_service_app(settings=settings, title="limits-test", version="0", routers=[router])
    app.state.release = release
    app.state.entered = entered
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve an app built before the server exists, as a programmatic runner does."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    run_service(create_app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
