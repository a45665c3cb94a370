// Read what a visitor's browser shows: every image-bearing element with its context, and every
// element the axe-core image rules audit (inline SVG, role=img, image-map areas, objects, canvases).
// Evaluated by scraper/render_ax.py after load, scroll and network settle. Returns {data, elements}:
// data is plain JSON; an item whose element Chromium is to name carries `ref`, its index in elements.
(maxElements) => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const FACT_ATTRS = new Set(["role", "alt", "title", "tabindex", "disabled", "href", "contenteditable", "type",
    "data", "controls", "hidden", "usemap"]);
  const elements = [];
  const refs = new Map();
  const ref = (el) => {
    if (!refs.has(el)) { refs.set(el, elements.length); elements.push(el); }
    return refs.get(el);
  };
  const idCounts = new Map();
  for (const el of document.querySelectorAll("[id]")) idCounts.set(el.id, (idCounts.get(el.id) || 0) + 1);
  const plainId = /^-?[A-Za-z_][\w-]*$/;
  const cssString = (v) => '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\a ") + '"';
  const steps = new Map();  // parent -> (child -> its nth-of-type step), computed once per parent
  const stepOf = (node) => {
    const parent = node.parentElement;
    if (!parent) return node.localName.toLowerCase();
    if (!steps.has(parent)) {
      const counts = new Map(), seen = new Map(), own = new Map();
      for (const c of parent.children) counts.set(c.localName, (counts.get(c.localName) || 0) + 1);
      for (const c of parent.children) {
        seen.set(c.localName, (seen.get(c.localName) || 0) + 1);
        const name = c.localName.toLowerCase();
        own.set(c, counts.get(c.localName) > 1 ? name + ":nth-of-type(" + seen.get(c.localName) + ")" : name);
      }
      steps.set(parent, own);
    }
    return steps.get(parent).get(node);
  };
  // The same selector scraper/elements.py builds: a unique id, else nth-of-type steps up to one or to body.
  const selectorOf = (el) => {
    const path = [];
    for (let node = el; node && node.nodeType === 1 && node.localName !== "html"; node = node.parentElement) {
      if (node.id && idCounts.get(node.id) === 1) {
        path.push(plainId.test(node.id) ? "#" + node.id : "[id=" + cssString(node.id) + "]");
        break;
      }
      const step = node.localName.toLowerCase() === "body" ? "body" : stepOf(node);
      path.push(step);
      if (step === "body") break;
    }
    return path.reverse().join(" > ");
  };
  const containerTexts = new Map();
  const textOf = (value) => String(value || "").replace(/\s+/g, " ").trim();
  const facts = (el) => {
    const attrs = {};
    for (const a of Array.from(el.attributes)) {
      const name = a.name.toLowerCase();
      if (FACT_ATTRS.has(name) || name.startsWith("aria-")) attrs[name] = a.value;
    }
    const out = { selector: selectorOf(el), tag: el.localName.toLowerCase(), svg: el.namespaceURI === SVG_NS, attrs };
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    const labelled = ids.map((id) => document.getElementById(id)).filter(Boolean);
    if (labelled.length) out.labelledbyText = textOf(labelled.map((l) => l.textContent).join(" "));
    const container = el.closest('button, [role="button"], a[href], p, li, td, th');
    if (container && container !== el) {
      if (!containerTexts.has(container)) containerTexts.set(container, textOf(container.innerText));
      out.containerText = containerTexts.get(container);
    }
    out.inMap = el.localName === "area" && el.hasAttribute("href") && !!el.closest("map");
    if (el.localName === "object") {
      const range = document.createRange();
      range.setStart(el, 0);
      range.setEnd(el, el.childNodes.length);
      out.loaded = !!(el.getAttribute("data") || "").trim() && range.getClientRects().length === 0;
    }
    return out;
  };

  const text = (value) => (value == null ? null : String(value).replace(/\s+/g, " ").trim() || null);
  const attr = (el, name) => (el.hasAttribute(name) ? el.getAttribute(name) : null);
  const intAttr = (el, name) => {
    const m = /^\s*(\d+)/.exec(el.getAttribute(name) || "");
    return m ? parseInt(m[1], 10) : null;
  };
  const LAZY = ["data-src", "data-lazy-src", "data-original", "data-lazy", "data-url", "data-echo",
    "data-hi-res-src", "data-full-src", "data-orig-src", "data-setbg", "data-bg", "data-background",
    "data-background-image", "data-bg-src"];
  const box = (el) => {
    const r = el.getBoundingClientRect();
    const shown = r.width > 0 && r.height > 0 &&
      (typeof el.checkVisibility !== "function" ||
        el.checkVisibility({ visibilityProperty: true, opacityProperty: true }));
    return { w: Math.round(r.width), h: Math.round(r.height), visible: shown,
      x: r.left + window.scrollX, y: r.top + window.scrollY };
  };
  const fitsViewport = (el) => {
    const r = el.getBoundingClientRect();
    return r.width <= window.innerWidth && r.height <= window.innerHeight;
  };
  const context = (el) => {
    const out = {};
    out.title = attr(el, "title");
    out.widthAttr = intAttr(el, "width");
    out.heightAttr = intAttr(el, "height");
    out.role = text(attr(el, "role"));
    out.ariaLabel = text(attr(el, "aria-label"));
    out.ariaHidden = !!el.closest('[aria-hidden="true"]');
    const link = el.closest("a,button");
    out.inLink = !!link;
    if (link) {
      out.linkHref = link.getAttribute("href");
      out.linkText = text(link.getAttribute("aria-label") || link.getAttribute("title") || link.innerText);
    }
    const figure = el.closest("figure");
    out.inFigure = !!figure;
    if (figure) {
      const cap = figure.querySelector("figcaption");
      out.figcaption = cap ? text(cap.innerText || cap.textContent) : null;
    }
    return out;
  };
  const urlsIn = (value) => {
    const found = [];
    const re = /url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)\s]*))\s*\)/g;
    let m;
    while ((m = re.exec(value || "")) !== null) {
      const raw = (m[1] ?? m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1");
      if (raw) found.push(new URL(raw, document.baseURI).href);
    }
    return found;
  };
  const images = [];
  for (const img of document.images) {
    const picture = img.parentElement && img.parentElement.tagName === "PICTURE" ? img.parentElement : null;
    const srcsets = [img.getAttribute("srcset") || ""];
    const lazy = [];
    for (const name of LAZY) if (img.getAttribute(name)) lazy.push(new URL(img.getAttribute(name), document.baseURI).href);
    const lazySrcsets = [];
    for (const name of ["data-srcset", "data-lazy-srcset"]) if (img.getAttribute(name)) lazySrcsets.push(img.getAttribute(name));
    const sources = [];
    if (picture) {
      for (const s of picture.querySelectorAll("source")) {
        srcsets.push(s.getAttribute("srcset") || "");
        sources.push({ srcset: s.getAttribute("srcset") || s.getAttribute("data-srcset") || "", type: s.type || "" });
        if (s.getAttribute("data-srcset")) lazySrcsets.push(s.getAttribute("data-srcset"));
      }
    }
    images.push({
      kind: "img", url: img.currentSrc || img.src, src: img.src, srcsets, lazy, lazySrcsets, sources,
      picture: !!picture, decoded: img.complete && img.naturalWidth > 0,
      position: getComputedStyle(picture || img).position,
      shownSize: [img.width, img.height], objectFit: getComputedStyle(img).objectFit,
      imageRendering: getComputedStyle(img).imageRendering, fitsViewport: fitsViewport(img),
      alt: attr(img, "alt"), naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
      ...box(img), ...context(img), facts: facts(img), ref: ref(img),
    });
  }
  for (const input of document.querySelectorAll('input[type="image" i]')) {
    images.push({ kind: "input", url: input.src, alt: attr(input, "alt"), ...box(input), ...context(input),
      facts: facts(input), ref: ref(input) });
  }
  for (const video of document.querySelectorAll("video[poster]")) {
    if (video.poster) images.push({ kind: "poster", url: video.poster, alt: null, ...box(video), ...context(video),
      facts: facts(video) });
  }
  const hasRoleToken = (el, names) => (el.getAttribute("role") || "").toLowerCase().split(/\s+/)
    .some((token) => names.includes(token));
  const drawn = (kind, el, extra) => images.push({ kind, url: "", alt: attr(el, "alt"), ...box(el), ...context(el),
    facts: facts(el), ref: ref(el), ...extra });
  for (const el of document.querySelectorAll("svg, svg [role], map area[href], object[data], canvas, [role]")) {
    const name = el.localName.toLowerCase();
    if (el.namespaceURI === SVG_NS) {
      const root = name === "svg" && !(el.parentElement && el.parentElement.closest("svg"));
      if (root || hasRoleToken(el, ["img", "image", "graphics-symbol"])) drawn("svg", el);
    } else if (name === "area") {
      if (el.hasAttribute("href") && el.closest("map")) drawn("area", el);
    } else if (name === "object") {
      if ((el.getAttribute("data") || "").trim()) drawn("object", el, { url: el.data, type: el.type || "" });
    } else if (name === "canvas") {
      drawn("canvas", el);
    } else if (!["img", "input", "object", "area"].includes(name) && hasRoleToken(el, ["img", "image"])) {
      const bg = getComputedStyle(el).backgroundImage;
      drawn("role-img", el, { background: !!bg && bg.indexOf("url(") >= 0 });
    }
  }
  const all = document.querySelectorAll("body, body *");
  const limit = Math.min(all.length, maxElements);
  for (let i = 0; i < limit; i++) {
    const el = all[i];
    for (const pseudo of [null, "::before", "::after"]) {
      const style = getComputedStyle(el, pseudo);
      const bg = style.backgroundImage;
      if (!bg || bg === "none" || bg.indexOf("url(") < 0) continue;
      if (pseudo && (style.content === "none" || style.content === "normal")) continue;
      const own = box(el);
      let w = own.w, h = own.h;
      if (pseudo) {
        const pw = parseFloat(style.width), ph = parseFloat(style.height);
        if (pw > 0 && ph > 0) { w = Math.round(pw); h = Math.round(ph); }
      }
      for (const url of urlsIn(bg)) {
        const named = el.hasAttribute("role");
        images.push({ kind: "background", pseudo, url, alt: null, ...context(el), ...own, w, h, facts: facts(el),
          ...(named ? { ref: ref(el) } : {}) });
      }
    }
  }
  const links = [];
  for (const a of document.querySelectorAll("a[href]")) {
    if (a.protocol === "http:" || a.protocol === "https:") links.push(a.href);
  }
  const lang = document.documentElement.getAttribute("lang");
  return {
    data: {
      url: location.href, baseURI: document.baseURI, title: text(document.title), lang: text(lang),
      images, links, elements: all.length, truncated: all.length > maxElements,
    },
    elements,
  };
}
