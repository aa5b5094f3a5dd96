"""``spoolwatch spool ...``: look into spools without consuming them."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from spoolwatch.cli.output import console, err_console, fail, print_json_line
from spoolwatch.errors import ConfigError, MissingExtra, SpoolUnavailable
from spoolwatch.spools import Delivery, QuarantinedItem, Spool, open_spool

app = typer.Typer(
    help="Look into spools: filesystem directories, SQS and RabbitMQ queues.",
    no_args_is_help=True,
)

_PREVIEW = 60


def _preview(payload: dict[str, Any]) -> str:
    text = orjson.dumps(payload).decode()
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def _open(address: str, queue: str | None) -> Spool:
    options: dict[str, Any] = {"queue": queue} if queue else {}
    try:
        return open_spool(address, **options)
    except (ConfigError, MissingExtra, SpoolUnavailable) as exc:
        fail(str(exc))
    except TypeError as exc:
        fail(f"{address}: {exc}")


def _show_waiting(spool: Spool, limit: int | None, as_json: bool) -> Counter[str]:
    counts: Counter[str] = Counter()
    table = Table("#", "position", "id", "deployment", "type", "rows", "payload", box=None)
    deliveries: list[Delivery] = []
    for delivery in spool.peek(limit):
        deliveries.append(delivery)
        record = delivery.record
        if record is None:
            counts["CORRUPT"] += 1
            if as_json:
                print_json_line({"position": delivery.position, "error": str(delivery.error)})
            else:
                err_console.print(f"[red]corrupt[/] {delivery.error}")
            continue
        counts[record.type_name] += 1
        if as_json:
            print_json_line(
                {
                    "id": record.id,
                    "deploymentId": record.deployment_id,
                    "dataType": record.type_name,
                    "payload": record.payload,
                }
            )
        else:
            table.add_row(
                str(len(deliveries)),
                delivery.position,
                (record.id or "")[:8],
                record.deployment_id or "-",
                record.type_name,
                str(record.row_count() or ""),
                _preview(record.payload),
            )
    if not as_json and table.row_count:
        console.print(table)
    return counts


def _kept(count: int) -> str:
    if count and count % 1024 == 0:
        return f"first {count // 1024} KiB kept"
    return f"first {count:,} bytes kept"


def _cut_note(item: QuarantinedItem) -> str | None:
    """What was cut from a record quarantined by its first bytes only (``None`` if whole):
    ``oversized: 52,428,800 bytes at offset 1234; first 1 KiB kept``."""
    if item.size is None:
        return None
    what = "oversized" if item.limit is not None else "cut"
    where = f" at offset {item.offset}" if item.offset is not None else ""
    cap = f" (max_record_bytes {item.limit:,})" if item.limit is not None else ""
    return f"{what}: {item.size:,} bytes{where}{cap}; {_kept(len(item.raw))}"


def _show_quarantine(spool: Spool, limit: int | None, as_json: bool) -> Counter[str]:
    counts: Counter[str] = Counter()
    table = Table(box=None)
    table.add_column("quarantined at", no_wrap=True)
    table.add_column("position", overflow="fold")
    table.add_column("reason", overflow="fold", ratio=1)
    table.add_column("bytes", justify="right")
    for item in spool.quarantined(limit):
        counts["QUARANTINED"] += 1
        note = _cut_note(item)
        if as_json:
            line: dict[str, Any] = {
                "quarantinedAt": item.quarantined_at,
                "position": item.position,
                "reason": item.reason,
                "raw": base64.b64encode(item.raw).decode(),
            }
            if note is not None:
                line |= {"truncated": True, "size": item.size, "offset": item.offset}
                line |= {"maxRecordBytes": item.limit, "keptBytes": len(item.raw), "note": note}
            print_json_line(line)
        else:
            reason = escape(item.reason) + ("" if note is None else f"\n[yellow]{note}[/]")
            shown = str(len(item.raw)) if item.size is None else f"{item.size:,}"
            table.add_row(item.quarantined_at, item.position, reason, shown)
    if not as_json and table.row_count:
        console.print(table)
    return counts


@app.command("inspect")
def inspect(
    address: str = typer.Argument(
        ..., help="Spool directory, file://, sqs://NAME or an SQS queue URL, amqp://...?queue=NAME."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Show at most this many."),
    queue: str | None = typer.Option(None, "--queue", help="RabbitMQ queue name."),
    quarantine: bool = typer.Option(
        False, "--quarantine", help="Show the quarantine (dead-letter) instead of waiting records."
    ),
) -> None:
    """Print the records waiting in a spool (without consuming them) and a count per type."""
    spool = _open(address, queue)
    try:
        show = _show_quarantine if quarantine else _show_waiting
        counts = show(spool, limit, as_json)
    except SpoolUnavailable as exc:
        fail(str(exc), code=1)
    except ConfigError as exc:  # found on first use: a refused login, no AWS region
        fail(str(exc))
    finally:
        spool.close()
    (err_console if as_json else console).print(_summary(counts, spool.name), soft_wrap=True)


def _summary(counts: Counter[str], name: str) -> str:
    if not counts:
        return f"{name}: nothing waiting"
    parts = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    return f"{name}: {sum(counts.values())} records ({parts})"
