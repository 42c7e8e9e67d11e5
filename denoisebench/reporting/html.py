"""``report.html``: the whole report as one self-contained HTML file (inline CSS and JavaScript, images as data
URIs, a Content-Security-Policy that forbids any network access), so it opens offline in any browser.

Rendered generically from the report model: the summary lines (when the model has them), every other list of
text lines the model carries, the conventions (header), every table (client-side sorting by clicking a header,
filtering by text), its notes, every figure, the failed cells, and an image viewer for the visual cells cached in
the run directory (``figures/cache/``, see :mod:`denoisebench.reporting.regenerate`): clean / noisy / every
denoiser's output side by side with synchronized zoom and pan, and a before/after slider between any two.
Nothing here runs a denoiser.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from denoisebench.reporting.model import Report, ReportTable

#: figures wider than this (pixels) are embedded downscaled to at most this (the 300-dpi PNG and the PDF stay beside the file)
FIGURE_MAX_WIDTH = 1200
#: an embedded figure PNG larger than this is embedded as a JPEG preview instead, when that is smaller
JPEG_ABOVE = 300_000
#: a table with more rows than this starts collapsed
COLLAPSE_ROWS = 60
_KNOWN_LISTS = {"header", "tables", "figures", "failures", "summary"}


def _png(array: np.ndarray) -> str:
    from PIL import Image

    img = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img if img.ndim == 2 or img.shape[2] != 1 else img[..., 0]).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_uri(path: Path) -> tuple[str, int, str] | None:
    """A figure PNG as a data URI (downscaled to at most :data:`FIGURE_MAX_WIDTH`: one at least twice as wide
    by block means over the smallest whole factor that fits -- the 300-dpi visual grid to exactly its 100-dpi
    display size --, a narrower one by Lanczos to that width; 256 colours, or a JPEG preview when that is
    smaller than a PNG over :data:`JPEG_ABOVE` bytes), its display width in CSS pixels (100 dpi) and the
    format; None if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            dpi = float((im.info.get("dpi") or (300, 300))[0]) or 300.0
            width = round(im.width * 100 / dpi)
            rgb = im if im.mode == "RGB" else im.convert("RGB")
    except OSError:
        return None
    if rgb.width >= 2 * FIGURE_MAX_WIDTH:  # block means: a fraction of Lanczos's time at this size
        rgb = rgb.reduce(-(-rgb.width // FIGURE_MAX_WIDTH))
    elif rgb.width > FIGURE_MAX_WIDTH:
        rgb = rgb.resize((FIGURE_MAX_WIDTH, round(rgb.height * FIGURE_MAX_WIDTH / rgb.width)), Image.LANCZOS)
    small = rgb.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    small.save(buf, "PNG")
    kind = "png"
    if buf.tell() > JPEG_ABOVE:  # photographic content (the visual grid): a JPEG preview is far smaller
        jpeg = io.BytesIO()
        rgb.save(jpeg, "JPEG", quality=85)
        if jpeg.tell() < buf.tell():
            buf, kind = jpeg, "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(buf.getvalue()).decode("ascii"), width, kind


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(text))


def _table(table: ReportTable) -> str:
    tid = f"t-{_slug(table.key)}"
    head = "".join(f'<th scope="col" data-col="{j}" title="sort by {_e(c)}">{_e(c)}</th>'
                   for j, c in enumerate(table.columns))
    body = []
    for i, row in enumerate(table.rows):
        cells = "".join(
            f'<{"th scope=row" if j == 0 else "td"}{" class=best" if (i, j) in table.best else ""}>{_e(v)}'
            f'</{"th" if j == 0 else "td"}>' for j, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in table.notes)
    opened = "" if len(table.rows) > COLLAPSE_ROWS or getattr(table, "detail", False) else " open"
    return (f'<details class="table" id="{tid}"{opened}><summary><h3>{_e(table.title)}</h3>'
            f'<span class="rows">{len(table.rows)} rows</span></summary>'
            f'<div class="tools"><input type="search" class="filter" placeholder="filter rows (words, all must '
            f'match)" aria-label="filter {_e(table.key)}"><span class="shown"></span></div>'
            f'<div class="scroll"><table class="data" data-key="{_e(table.key)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{notes}</details>')


def _lines(title: str, sid: str, lines: list[str], fold: int = 0) -> str:
    """A section of text lines; beyond ``fold`` lines (when given) the rest is folded away."""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines[:fold or None])
    more = ""
    if fold and len(lines) > fold:
        rest = "".join(f"<li>{_e(line)}</li>" for line in lines[fold:])
        more = f'<details><summary>{len(lines) - fold} more</summary><ul class="lines">{rest}</ul></details>'
    return f'<section id="{sid}"><h2>{_e(title)}</h2><ul class="lines">{items}</ul>{more}</section>'


