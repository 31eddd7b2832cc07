"""The `check` command: a design file's per-node table and its problems, as text."""

from __future__ import annotations

import json
from pathlib import Path

from builder.design import Design, DesignFormatError
from builder.validate import Report, analyze
from builder.vocabulary import format_shape


def read_designs(path: str | Path) -> list[Design]:
    """Read a design file (or a template file holding several designs).

    Raises:
        DesignFormatError: for every file-level failure, with a sentence.
    """
    path = Path(path)
    if not path.is_file():
        raise DesignFormatError(f"There is no file at {path}. Check the path.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DesignFormatError(f"{path} cannot be read ({exc.strerror}). Check its "
                                "permissions.") from exc
    if b'"designs"' in data[:4096] and b'"nodes"' not in data[:64]:
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):
            raw = None
        if isinstance(raw, dict) and isinstance(raw.get("designs"), list):
            return [Design.from_dict(d) for d in raw["designs"]]
    return [Design.from_json(data)]


def report_table(design: Design, report: Report) -> str:
    """The per-node table: id, type, output shape, parameters, problems."""
    rows = [("id", "type", "output shape", "params", "problems")]
    for node in design.nodes:
        info = report.nodes.get(node.id)
        if info is None:
            continue
        problems = "; ".join(p.code for p in info.problems) or (
            "(after a problem above)" if info.status == "skipped" else "")
        params = "" if info.param_count is None else f"{info.param_count:,}"
        rows.append((node.id, node.type[:30], format_shape(info.output_shape), params, problems))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) if i != 3 else row[i].rjust(widths[i]) for i in range(4)]
        lines.append("  ".join(cells + [row[4]]).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  --------")
    lines.append("")
    lines.append(report.summary())
    for problem in report.problems:
        where = f"[{problem.node_id}] " if problem.node_id else ""
        lines.append(f"  {where}{problem.code}: {problem.message}")
    return "\n".join(lines)


def run_check(path: str | Path) -> tuple[str, int]:
    """Check a design file.

    Returns:
        ``(text, exit_code)``: the table (or the reason the file is not a design)
        and 0 when the design is valid, 1 when it has problems, 2 when it is not a
        design at all.
    """
    try:
        designs = read_designs(path)
    except DesignFormatError as exc:
        return f"error: {exc}", 2
    texts, all_ok = [], True
    for design in designs:
        report = analyze(design)
        all_ok = all_ok and report.ok
        heading = f"{design.name or Path(path).stem} ({design.role})"
        texts.append(heading + "\n" + report_table(design, report))
    return "\n\n".join(texts), 0 if all_ok else 1
