"""``peerflow serve``: the HTTP service on uvicorn, over the same store as the other commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

from peerflow.cli._store_commands import store_of
from peerflow.store._defaults import DEFAULT_STORE

EXIT_OK, EXIT_PROBLEMS = 0, 1


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: PLC0415 - an optional extra

        from peerflow.http._app import create_app  # noqa: PLC0415
        from peerflow.http._config import ServiceConfig, load_config, new_token  # noqa: PLC0415
    except ImportError:
        print(
            "peerflow: error: serving needs the server extra: pip install 'peerflow[server]'",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    if args.openapi:  # the contract, for a portal's client generator; no store is opened
        app = create_app(":memory:", ServiceConfig.single(new_token()))
        print(json.dumps(app.openapi_schema.to_schema(), indent=2, ensure_ascii=False))
        return EXIT_OK
    if args.config:
        config = load_config(args.config)
    elif os.environ.get("PEERFLOW_TOKEN"):
        config = ServiceConfig.single(os.environ["PEERFLOW_TOKEN"])
    else:
        token = new_token()
        config = ServiceConfig.single(token)
        print(
            "peerflow serve: no --config and no $PEERFLOW_TOKEN, so this run's token is\n"
            f"  {token}\n"
            "send it as: Authorization: Bearer <token>",
            file=sys.stderr,
        )
    store = store_of(args)
    url = args.db or os.environ.get("PEERFLOW_DB") or DEFAULT_STORE
    webhooks = args.webhooks or (
        "peerflow-webhooks.sqlite3"
        if url.startswith(("postgresql://", "postgres://"))
        else url.removeprefix("sqlite:///") + ".webhooks"
    )
    app = create_app(store, config, webhooks=webhooks)
    base = f"http://{args.host}:{args.port}"
    print(
        f"peerflow serve: {base} (OpenAPI at /openapi/openapi.json), "
        f"{len(config.portals)} portal(s)",
        file=sys.stderr,
    )
    if args.sign_in:  # the web page, for one participant, vouched for by the first portal
        from peerflow.http._signin import sign_in_link  # noqa: PLC0415

        expires = datetime.now(UTC) + timedelta(hours=12)
        link = sign_in_link(base, config.portals[0], args.sign_in, expires)
        print(f"the web page as {args.sign_in}, for 12 hours:\n  {link}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", server_header=False)
    return EXIT_OK