def _viewer_data(report: Report, run_dir: Path | None) -> tuple[list[dict], list[str]]:
    """The viewer's panels (each image an index into the pool) and the pool of image data URIs."""
    if run_dir is None:
        return [], []
    from denoisebench.reporting.data import denoiser_order
    from denoisebench.reporting.regenerate import cached_panels

    cells, plan = report.context.get("cells"), report.context.get("plan") or {}
    order = denoiser_order(cells, plan) if cells is not None and len(cells) else []
    rank = {n: i for i, n in enumerate(order)}
    out, pool, index = [], [], {}

    def pooled(img: np.ndarray) -> int:  # the same image (a clean image shown for every noise type) once
        uri = _png(img)
        if uri not in index:
            index[uri] = len(pool)
            pool.append(uri)
        return index[uri]

    for panel in cached_panels(run_dir):
        names = ["clean", *sorted(panel.images, key=lambda n: (rank.get(n, len(rank)), n))]
        images = {"clean": pooled(panel.clean), **{n: pooled(img) for n, img in panel.images.items()}}
        h, w = panel.clean.shape[:2]
        out.append({"label": f"{panel.image_id} ({panel.dataset}) — {panel.setting}", "names": names,
                    "images": images, "psnr": {n: round(v, 2) for n, v in panel.psnr.items()},
                    "width": int(w), "height": int(h)})
    return out, pool


def render_html(report: Report, run_dir: str | Path | None = None) -> str:
    """The report as one HTML document (str). ``run_dir``: where the figures and the visual-cell cache are read
    from (figures and the viewer are left out without it)."""
    run_dir = Path(run_dir) if run_dir is not None else None
    # the figure previews (PNG decode, downscale, palette: Pillow releases the GIL there) are made in a thread
    # while the tables and the image viewer's data are rendered here
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(1, thread_name_prefix="denoisebench-html")
    previews = [executor.submit(_figure_uri, run_dir / fig.path) if run_dir is not None else None
                for fig in report.figures]
    executor.shutdown(wait=False)
    sections, toc = [], []
    summary = getattr(report, "summary", None)
    if summary:
        sections.append(_lines("Summary", "summary", [str(s) for s in summary]))
        toc.append(("summary", "Summary"))
    for name, value in vars(report).items():  # lists of text lines the model may gain
        if name not in _KNOWN_LISTS and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            title = name.replace("_", " ").capitalize()
            sections.append(_lines(title, f"s-{_slug(name)}", value))
            toc.append((f"s-{_slug(name)}", title))
    header = list(report.header) + ([] if report.include_timing else
                                    ["timings omitted from this rendering (they differ between runs)"])
    sections.append(_lines("Conventions", "conventions", header))
    toc.append(("conventions", "Conventions"))
    if report.tables:
        sections.append('<section id="tables"><h2>Tables</h2><div class="tools global"><input type="search" '
                        'id="filter-all" placeholder="filter every table" aria-label="filter every table"></div>'
                        + "".join(_table(t) for t in report.tables) + "</section>")
        toc.append(("tables", f"Tables ({len(report.tables)})"))
    panels, pool = _viewer_data(report, run_dir)
    figs = []
    for fig, preview in zip(report.figures, previews):
        got = preview.result() if preview is not None else None
        if got is None:
            continue
        uri, width, kind = got
        vector = Path(fig.path).with_suffix(".pdf")
        link = (f' <a href="{_e(vector.as_posix())}">vector (PDF)</a>'
                if run_dir is not None and (run_dir / vector).exists() else "")
        if kind == "jpeg":
            link += f" (embedded as a JPEG preview; {_e(fig.path)} is lossless, and the image viewer shows the exact images)"
        figs.append(f'<figure class="fig" id="f-{_slug(fig.key)}"><img src="{uri}" alt="{_e(fig.key)}" '
                    f'style="width:{width}px"><figcaption><b>{_e(fig.key)}</b>: {_e(fig.caption)}{link}</figcaption></figure>')
    if figs:
        sections.append('<section id="figures"><h2>Figures</h2>' + "".join(figs) + "</section>")
        toc.append(("figures", "Figures"))
    if panels:
        sections.append(_VIEWER)
        toc.append(("viewer", "Image viewer"))
    failures = report.failures or ["None: every cell finished with status ok."]
    sections.append(_lines(f"Failed cells ({len(report.failures)})", "failures", failures, fold=20))
    toc.append(("failures", "Failures"))
    nav = " · ".join(f'<a href="#{sid}">{_e(t)}</a>' for sid, t in toc)
    tables_nav = "".join(f'<a href="#t-{_slug(t.key)}">{_e(t.key)}</a>' for t in report.tables)
    data = json.dumps({"panels": panels, "pool": pool}, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(report.title)}</h1><nav>{nav}</nav></header><nav class=\"tablenav\">{tables_nav}</nav>"
        f"<main>{''.join(sections)}</main>"
        "<footer>Written by denoisebench; self-contained (no network). Sort: click a column header "
        "(again to reverse). Filter: type words.</footer>"
        f"<script type=\"application/json\" id=\"viewer-data\">{data}</script>"
        f"<script>{_JS}</script></body></html>\n")


