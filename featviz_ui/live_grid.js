// The explore page's grid in the browser: a click on a tile opens that channel, and a display change
// (normalization, colour map, channel order) is drawn here at once, before the server's own figure follows.
// See featviz_ui/live_grid.py for why, and featviz_core/grid_preview.py for what the server sends.
const TABLES = __TABLES__;  // every colour map: palette, channel-number colour, colour bar scale
const LEVELS = TABLES.levels;
const NAN_INDEX = LEVELS, GAP_INDEX = LEVELS + 1;

const palettes = new Map();
function palette(name) {  // (LEVELS + 2) × RGB bytes
    if (!palettes.has(name)) palettes.set(name, Uint8Array.from(atob(TABLES.maps[name].palette), (c) => c.charCodeAt(0)));
    return palettes.get(name);
}

// numpy's rint: halves go to the even neighbour, as the server rounds
function rint(x) {
    const f = Math.floor(x), d = x - f;
    return d > 0.5 ? f + 1 : d < 0.5 ? f : (f % 2 === 0 ? f : f + 1);
}

// --- 8-bit PNG (greyscale or palette) to its raw bytes: the tiles' levels ------------------------------
async function pngBytes(uri) {
    const bytes = Uint8Array.from(atob(uri.slice(uri.indexOf(',') + 1)), (c) => c.charCodeAt(0));
    const view = new DataView(bytes.buffer);
    let width = 0, height = 0, type = -1;
    const idat = [];
    for (let at = 8; at < bytes.length;) {
        const length = view.getUint32(at), name = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
        if (name === 'IHDR') {
            width = view.getUint32(at + 8); height = view.getUint32(at + 12);
            if (bytes[at + 16] !== 8 || bytes[at + 20] !== 0) throw new Error('not an 8-bit, non-interlaced PNG');
            type = bytes[at + 17];
        } else if (name === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
        at += 12 + length;
    }
    if (type !== 0 && type !== 3) throw new Error('not a one-byte-per-pixel PNG');
    const stream = new Blob(idat).stream().pipeThrough(new DecompressionStream('deflate'));
    const raw = new Uint8Array(await new Response(stream).arrayBuffer());
    const out = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {  // undo each row's filter (one byte per pixel)
        const filter = raw[y * (width + 1)], row = raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1));
        const o = y * width, up = (x) => (y ? out[o - width + x] : 0);
        for (let x = 0; x < width; x++) {
            const a = x ? out[o + x - 1] : 0, b = up(x), c = x ? up(x - 1) : 0;
            let p = 0;
            if (filter === 1) p = a;
            else if (filter === 2) p = b;
            else if (filter === 3) p = (a + b) >> 1;
            else if (filter === 4) {
                const e = a + b - c, pa = Math.abs(e - a), pb = Math.abs(e - b), pc = Math.abs(e - c);
                p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            }
            out[o + x] = (row[x] + p) & 255;
        }
    }
    return { width, height, levels: out };
}

// --- what the sidebar shows now --------------------------------------------------------------------------
function chosen(controls) {
    const pick = (key, labels) => {  // a select box's value once its list is closed (typing is not choosing)
        const input = document.querySelector(`.st-key-${key} input[role="combobox"]`);
        if (!input || input.getAttribute('aria-expanded') === 'true') return undefined;
        return labels[input.value];
    };
    const toggle = document.querySelector(`.st-key-${controls.descending} input[type="checkbox"]`);
    return {
        normalization: pick(controls.normalization, controls.labels.normalization),
        colormap: pick(controls.colormap, controls.labels.colormap),
        order_by: pick(controls.order_by, controls.labels.order_by),
        descending: toggle ? toggle.checked : undefined,
    };
}

const orderKey = (d) => (d.order_by === 'index' ? 'index' : `${d.order_by}:${d.descending ? 'desc' : 'asc'}`);
const sameSet = (a, b) => a.length === b.length && a.every((c) => b.includes(c));
const traceIndex = (gd, name) => gd.data.findIndex((t) => t.name === name);

// the raw value behind a colour level: per channel, level / (LEVELS - 1) of the way from its min to its max
function levelMap(spec, position, scale) {
    const lut = new Uint8Array(256);
    lut[NAN_INDEX] = NAN_INDEX; lut[GAP_INDEX] = GAP_INDEX;
    const low = spec.low[position] ?? 0, high = spec.high[position] ?? 0;
    const [lo, hi] = scale.range, span = hi - lo;
    for (let q = 0; q < LEVELS; q++) {
        if (scale.drawn_as === 'per_channel') { lut[q] = q; continue; }
        const raw = low + (q / (LEVELS - 1)) * (high - low);
        const v = span > 0 ? Math.min(1, Math.max(0, (raw - lo) / span)) : scale.flat;
        lut[q] = rint(v * (LEVELS - 1));
    }
    return lut;
}

