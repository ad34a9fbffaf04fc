"""Where mail templates come from (a saved version before the files, both ways in a
long-lived compiler) and template problems named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.delivery.render import MessageCompiler, TemplateProblem

TEMPLATES = [Path(__file__).parents[1] / "fixtures" / "templates", Path("templates")]
ORG = {"name": "Health News", "postal_address": "1 Main St", "base_url": "https://x"}
SIGNUP = {"link_lasts": "7 days", "forgotten_after": "30 days"}


def _subject(compiler: MessageCompiler) -> bytes:
    compiled = compiler.compile(
        "welcome", {"org": ORG, "signup": SIGNUP}, sender="a@b.org", list_id=None, bulk=False
    )
    return next(line for line in compiled.head.split(b"\r\n") if line.startswith(b"Subject:"))


def test_a_saved_version_comes_before_the_file_and_goes_again() -> None:
    saved: dict[str, str] = {}
    compiler = MessageCompiler(TEMPLATES, saved=saved)
    spanish = compiler.in_language("es")
    assert _subject(compiler) == b"Subject: Welcome to Health News news"
    # Saved after the file was compiled and cached: the next compile uses the version,
    # in every language (they share the mapping).
    saved["email/welcome/subject.txt"] = "{% trans %}Saved subject{% endtrans %}"
    assert _subject(compiler) == b"Subject: Saved subject"
    assert _subject(spanish) == b"Subject: Saved subject"  # no catalog entry: as written
    saved["email/welcome/subject.txt"] = "Changed again"
    assert _subject(compiler) == b"Subject: Changed again"
    saved.clear()  # back to the default
    assert _subject(compiler) == b"Subject: Welcome to Health News news"


@pytest.mark.parametrize(
    ("source", "line", "says"),
    [
        ("{{ org.name }}\n{% if %}", 2, "Expected an expression"),
        ("fine\n\n{{ missing.value }}", 3, "'missing' is undefined"),
        ("{{ 1 // 0 }}", 1, "ZeroDivisionError"),
    ],
)
def test_a_problem_names_the_template_and_line(source: str, line: int, says: str) -> None:
    compiler = MessageCompiler(TEMPLATES, saved={"email/welcome/body.txt": source})
    with pytest.raises(TemplateProblem) as raised:
        _subject(compiler)
    problem = raised.value
    assert (problem.template, problem.line) == ("email/welcome/body.txt", line)
    assert says in problem.detail
    assert f"email/welcome/body.txt, line {line}" in str(problem)


def test_a_problem_in_the_layout_names_the_layout() -> None:
    child = '{% extends "email/_layout/base.html" %}{% block content %}{% endblock %}'
    broken_layout = "<html>\n<title>{{ nothing.here }}</title>"
    compiler = MessageCompiler(
        TEMPLATES,
        saved={"email/welcome/body.html": child, "email/_layout/base.html": broken_layout},
    )
    with pytest.raises(TemplateProblem) as raised:
        _subject(compiler)
    assert (raised.value.template, raised.value.line) == ("email/_layout/base.html", 2)


def test_a_template_cannot_reach_pythons_insides() -> None:
    """Admins write templates in the console: the environment is sandboxed."""
    sneaky = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    compiler = MessageCompiler(TEMPLATES, saved={"email/welcome/subject.txt": sneaky})
    with pytest.raises(TemplateProblem, match="unsafe") as raised:
        _subject(compiler)
    assert raised.value.line == 1