_CSS = """
:root{--fg:#1b1f23;--muted:#57606a;--line:#d0d7de;--head:#f6f8fa;--best:#dafbe1;--accent:#0969da}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
margin:0;padding:0 1.2rem 2rem;max-width:1400px}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:.4rem 0;z-index:5}
h1{font-size:1.3rem;margin:.3rem 0}section,details.table,figure.fig{scroll-margin-top:4.5rem}h2{font-size:1.15rem;margin:1.4rem 0 .5rem;border-bottom:1px solid var(--line)}
h3{display:inline;font-size:1rem;margin:0}nav a{color:var(--accent);text-decoration:none}
nav.tablenav{font-size:12px;display:flex;flex-wrap:wrap;gap:.2rem .7rem;margin-top:.4rem}nav.tablenav a{color:var(--accent)}
ul.lines{margin:.2rem 0;padding-left:1.2rem}ul.lines li{margin:.1rem 0}
details.table{margin:.8rem 0;border:1px solid var(--line);border-radius:6px;padding:.4rem .6rem}
details.table>summary{cursor:pointer}span.rows,span.shown{color:var(--muted);font-size:12px;margin-left:.6rem}
.tools{margin:.4rem 0}.tools input{font:inherit;padding:.2rem .4rem;width:22rem;max-width:100%}
.scroll{overflow-x:auto}table.data{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:13px}
table.data th,table.data td{border-bottom:1px solid var(--line);padding:.2rem .55rem;white-space:nowrap}
table.data td{text-align:right}table.data tbody th{text-align:left;font-weight:normal}
table.data thead th{background:var(--head);position:sticky;top:0;cursor:pointer;user-select:none;text-align:center}
table.data thead th[aria-sort=ascending]::after{content:" \\25B2"}table.data thead th[aria-sort=descending]::after{content:" \\25BC"}
table.data .best{font-weight:700;background:var(--best)}table.data tbody tr:hover{background:#f3f6fa}
p.note{color:var(--muted);font-size:12.5px;margin:.3rem 0}
figure.fig{margin:1rem 0}figure.fig img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--muted);font-size:12.5px}
.vtop{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start;margin:.4rem 0 .8rem}
#viewer .controls{display:flex;flex-direction:column;gap:.6rem;align-items:flex-start}
#viewer select,#viewer button{font:inherit}
.grid{display:flex;flex-wrap:wrap;gap:.6rem}.tile{margin:0}.tile figcaption{text-align:center}
.vp{position:relative;overflow:hidden;border:1px solid var(--line);background:#222;cursor:grab;touch-action:none}
.vp img{position:absolute;left:0;top:0;transform-origin:0 0;image-rendering:pixelated;max-width:none;user-select:none;
-webkit-user-drag:none}
.cmp .top{position:absolute;inset:0;overflow:hidden}.cmp .bar{position:absolute;top:0;bottom:0;width:2px;
background:#ffd400;pointer-events:none}.cmp .tag{position:absolute;top:4px;padding:0 4px;background:rgba(0,0,0,.6);
color:#fff;font-size:12px;pointer-events:none}
footer{color:var(--muted);font-size:12px;margin-top:2rem}
@media print{header{position:static}details.table{break-inside:avoid}}
"""

_VIEWER = """<section id="viewer"><h2>Image viewer</h2>
<p class="note">The visual cells (cached in figures/cache/ when the figures were drawn). Wheel or the zoom buttons:
zoom every view together; drag: pan; double-click: reset. The slider compares two images at the same place.</p>
<div class="vtop"><div class="vp cmp" id="v-cmp"><img id="v-ia" alt="left"><div class="top" id="v-top">
<img id="v-ib" alt="right"></div><div class="bar" id="v-bar"></div><span class="tag" id="v-ta" style="left:4px"></span>
<span class="tag" id="v-tb" style="right:4px"></span></div>
<div class="controls"><label>cell <select id="v-panel"></select></label>
<label>left of the split <select id="v-a"></select></label><label>right of the split <select id="v-b"></select></label>
<label>split <input id="v-split" type="range" min="0" max="100" value="50"></label>
<span><button id="v-zin" type="button">zoom +</button> <button id="v-zout" type="button">zoom −</button>
<button id="v-reset" type="button">reset</button> <span id="v-zoom" class="rows"></span></span></div></div>
<div class="grid" id="v-grid"></div></section>"""