function mosaicUri(spec, base, order, scale, colours) {
    const g = spec.geometry, [H, W] = g.mosaic, [th, tw] = g.tile, [py, px] = g.pitch;
    const out = new Uint8Array(H * W).fill(GAP_INDEX);
    const from = new Map(spec.shown.map((c, i) => [c, i]));
    order.forEach((channel, p) => {
        const o = from.get(channel), lut = levelMap(spec, o, scale);
        const [sy, sx] = [g.pad + Math.floor(o / g.cols) * py + g.label, g.pad + (o % g.cols) * px];
        const [dy, dx] = [g.pad + Math.floor(p / g.cols) * py + g.label, g.pad + (p % g.cols) * px];
        for (let y = 0; y < th; y++) {
            const s = (sy + y) * W + sx, d = (dy + y) * W + dx;
            for (let x = 0; x < tw; x++) out[d + x] = lut[base[s + x]];
        }
    });
    const canvas = document.createElement('canvas');
    canvas.width = W; canvas.height = H;
    const context = canvas.getContext('2d'), image = context.createImageData(W, H), rgba = image.data;
    for (let i = 0; i < out.length; i++) {
        const k = out[i] * 3;
        rgba[4 * i] = colours[k]; rgba[4 * i + 1] = colours[k + 1]; rgba[4 * i + 2] = colours[k + 2]; rgba[4 * i + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    return canvas.toDataURL('image/png');
}

// the hover layer's blocks follow their tiles (values and (channel, y, x) per cell)
function hoverCells(spec, trace, order) {
    const h = spec.geometry.hover, [th, tw] = h.tile, [py, px] = h.pitch, cols = spec.geometry.cols;
    const z = trace.z, custom = trace.customdata;
    const newZ = z.map((row) => new Float32Array(row.length).fill(NaN));
    const newCustom = custom.map((row) => row.map(() => [0, 0, 0]));
    const from = new Map(spec.shown.map((c, i) => [c, i]));
    order.forEach((channel, p) => {
        const o = from.get(channel);
        const [sy, sx] = [h.pad + Math.floor(o / cols) * py + h.label, h.pad + (o % cols) * px];
        const [dy, dx] = [h.pad + Math.floor(p / cols) * py + h.label, h.pad + (p % cols) * px];
        for (let y = 0; y < th; y++) {
            for (let x = 0; x < tw; x++) {
                newZ[dy + y][dx + x] = z[sy + y][sx + x];
                newCustom[dy + y][dx + x] = Array.from(custom[sy + y][sx + x]);
            }
        }
    });
    return { z: newZ, customdata: newCustom };
}

function labelPoints(spec, order) {
    const g = spec.geometry, xs = [], ys = [], texts = [];
    order.forEach((channel, p) => {
        const text = String(channel);
        if (text.length > g.label_digits) return;
        xs.push(g.pad + (p % g.cols) * g.pitch[1] - 0.5);
        ys.push(g.pad + Math.floor(p / g.cols) * g.pitch[0] + g.label / 2 - 0.5);
        texts.push(text);
    });
    return { x: xs, y: ys, text: texts };
}

// Plotly recalculates every trace for a new colour scale or range (its hover layer most: about 70 ms for a
// 64-channel grid in Chromium on 2 cores), though only the colour bar changes: the scale trace is given the
// new values as Plotly keeps them, and Plotly then redraws just its colour bars.
function showColourBar(gd, index, scale, colormap) {
    const [low, high, title] = scale.colorbar;
    for (const trace of [gd.data[index], gd._fullData[index]]) {
        Object.assign(trace.marker, { colorscale: TABLES.maps[colormap].colorscale, cmin: low, cmax: high, color: [low] });
    }
    return window.Plotly.restyle(gd, { 'marker.colorbar.title.text': title }, [index]);
}

// The channel numbers at once where they stay in place (their text and colour only); false when Plotly must
// place them (another set of positions).
function showLabels(gd, index, labels, colour) {
    const trace = gd._fullData[index], nodes = gd.querySelectorAll('.scatterlayer .textpoint text');  // the one text trace
    const same = (a, b) => a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) < 1e-6);
    if (!same(trace.x, labels.x) || !same(trace.y, labels.y) || nodes.length !== labels.text.length) return false;
    nodes.forEach((node, i) => { node.textContent = labels.text[i]; node.style.fill = colour; });
    for (const t of [gd.data[index], trace]) { t.text = labels.text; t.textfont = { ...t.textfont, color: colour }; }
    return true;
}

