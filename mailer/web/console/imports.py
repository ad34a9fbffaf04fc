"""Subscriber import (admin): upload a CSV or JSON Lines file, dry run or for real, follow
its progress, download the rejected rows. The same import as the API's and the CLI's.

The console's forms are read whole (the CSRF check reads the form), so an upload here is
limited by the app's request size; larger files go through the API or `mailer import`."""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDict

from mailer.errors import InvalidInput
from mailer.imports.jobs import ImportRunner, get_import
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.api_subscribers import (
    import_rejects,
    read_options,
    runner_key,
    start_import,
    temp_path,
)
from mailer.web.console.page import render
from mailer.web.console.session import admin_only, current


def add_routes(app: web.Application) -> None:
    app[runner_key] = ImportRunner()

    async def stop_imports(_: web.Application) -> None:
        await app[runner_key].stop()

    app.on_shutdown.append(stop_imports)
    r = app.router
    r.add_get("/imports", imports_page)
    r.add_post("/imports", upload)
    r.add_get("/imports/{import_id}", import_page)
    r.add_get("/imports/{import_id}/rejects", rejects_file)


@admin_only
async def imports_page(
    request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
) -> web.StreamResponse:
    return render(
        request, "console/imports.html", status=status, title="Import subscribers",
        errors=errors or {},
    )  # fmt: skip


@admin_only
async def upload(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, FileField) or not upload.filename:
        return await imports_page(
            request, errors={"file": "Choose the file to import."}, status=400
        )
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    if "dry_run" not in fields:
        fields["dry_run"] = "false"
    params: MultiDict[str] = MultiDict(fields)
    try:
        options, read, _ = read_options(params, f"{current(request).editor.email}, console")
    except InvalidInput as exc:
        return await imports_page(
            request, errors=dict(exc.fields) or {"form": str(exc)}, status=400
        )
    path = temp_path(upload.filename)
    path.write_bytes(upload.file.read())
    try:
        job, _ = await start_import(request.app, path, upload.filename, options, read, 3.0)
    except InvalidInput as exc:
        return await imports_page(
            request, errors=dict(exc.fields) or {"form": str(exc)}, status=400
        )
    raise web.HTTPSeeOther(f"/console/imports/{job['import_id']}")


@admin_only
async def import_page(request: web.Request) -> web.StreamResponse:
    job = await get_import(request.app[keys.pool_key], path_id(request, "import_id"))
    return render(request, "console/import.html", title=f"Import {job['import_id']}", job=job)


@admin_only
async def rejects_file(request: web.Request) -> web.StreamResponse:
    """The rows the import did not apply, as the API gives them."""
    return await import_rejects(request)