_JS = r"""
(function(){
"use strict";
function num(t){t=t.trim().replace(/\u2212/g,"-").replace(/^[<>\u2264\u2265~]\s*/,"");
  var m=t.match(/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i);return m?parseFloat(m[0]):NaN;}
function cellText(r,c){var x=r.children[c];return x?x.textContent:"";}
function sortTable(table,col){
  var th=table.tHead.rows[0].cells[col],asc=th.getAttribute("aria-sort")!=="ascending";
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute("aria-sort");});
  th.setAttribute("aria-sort",asc?"ascending":"descending");
  var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
  var vals=rows.map(function(r){return cellText(r,col);});
  var filled=vals.filter(function(v){return v.trim()!==""&&!/^(n\/a|nan|\u2014|-)$/i.test(v.trim());});
  var numeric=filled.length>0&&filled.every(function(v){return !isNaN(num(v));});
  var keyed=rows.map(function(r,i){return {r:r,v:vals[i],n:num(vals[i]),i:i};});
  keyed.sort(function(a,b){var d;
    if(numeric){var an=isNaN(a.n),bn=isNaN(b.n);if(an||bn)return an===bn?a.i-b.i:(an?1:-1);d=a.n-b.n;}
    else d=a.v.localeCompare(b.v,undefined,{numeric:true,sensitivity:"base"});
    return (asc?d:-d)||a.i-b.i;});
  var frag=document.createDocumentFragment();keyed.forEach(function(k){frag.appendChild(k.r);});body.appendChild(frag);
}
function applyFilter(box){
  var all=(document.getElementById("filter-all")||{value:""}).value.toLowerCase().split(/\s+/).filter(Boolean);
  var own=box.querySelector("input.filter").value.toLowerCase().split(/\s+/).filter(Boolean),words=all.concat(own);
  var rows=box.querySelectorAll("tbody tr"),shown=0;
  Array.prototype.forEach.call(rows,function(r){var t=r.textContent.toLowerCase();
    var ok=words.every(function(w){return t.indexOf(w)>=0;});r.hidden=!ok;if(ok)shown++;});
  box.querySelector(".shown").textContent=words.length?shown+" of "+rows.length+" rows shown":"";
}
var boxes=document.querySelectorAll("details.table");
Array.prototype.forEach.call(boxes,function(box){
  var table=box.querySelector("table.data");
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,j){
    th.addEventListener("click",function(){sortTable(table,j);});});
  box.querySelector("input.filter").addEventListener("input",function(){applyFilter(box);});
});
var fa=document.getElementById("filter-all");
if(fa)fa.addEventListener("input",function(){Array.prototype.forEach.call(boxes,function(b){
  if(fa.value)b.open=true;applyFilter(b);});});
window.denoisebench={sortTable:sortTable};
function openTarget(){var id=decodeURIComponent(location.hash.slice(1)),el=id&&document.getElementById(id);
  if(el&&el.tagName==="DETAILS")el.open=true;}
window.addEventListener("hashchange",openTarget);openTarget();

var data=JSON.parse(document.getElementById("viewer-data").textContent||"{}");
var panels=data.panels||[],pool=data.pool||[];
if(!panels.length||!document.getElementById("viewer"))return;
var $=function(id){return document.getElementById(id);};
var state={s:1,x:0,y:0},fit=1,K=2,cur=null,views=[];
function opt(sel,items,value){sel.innerHTML="";items.forEach(function(it,i){var o=document.createElement("option");
  o.value=String(it.v!==undefined?it.v:i);o.textContent=it.t;sel.appendChild(o);});if(value!==undefined)sel.value=value;}
function label(p,n){return n+(p.psnr[n]!==undefined?" ("+p.psnr[n].toFixed(2)+" dB)":"");}
function apply(){views.forEach(function(v){v.img.style.transform="translate("+(state.x*v.k)+"px,"+(state.y*v.k)+
  "px) scale("+(fit*v.k*state.s)+")";});$("v-zoom").textContent="zoom "+state.s+"\u00d7";}
function clamp(){var w=cur.width*fit,h=cur.height*fit;state.x=Math.min(0,Math.max(w-w*state.s,state.x));
  state.y=Math.min(0,Math.max(h-h*state.s,state.y));}
function zoomAt(f,cx,cy){var s=Math.max(1,Math.min(32,state.s*f));var k=s/state.s;
  state.x=cx-(cx-state.x)*k;state.y=cy-(cy-state.y)*k;state.s=s;clamp();apply();}
function hook(vp,k){  // k: this view's size relative to the tiles (the comparison is larger)
  vp.addEventListener("wheel",function(ev){ev.preventDefault();var r=vp.getBoundingClientRect(),f=k();
    zoomAt(ev.deltaY<0?2:0.5,(ev.clientX-r.left)/f,(ev.clientY-r.top)/f);},{passive:false});
  var drag=null;
  vp.addEventListener("pointerdown",function(ev){if(vp.id==="v-cmp"&&ev.shiftKey)return;
    drag={x:ev.clientX,y:ev.clientY,sx:state.x,sy:state.y};vp.setPointerCapture(ev.pointerId);});
  vp.addEventListener("pointermove",function(ev){if(!drag)return;var f=k();state.x=drag.sx+(ev.clientX-drag.x)/f;
    state.y=drag.sy+(ev.clientY-drag.y)/f;clamp();apply();});
  vp.addEventListener("pointerup",function(){drag=null;});
  vp.addEventListener("dblclick",function(){state={s:1,x:0,y:0};apply();});
}
function size(vp,k){vp.style.width=Math.round(cur.width*fit*k)+"px";vp.style.height=Math.round(cur.height*fit*k)+"px";}
function one(){return 1;}function big(){return K;}
function split(){var v=$("v-split").value;$("v-top").style.clipPath="inset(0 0 0 "+v+"%)";$("v-bar").style.left=v+"%";}
function src(n){return pool[cur.images[n]];}
function compare(){$("v-ia").src=src($("v-a").value);$("v-ib").src=src($("v-b").value);
  $("v-ta").textContent=label(cur,$("v-a").value);$("v-tb").textContent=label(cur,$("v-b").value);}
function show(i){
  cur=panels[i];fit=Math.min(2,Math.max(0.25,Math.min(320/cur.width,320/cur.height)));
  if(cur.width<=320&&cur.height<=320)fit=Math.max(1,Math.floor(320/Math.max(cur.width,cur.height)));
  var items=cur.names.map(function(n){return {v:n,t:label(cur,n)};});
  var best=cur.names.filter(function(n){return n!=="clean"&&n!=="noisy"&&cur.psnr[n]!==undefined;})
    .sort(function(a,b){return cur.psnr[b]-cur.psnr[a];})[0]||cur.names[cur.names.length-1];
  opt($("v-a"),items,cur.names.indexOf("noisy")>=0?"noisy":"clean");opt($("v-b"),items,best);
  K=Math.max(1,Math.min(2,640/(cur.width*fit)));
  var grid=$("v-grid");grid.innerHTML="";views=[{img:$("v-ia"),k:K},{img:$("v-ib"),k:K}];size($("v-cmp"),K);
  cur.names.forEach(function(n){var f=document.createElement("figure");f.className="tile";
    var vp=document.createElement("div");vp.className="vp";size(vp,1);var img=document.createElement("img");
    img.src=src(n);img.alt=n;img.draggable=false;vp.appendChild(img);f.appendChild(vp);
    var c=document.createElement("figcaption");c.textContent=label(cur,n);f.appendChild(c);grid.appendChild(f);
    views.push({img:img,k:1});hook(vp,one);});
  state={s:1,x:0,y:0};compare();split();apply();
}
opt($("v-panel"),panels.map(function(p){return {t:p.label};}),"0");
$("v-panel").addEventListener("change",function(){show(+this.value);});
$("v-a").addEventListener("change",compare);$("v-b").addEventListener("change",compare);
$("v-split").addEventListener("input",split);
$("v-zin").addEventListener("click",function(){zoomAt(2,cur.width*fit/2,cur.height*fit/2);});
$("v-zout").addEventListener("click",function(){zoomAt(0.5,cur.width*fit/2,cur.height*fit/2);});
$("v-reset").addEventListener("click",function(){state={s:1,x:0,y:0};apply();});
hook($("v-cmp"),big);
$("v-cmp").addEventListener("pointerdown",function(ev){if(!ev.shiftKey)return;var r=this.getBoundingClientRect();
  $("v-split").value=Math.round(100*(ev.clientX-r.left)/r.width);split();});
show(0);
})();
"""
