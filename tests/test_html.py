"""report.html: self-contained (no network, no external resources), every table / figure / viewer cell of the model,
generic rendering of what the model gains; and in a real headless Chromium (Debian's ``chromium``, driven through
the DevTools protocol over ``--remote-debugging-pipe``, no extra Python package): no console errors, sorting by
clicking a header, filtering, the image viewer, a screenshot checked structurally.

Set ``DENOISEBENCH_SCREENSHOT=PATH`` to also save the screenshot there (docs/report-html.png is made that way).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from denoisebench.cli import main
from denoisebench.reporting.html import render_html
from denoisebench.reporting.model import Report, ReportTable
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

RUN = ["run", "--denoisers", "median,gaussian,wiener", "--noise", "gaussian:25,salt_pepper:10%", "--max-images", "2",
       "--metrics", "psnr,ssim", "--quiet"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe", "--window-size=1280,900", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "run"
    assert main([*RUN, "--output", str(out)]) == 0
    return out


def test_written_beside_report_md_and_self_contained(run_dir):
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert (run_dir / "report.md").exists()
    with Store(run_dir) as store:
        report = build_report(store)
    # nothing is fetched: no external URL, no src/href outside data: URIs and in-page anchors (the PDF links are
    # relative files beside the report, opened only when clicked)
    assert not re.search(r"https?://", page)
    for attr, value in re.findall(r'\b(src|href)="([^"]*)"', page):
        assert value.startswith(("data:", "#")) or (attr == "href" and value.endswith(".pdf")), (attr, value)
    assert "default-src 'none'" in page and "<link" not in page
    for table in report.tables:
        assert f'id="t-{table.key}"' in page
    assert page.count('<figure class="fig"') == len(list((run_dir / "figures").glob("*.png")))
    data = json.loads(re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', page,
                                re.S).group(1))
    panels = data["panels"]
    assert len(panels) == 4  # 2 images x the middle level of 2 noise types
    assert all(p["names"] == ["clean", "noisy", "median", "gaussian", "wiener"] for p in panels)
    pool = data["pool"]  # each distinct image once (the clean image of every noise type's panel is the same)
    assert all(uri.startswith("data:image/png;base64,") for uri in pool)
    assert sorted({i for p in panels for i in p["images"].values()}) == list(range(len(pool)))
    assert len(pool) == 2 + 4 * 4  # 2 clean images; noisy + 3 outputs per panel


def test_report_html_flag_rerenders_only_the_page(run_dir, capsys):
    (run_dir / "report.html").unlink()
    md = (run_dir / "report.md").stat().st_mtime_ns
    assert main(["report", str(run_dir), "--html"]) == 0
    assert (run_dir / "report.html").exists() and (run_dir / "report.md").stat().st_mtime_ns == md
    assert "report.html" in capsys.readouterr().out


def test_generic_rendering_of_new_model_parts():
    """A table, a summary and a list of lines the model gains later appear without changes here."""
    report = Report("t", header=["PSNR: 10·log10(1/MSE) <b>"], failures=[])
    report.tables = [ReportTable("per_image", "Per-image values", ["image", "psnr"], [["a", "1.0"], ["b", "2.0"]],
                                 notes=["one row per image"], best={(1, 1)})]
    report.summary = ["best on gaussian: median"]  # a field the model may gain
    report.outliers_text = ["grass: gaussian worse than noisy"]  # any list of text lines is a section
    page = render_html(report)
    main_part = page.split("<main>", 1)[1]
    assert main_part.index("best on gaussian: median") < main_part.index("Conventions")
    assert 'id="t-per_image"' in page and "one row per image" in page and '<td class=best>2.0</td>' in page
    assert "10·log10(1/MSE) &lt;b&gt;" in page  # text is escaped, never markup


class Chromium:
    """A headless Chromium driven through the DevTools protocol on a pipe (fd 3: commands in, fd 4: replies)."""

    def __init__(self, profile: str):
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()
        # copies at fds >= 10, so that dup2 onto 3 and 4 in the child never meets itself
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child_r, from_child_w)]
        os.close(to_child_r)
        os.close(from_child_w)

        def fds():  # in the child: the protocol's fds 3 (commands) and 4 (replies), inherited across exec
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for fd in high:
            os.close(fd)
        self._id, self._buf, self.events, self.session = 0, b"", [], None

    def _read(self, timeout: float) -> dict:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._r], [], [], timeout)
            if not ready:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, *, session: bool = True, timeout: float = 20) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(max(0.1, deadline - time.monotonic()))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev.get("method") == method:
                    self.events.remove(ev)
                    return ev
            self.events.append(self._read(max(0.1, deadline - time.monotonic())))

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the element."""
        box = self.eval(f"(function(){{var e=document.querySelector({json.dumps(selector)});e.scrollIntoView("
                        "{block:'center'});var r=e.getBoundingClientRect();return [r.x+r.width/2,r.y+r.height/2];})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


def _errors(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(json.dumps(params.get("exceptionDetails", {}))[:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(json.dumps(params.get("args", []))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            out.append(params["entry"].get("text", "")[:300])
    return out


def _column(browser: Chromium, key: str, col: int) -> list[str]:
    return browser.eval(f"Array.from(document.querySelectorAll('#t-{key} tbody tr')).map(function(r){{"
                        f"return r.children[{col}].textContent;}})")


def _num(text: str) -> float:
    m = re.match(r"[+-]?(\d+\.?\d*|\.\d+)", text.strip().replace("−", "-"))
    return float(m.group(0)) if m else float("nan")


def test_in_headless_chromium(run_dir, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)")
    t0 = time.monotonic()
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    browser = Chromium(profile)
    try:
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"}, timeout=30)
        except (TimeoutError, RuntimeError) as exc:
            pytest.skip(f"chromium did not start headless here: {exc}")
        browser.session = browser.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                       session=False)["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            browser.send(f"{domain}.enable")
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                            "mobile": False})
        browser.send("Page.navigate", {"url": (run_dir / "report.html").resolve().as_uri()})
        browser.wait_event("Page.loadEventFired")
        # what the page shows
        with Store(run_dir) as store:
            report = build_report(store)
        assert browser.eval("document.querySelectorAll('details.table').length") == len(report.tables)
        assert browser.eval("document.querySelectorAll('section#figures figure img').length") == len(
            list((run_dir / "figures").glob("*.png")))
        assert browser.eval("Array.from(document.images).every(function(i){return i.complete&&i.naturalWidth>0})")
        assert browser.eval("document.querySelectorAll('#v-grid .tile').length") == 5  # clean, noisy, 3 denoisers
        assert browser.eval("document.getElementById('v-panel').options.length") == 4
        assert browser.eval("document.getElementById('v-b').value") in ("median", "gaussian", "wiener")
        # sort Table 4 by its PSNR column with a real click: ascending, then descending
        table = report.table("table4")
        col = next(j for j, c in enumerate(table.columns) if c.startswith("PSNR"))
        selector = f"#t-table4 thead th:nth-child({col + 1})"
        browser.click(selector)
        values = [_num(v) for v in _column(browser, "table4", col)]
        assert values == sorted(values) and len(values) == len(table.rows)
        assert browser.eval(f"document.querySelector('{selector}').getAttribute('aria-sort')") == "ascending"
        browser.click(selector)
        values = [_num(v) for v in _column(browser, "table4", col)]
        assert values == sorted(values, reverse=True)
        # filtering: only the rows containing the words stay visible
        browser.eval("var f=document.querySelector('#t-table4 input.filter');f.value='median';"
                     "f.dispatchEvent(new Event('input'))")
        shown = browser.eval("Array.from(document.querySelectorAll('#t-table4 tbody tr')).filter(function(r){"
                             "return !r.hidden}).map(function(r){return r.children[0].textContent})")
        assert shown == ["median"]
        browser.eval("var f=document.querySelector('#t-table4 input.filter');f.value='';"
                     "f.dispatchEvent(new Event('input'))")
        # synchronized zoom: one zoom step transforms every view alike
        browser.click("#v-zin")
        transforms = browser.eval("Array.from(document.querySelectorAll('#viewer .vp img')).map(function(i){"
                                  "return i.style.transform})")
        assert len(transforms) == 7 and transforms[0] != transforms[2]  # the comparison is drawn larger
        width = browser.eval("document.getElementById('v-ia').naturalWidth")
        for t in transforms:  # every view shows the same part of the image: the centre half after one zoom step
            tx, ty, scale = map(float, re.match(r"translate\(([-\d.e]+)px, ?([-\d.e]+)px\) scale\(([-\d.e]+)\)",
                                                t).groups())
            assert abs(-tx / scale - width / 4) < 1e-6 and abs(-ty / scale - width / 4) < 1e-6, t
        assert browser.eval("document.getElementById('v-zoom').textContent") == "zoom 2×"
        browser.eval("var s=document.getElementById('v-split');s.value='30';s.dispatchEvent(new Event('input'))")
        assert browser.eval("document.getElementById('v-top').style.clipPath") == "inset(0px 0px 0px 30%)"
        browser.click("#v-reset")
        # screenshot of the top of the page, checked structurally (a PNG of the viewport, not blank)
        browser.eval("window.scrollTo(0,0)")
        shot = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"})["data"])
        path = tmp_path / "report-html.png"
        path.write_bytes(shot)
        from PIL import Image

        with Image.open(path) as im:
            assert im.size == (1280, 900)
            colours = im.convert("L").getcolors(1 << 16)
            assert colours is None or len(colours) > 8  # text and tables were painted
        if os.environ.get("DENOISEBENCH_SCREENSHOT"):
            shutil.copy(path, os.environ["DENOISEBENCH_SCREENSHOT"])
        errors = _errors(browser.events)
        assert not errors, errors
    finally:
        browser.close()
    print(f"chromium: page loaded, sorted, filtered, zoomed, screenshot {path.name} in {time.monotonic() - t0:.1f} s")


def test_figure_preview_sizes(tmp_path):
    """A figure at least twice FIGURE_MAX_WIDTH wide is embedded as the means of whole blocks (here constant
    3x3 blocks: exactly the block colours), one narrower by a resize to FIGURE_MAX_WIDTH; the display width
    is the PNG's width at 100 dpi."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    from denoisebench.reporting import html

    rng = np.random.default_rng(5)
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    blocks = palette[rng.integers(0, 16, (60, 1000))]  # 1000 x 60 blocks of 3 x 3 pixels: 3000 x 180
    big = np.repeat(np.repeat(blocks, 3, axis=0), 3, axis=1)
    Image.fromarray(big).save(tmp_path / "big.png", dpi=(300, 300))
    Image.fromarray(big[:, :1500]).save(tmp_path / "mid.png", dpi=(300, 300))

    def decoded(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))

    uri, width, kind = html._figure_uri(tmp_path / "big.png")
    assert (kind, width) == ("png", 1000) and np.array_equal(decoded(uri), blocks)
    uri, width, kind = html._figure_uri(tmp_path / "mid.png")
    assert width == 500 and decoded(uri).shape == (round(180 * html.FIGURE_MAX_WIDTH / 1500), 1200, 3)
