// Read what a visitor's browser shows: every image-bearing element with its context.
// Evaluated by scraper/render.py after load, scroll and network settle; returns plain JSON.
(maxElements) => {
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
    return { w: Math.round(r.width), h: Math.round(r.height), visible: shown };
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
      alt: attr(img, "alt"), naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
      ...box(img), ...context(img),
    });
  }
  for (const input of document.querySelectorAll('input[type="image" i]')) {
    if (input.src) images.push({ kind: "input", url: input.src, alt: attr(input, "alt"), ...box(input), ...context(input) });
  }
  for (const video of document.querySelectorAll("video[poster]")) {
    if (video.poster) images.push({ kind: "poster", url: video.poster, alt: null, ...box(video), ...context(video) });
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
        images.push({ kind: "background", pseudo, url, alt: null, ...context(el), ...own, w, h });
      }
    }
  }
  const links = [];
  for (const a of document.querySelectorAll("a[href]")) {
    if (a.protocol === "http:" || a.protocol === "https:") links.push(a.href);
  }
  const lang = document.documentElement.getAttribute("lang");
  return {
    url: location.href, baseURI: document.baseURI, title: text(document.title), lang: text(lang),
    images, links, elements: all.length, truncated: all.length > maxElements,
  };
}
