"""Development defaults: an embedded PostgreSQL and an in-process SMTP sink (the outbox)."""

from __future__ import annotations

import asyncio
import logging
import mailbox
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailer.config import data_dir_problem
from mailer.errors import StartupError, bind_problem

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "mailer"


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in the data dir and survives restarts."""

    server: Any
    url: str

    def stop(self) -> None:
        # pgserver stops the server only when no other process still uses it.
        self.server.cleanup()


def _start_pgserver(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        import pgserver

    return pgserver.get_server(pgdata, cleanup_mode="stop")


async def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server and make sure our database exists."""
    pgdata = (data_dir / "postgres").resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(data_dir_problem(data_dir, exc)) from exc
    log.info("starting embedded PostgreSQL in %s", pgdata)
    try:
        server = await asyncio.to_thread(_start_pgserver, pgdata)
    except Exception as exc:  # pgserver raises plain exceptions from initdb/pg_ctl
        raise StartupError(f"the embedded PostgreSQL in {pgdata} did not start: {exc}") from exc
    admin_url = server.get_uri("postgres")
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", EMBEDDED_DATABASE
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    finally:
        await conn.close()
    return EmbeddedPostgres(server=server, url=server.get_uri(EMBEDDED_DATABASE))


def outbox_dir(data_dir: Path) -> Path:
    return data_dir / "outbox"


class OutboxHandler:
    """aiosmtpd handler that stores every message in a Maildir, like a local MDA would."""

    def __init__(self, maildir: Path) -> None:
        maildir.parent.mkdir(parents=True, exist_ok=True)
        self.mailbox = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        trace = f"Return-Path: <{envelope.mail_from or ''}>\r\n"
        trace += "".join(f"Delivered-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos)
        # One Maildir file per message, as a real MDA writes it (tmp/ then new/).
        self.mailbox.add(trace.encode() + content)
        return "250 Message accepted for delivery"


@dataclass
class DevSmtpSink:
    server: asyncio.Server
    host: str
    port: int

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_dev_smtp_sink(
    data_dir: Path, host: str = "127.0.0.1", port: int = 0
) -> DevSmtpSink:
    """An SMTP server on loopback that files every mail into the outbox Maildir."""
    handler = OutboxHandler(outbox_dir(data_dir))
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        # SMTPUTF8, as real relays offer it: addresses with a non-ASCII local part need it.
        return SMTP(
            handler,
            hostname="mailer-dev-sink",
            data_size_limit=50 * 1024 * 1024,
            enable_SMTPUTF8=True,
        )

    try:
        server = await loop.create_server(protocol, host=host, port=port)
    except OSError as exc:
        raise StartupError(
            f"the development SMTP sink cannot listen on {host}:{port}: {bind_problem(exc)}"
        ) from exc
    bound_port = server.sockets[0].getsockname()[1]
    log.info("development SMTP sink on %s:%d; mails appear at /dev/outbox", host, bound_port)
    return DevSmtpSink(server=server, host=host, port=bound_port)
