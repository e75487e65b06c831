#!/usr/bin/env python3
"""The ssh options a page names, for tests/docs/run.sh.

  optwords.py rows FILE HEADING     one line per row of the first table under HEADING: the
                                    options its first column names, sorted, joined by ", "
                                    ("-" for a row that names none)
  optwords.py words FILE HEADING    the options the section under HEADING names, one a line
                                    (a Markdown section: its first paragraph only)
  optwords.py words FILE            the options the whole file names

FILE is Markdown (.md: options in `code`) or scdoc (.scd: options in *bold*). An option is
a code or bold span whose first word is an ssh option (-L, -tt) or an ssh_config keyword
(RemoteForward, PKCS11Provider); the other words of the span are left out, but for -O's
operation (`-O check|stop` gives "-O check" and "-O stop"). A span that begins with
anything else (`ssh -G`, a path, a program) names no option. A missing heading, or a
section or table that names nothing, exits 1, so a renamed heading cannot pass.
"""
import re
import sys

OPT = re.compile(r"^-[A-Za-z0-9]{1,2}$")
KEYWORD = re.compile(r"^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$")


def fail(msg):
    print(f"optwords.py: {msg}", file=sys.stderr)
    sys.exit(1)


def spans(text, scd):
    return re.findall(r"\*([^*\n]+)\*" if scd else r"`([^`\n]+)`", text)


def options(text, scd):
    out = []
    for span in spans(" ".join(text.split("\n")), scd):
        words = span.split()
        if not words or not (OPT.match(words[0]) or KEYWORD.match(words[0])):
            continue
        if words[0] == "-O" and len(words) > 1 and re.match(r"^[a-z|]+$", words[1]):
            out += ["-O " + op for op in words[1].split("|") if op]
        else:
            out.append(words[0])
    return out


def section(lines, heading, scd):
    """The lines under heading, to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    for i, line in enumerate(lines):
        if line.rstrip() == heading:
            break
    else:
        fail(f"no heading {heading!r}")
    body = []
    for line in lines[i + 1 :]:
        m = re.match(r"^(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        body.append(line)
    return body


def first_paragraph(body):
    para = []
    for line in body:
        if line.strip():
            para.append(line)
        elif para:
            break
    return para


def first_column_cells(body, scd):
    """The first cell of each row of the first table in body."""
    cells = []
    if scd:
        # scdoc: [[ starts the table with its header row, | starts a row, : the next cell
        started = False
        for line in body:
            if line.startswith("[["):
                started = True
            elif started and line.startswith("|"):
                cells.append(line[1:])
            elif started and not line.startswith(":"):
                break
    else:
        rows = []
        for line in body:
            if line.startswith("|"):
                rows.append(line)
            elif rows:
                break
        if len(rows) < 2 or not re.match(r"^\|\s*-+", rows[1]):
            fail("no Markdown table (header, --- line, rows)")
        cells = [row[1:].split(" | ", 1)[0] for row in rows[2:]]
    if not cells:
        fail("a table with no rows")
    return cells


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("rows", "words"):
        fail("usage: optwords.py rows|words FILE [HEADING]")
    mode, path = sys.argv[1], sys.argv[2]
    heading = sys.argv[3] if len(sys.argv) == 4 else None
    scd = path.endswith(".scd")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if mode == "rows":
        if heading is None:
            fail("rows needs a HEADING")
        for cell in first_column_cells(section(lines, heading, scd), scd):
            print(", ".join(sorted(set(options(cell, scd)))) or "-")
        return
    if heading is None:
        body = lines
    else:
        body = section(lines, heading, scd)
        if not scd:
            body = first_paragraph(body)
    words = sorted(set(options("\n".join(body), scd)))
    if not words:
        fail(f"{path}: no option named" + (f" under {heading!r}" if heading else ""))
    print("\n".join(words))


main()