function barColours(spec, order, scale, colormap) {
    const colours = palette(colormap), [lo, hi] = scale.range, span = hi - lo;
    const values = new Map(spec.shown.map((c, i) => [c, spec.values[i]]));
    return order.map((channel) => {
        const raw = values.get(channel);
        const k = 3 * (raw === null || raw === undefined ? NAN_INDEX
            : rint((span > 0 ? Math.min(1, Math.max(0, (raw - lo) / span)) : scale.flat) * (LEVELS - 1)));
        return '#' + [colours[k], colours[k + 1], colours[k + 2]].map((v) => v.toString(16).padStart(2, '0')).join('');
    });
}

// The picture at once: Plotly would recalculate every trace for a new source (about 70 ms for a 64-channel grid
// in Chromium on 2 cores, more than all else here), so its <image> is given the new picture directly, and the
// trace the same source for Plotly's next redraw (the update below, a zoom, a resize).
function showPicture(gd, index, source) {
    gd.data[index].source = source;
    if (gd._fullData && gd._fullData[index]) gd._fullData[index].source = source;
    const image = gd.querySelector('.imagelayer image');
    if (image) image.setAttribute('href', source);
}

// after the browser has painted what was changed so far
const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

// every trace's changes (trace -> attribute -> its value) in one Plotly.update, so the plot is drawn once
function update(gd, changes, layout) {
    const traces = Object.keys(changes).map(Number), attributes = {};
    traces.forEach((t, i) => {
        for (const [name, value] of Object.entries(changes[t])) {
            attributes[name] = attributes[name] || traces.map(() => undefined);
            attributes[name][i] = value;
        }
    });
    return window.Plotly.update(gd, attributes, layout, traces);
}
const toAttributes = (values) => Object.fromEntries(Object.entries(values).map(([name, value]) => [name, [value]]));

const drawn = new WeakMap();  // grid node -> { display, order, figure (its data's) } drawn here
const wanted = new WeakMap();  // grid node -> the display last asked of it
// which figure a chart shows (as the server drew it) and which figure a preview's data was made from
const figureOf = (spec) => [spec.heading, spec.normalization, spec.colormap, spec.shown.join(',')].join('|');
function serverFigure(gd) {
    const meta = gd.layout && gd.layout.meta && gd.layout.meta.featviz;
    return meta && meta.channels ? [meta.heading, meta.normalization, meta.colormap, meta.channels.join(',')].join('|') : null;
}
const same = (a, b) => a.normalization === b.normalization && a.colormap === b.colormap && orderKey(a) === orderKey(b);

// each tile's levels under per-channel min–max: the server's own picture when drawn so, else the one sent
const decoded = new WeakMap();  // grid node or data -> Promise of the levels
function levelsOf(gd, spec) {
    const owner = spec.base ? spec : gd;
    if (!decoded.has(owner)) {
        decoded.set(owner, pngBytes(spec.base || gd.data[traceIndex(gd, 'mosaic')].source).then((png) => png.levels));
    }
    return decoded.get(owner);
}

