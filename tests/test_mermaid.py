"""Mermaid output that Mermaid itself can read, whatever the states are called.

A quote in a title, a hyphen or a space in a state's name, or a state called ``state``,
``note`` or ``class`` broke the diagram (or, for ``x y``, drew a wrong one) while ``validate``
said ok. Every line is checked against the small part of Mermaid's state-diagram grammar
peerflow writes; where ``PEERFLOW_MERMAID`` names a folder with ``mermaid`` and ``jsdom``
installed (``.ci/run`` installs them when node is on the machine), Mermaid 11's own parser
reads each diagram too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import peerflow
from peerflow.model._mermaid import mermaid

ODD_NAMES = """\
id: odd-names
version: 1
title: States named to break diagrams
waivable_by: [lead]
roles:
  lead: {}
states:
  x y: {title: 'He said "go" #1'}
  a-b: {}
  state: {title: State}
  note: {}
  class: {}
  n2: {title: 'A state already called n2'}
  done: {terminal: true, title: "Done; really: done"}
initial: x y
transitions:
  - {event: first, from: x y, to: a-b, by: lead}
  - {event: second, from: a-b, to: state, by: lead}
  - {event: third, from: state, to: note, by: lead}
  - {event: fourth, from: note, to: class, by: lead}
  - {event: fifth, from: class, to: n2, by: lead}
  - {event: finish, from: n2, to: done, by: lead}
"""

SAFE_ID = r"[A-Za-z][A-Za-z0-9_]*"
LINE_FORMS = [
    re.compile(rf'^    state "[^"\n]*" as (?P<id>{SAFE_ID})$'),
    re.compile(rf"^    \[\*\] --> (?P<id>{SAFE_ID})$"),
    re.compile(rf"^    (?P<id>{SAFE_ID}) --> (?P<to>{SAFE_ID}) : [A-Za-z_][A-Za-z0-9_]*$"),
    re.compile(rf"^    (?P<id>{SAFE_ID}) --> \[\*\]$"),
]
KEYWORDS = {"state", "note", "class", "classdef", "direction", "end", "as", "style"}


def diagrams() -> dict[str, str]:
    found = {d: mermaid(peerflow.definition(d).type) for d in peerflow.builtin_files()}
    found["odd-names"] = mermaid(peerflow.compile_text(ODD_NAMES, "odd.yaml").type)
    return found


def test_every_line_is_in_mermaid_s_state_diagram_grammar() -> None:
    for name, text in diagrams().items():
        lines = text.splitlines()
        assert lines[0] == "stateDiagram-v2", name
        for line in lines[1:]:
            match = next((m for form in LINE_FORMS if (m := form.match(line))), None)
            assert match is not None, f"{name}: {line!r}"
            for key in ("id", "to"):
                value = match.groupdict().get(key)
                assert value is None or value.lower() not in KEYWORDS, f"{name}: {line!r}"


def test_odd_names_get_their_own_ids_and_keep_their_words() -> None:
    text = diagrams()["odd-names"]
    ids = dict(re.findall(r'state "([^"]*)" as (\S+)', text))
    assert ids["He said #quot;go#quot; #35;1"] == "n1"
    assert ids["a-b"] == "n2_" and ids["A state already called n2"] == "n2"
    assert ids["State"] == "n3" and ids["note"] == "n4" and ids["class"] == "n5"
    assert "    n1 --> n2_ : first" in text.splitlines()
    assert "    [*] --> n1" in text.splitlines()


MERMAID_PARSE = """
import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
const mermaid = (await import('mermaid')).default;
try {
  await mermaid.parse(readFileSync(0, 'utf8'));
  console.log('parsed');
} catch (error) {
  console.log(String(error.message || error).split('\\n').slice(0, 3).join(' | '));
  process.exit(1);
}
"""


def test_mermaid_s_own_parser_reads_every_diagram() -> None:
    folder = os.environ.get("PEERFLOW_MERMAID")
    node = shutil.which("node")
    if not folder or node is None:
        if os.environ.get("CI") == "true" and node is not None:
            pytest.fail("CI has node: .ci/run must install mermaid and set PEERFLOW_MERMAID")
        pytest.skip(
            "Mermaid's own parser NOT RUN: set PEERFLOW_MERMAID to a folder where "
            "'npm install mermaid@11 jsdom' ran (.ci/run does this when node is installed)"
        )
    for name, text in diagrams().items():
        done = subprocess.run(
            [node, "--input-type=module", "-e", MERMAID_PARSE],
            input=text,
            capture_output=True,
            text=True,
            cwd=folder,
            timeout=120,
            check=False,
        )
        assert done.stdout.strip() == "parsed", f"{name}: {done.stdout}{done.stderr[-500:]}"