async function redraw(gd, spec, shown, display) {
    const previous = drawn.get(gd) || { display: shown, order: spec.shown };
    const order = orderKey(display) === orderKey(previous.display) ? previous.order : spec.orders[orderKey(display)];
    if (!order || !sameSet(order, spec.shown)) return false;  // another set of channels: the server draws it
    const scale = spec.scales[display.normalization], colours = TABLES.maps[display.colormap];
    const reordered = order.some((c, i) => c !== previous.order[i]);
    const meta = { ...gd.layout.meta, featviz: { ...gd.layout.meta.featviz,
        normalization: scale.drawn_as, colormap: display.colormap, channels: order,
        preview: `${display.normalization}|${display.colormap}|${orderKey(display)}` } };
    let hover = previous.hover || null;  // the server's hover layer, in its own order
    const later = {};  // what needs Plotly to recalculate the whole plot: after the rest is on screen
    if (spec.kind === 'bars') {
        const values = new Map(spec.shown.map((c, i) => [c, spec.values[i]]));
        const bars = { 'marker.color': barColours(spec, order, scale, display.colormap) };
        if (reordered) Object.assign(bars, { x: order.map(String), y: order.map((c) => values.get(c) ?? NaN),
                                             customdata: order.map((c) => [c]) });
        meta.featviz.note = display.normalization === scale.drawn_as ? '' : spec.note;
        gd.layout.meta = meta;
        await window.Plotly.update(gd, toAttributes(bars), { plot_bgcolor: colours.surround },
                                   [traceIndex(gd, 'values')]);
    } else {
        const levels = await levelsOf(gd, spec);
        showPicture(gd, traceIndex(gd, 'mosaic'), mosaicUri(spec, levels, order, scale, palette(display.colormap)));
        gd.layout.meta = meta;  // what the chart shows, for whoever reads it; nothing Plotly draws
        const labels = labelPoints(spec, order), numbers = traceIndex(gd, 'channel numbers');
        if (!showLabels(gd, numbers, labels, colours.label)) later[numbers] = labels;
        const values = traceIndex(gd, 'values');
        hover = hover || { z: gd._fullData[values].z, customdata: gd._fullData[values].customdata };
        if (reordered) later[values] = hoverCells(spec, hover, order);
        await painted();  // the tiles and their numbers on screen first: the colour bar takes Plotly a while
    }
    drawn.set(gd, { display, order, hover, figure: figureOf(spec) });
    await showColourBar(gd, traceIndex(gd, 'scale'), scale, display.colormap);
    if (Object.keys(later).length) {
        await painted();  // the scale on screen first; hover and clicks follow in a moment
        await update(gd, later, {});
    }
    // said on the chart's node (bubbling), for whoever waits for the grid: the browser tests, for one
    gd.dispatchEvent(new CustomEvent('featviz-redrawn', { bubbles: true, detail: meta.featviz.preview }));
    return true;
}

// Streamlit runs this function again whenever the data changes but calls the cleanup it returned only when the
// element goes: each chart's previous listeners are removed here before new ones are added.
const active = new Map();  // chart key -> how to stop its listeners

export default function (component) {
    const { data, setTriggerValue } = component;
    const earlier = active.get(data.chart);
    if (earlier) earlier();
    const selector = `.st-key-${data.chart} .js-plotly-plot`;
    const spec = data.preview;
    const onClick = (event) => {
        // customdata arrives as a typed array's slice, not an Array
        const point = (event.points || []).find(
            (p) => p.customdata != null && p.data && p.data.name === data.trace);
        const channel = point ? Number(point.customdata[0]) : NaN;
        if (Number.isInteger(channel)) setTriggerValue('channel', channel);
    };
    // Streamlit may replace the chart's node when it redraws: attach to whichever node is there now.
    const attach = () => {
        const chart = document.querySelector(selector);
        if (!chart || typeof chart.on !== 'function') return;
        const listening = chart._ev && chart._ev.listeners('plotly_click').includes(onClick);
        if (!listening) chart.on('plotly_click', onClick);
        chart.dataset.featvizClicks = 'on';
    };
    let busy = Promise.resolve();
    const follow = () => {  // a display chosen in the sidebar that the grid does not show yet: draw it here
        if (!spec || !window.Plotly) return;
        const gd = document.querySelector(selector), now = chosen(data.controls);
        if (!gd || !gd.data || Object.values(now).some((v) => v === undefined)) return;
        const mine = drawn.has(gd) ? drawn.get(gd).figure : serverFigure(gd);
        if (mine !== figureOf(spec)) return;  // a chart this data was not made for (the next data is on its way)
        if (same(now, wanted.get(gd) || (drawn.get(gd) || {}).display || data.display)) return;
        wanted.set(gd, now);
        busy = busy.then(() => redraw(gd, spec, data.display, now)).catch((error) => console.warn('featviz: grid preview', error));
    };
    attach();
    if (spec && spec.kind === 'tiles') {  // decode ahead, so that the first change is as quick as the next
        setTimeout(() => {
            const gd = document.querySelector(selector);
            if (gd && gd.data && !drawn.has(gd) && serverFigure(gd) === figureOf(spec)) levelsOf(gd, spec).catch(() => {});
        }, 0);
    }
    const observer = new MutationObserver(() => { attach(); follow(); });
    observer.observe(document.body, {
        childList: true, subtree: true, attributes: true,
        attributeFilter: ['value', 'aria-expanded', 'aria-checked', 'data-selected', 'checked'],
    });
    const stop = () => {
        observer.disconnect();
        document.querySelectorAll(selector).forEach((chart) => {
            if (typeof chart.removeListener === 'function') chart.removeListener('plotly_click', onClick);
        });
        if (active.get(data.chart) === stop) active.delete(data.chart);
    };
    active.set(data.chart, stop);
    return stop;
}
