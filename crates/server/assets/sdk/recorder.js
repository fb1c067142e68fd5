/*! OpenScouter recorder v1 (docs/recorder.md). <script src=".../sdk/recorder.js" data-session
 * data-token data-task data-endpoint> auto-starts; or OpenScouter.start({session, token, task,
 * endpoint}), .pause() .resume() .setTask(id) .add(stream, items) .briefing() .flush() .stop()
 * .status(). Reads its briefing first and sends only the streams it allows. Typed text is never
 * read, only its length. */
(function () {
  'use strict';
  var W = window, D = document;
  if (W.OpenScouter) return;
  var BATCH = 1000, EVERY = 2000, MERGE = 1000, SCROLL = 250, KEEP = 60000, MAXQ = 10000, KEY = 'openscouter:';
  var cfg = null, state = 'idle', queue = [], inflight = null, timer = 0, backoff = 0, gen = 0, leaving = false;
  var waiters = [], n = { sent: 0, duplicates: 0, rejected: 0, dropped: 0, lastStatus: 0 };
  var pfx = rnd(), seq = 0, lastUrl = '', hoverEl = null, hoverAt = 0, scrollAt = 0, trail = 0;
  var fields = new WeakMap(), typing = new Set(), held = new Set(), winFocus = null, away = null, script = D.currentScript;
  var muts = 0, mo = null, watching = 0;
  // The session's briefing (GET /api/sessions/:id): nothing goes out before it, and only the
  // streams it allows. Facial, voice and screen items come from the host through add().
  var brief = null, extra = { facial: [], voice: [], screen: [] }, xin = {};

  // A per-page-load prefix of clientIds: page loads of one session never collide.
  function rnd() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 8); }
  // The host page never sees our exceptions.
  function guard(fn) { return function () { try { return fn.apply(this, arguments); } catch (e) { /* never */ } }; }
  function on(t, type, fn) { t.addEventListener(type, guard(fn), { capture: true, passive: true }); }
  function clip(s, max) { s = String(s == null ? '' : s).replace(/\s+/g, ' ').trim(); return s.slice(0, max); }
  function viewport() { return { width: Math.max(1, innerWidth | 0), height: Math.max(1, innerHeight | 0) }; }
  // origin + path (+ "#/route"), never the query: it may hold emails or tokens.
  function pageUrl() {
    var h = /^#!?\//.test(location.hash) ? location.hash.replace(/\?.*$/, '') : '';
    return (location.origin + location.pathname + h).slice(0, 2048);
  }

  // #id if stable, else tag[name].class:nth-of-type steps up to one; no state classes.
  var STATE = /^(is-|has-|ng-)|active|selected|open|focus|hover|disabled|checked|error|invalid|valid|visited|current|show|hidden|collapsed|expanded|loading|dirty|touched/i;
  function step(el) {
    var s = el.localName, name = el.getAttribute('name'), p = el.parentElement;
    if (name && /^(input|select|textarea|button)$/.test(s) && name.length < 64) s += '[name="' + name.replace(/["\\]/g, '') + '"]';
    [].filter.call(el.classList, function (c) { return c.length < 32 && !STATE.test(c) && !/\d{3}/.test(c); })
      .slice(0, 2).forEach(function (c) { s += '.' + CSS.escape(c); });
    var same = p ? [].filter.call(p.children, function (c) { return c.localName === el.localName; }) : [];
    return same.length > 1 ? s + ':nth-of-type(' + (same.indexOf(el) + 1) + ')' : s;
  }
  function selectorOf(el) {
    var out = [];
    for (; el && el.nodeType === 1 && out.length < 8; el = el.parentElement) {
      if (el.id && /^[A-Za-z][\w-]{0,63}$/.test(el.id) && !/\d{4}/.test(el.id)) { out.unshift('#' + CSS.escape(el.id)); break; }
      if (el === D.body || el === D.documentElement) { out.unshift(el.localName); break; }
      out.unshift(step(el));
    }
    return out.join(' > ').slice(0, 1024);
  }
  var ACTIONABLE = 'a,button,input,select,textarea,label,summary,[role=button],[role=link],[role=menuitem],[role=tab],[role=checkbox],[onclick]';
  function actionable(t) {
    t = t && t.nodeType === 1 ? t : t && t.parentElement;
    return t ? t.closest(ACTIONABLE) || t : null;
  }
  function textOf(el) {
    var tag = el.localName, label = el.getAttribute('aria-label');
    if (el.isContentEditable || tag === 'textarea' || tag === 'select') return clip(label, 200);
    if (tag === 'input') return clip(/^(submit|button|reset)$/i.test(el.type) ? el.value : label || el.getAttribute('placeholder'), 200);
    return clip(label || el.textContent, 200);
  }

  // --- queue and delivery --------------------------------------------------------------
  function push(type, sel, more, at) {
    if (state !== 'recording' || (brief && !brief.streams.events)) return;
    var it = { clientId: pfx + '-' + ++seq, eventType: type, targetSelector: sel || '',
      timestamp: new Date(at || Date.now()).toISOString(), url: pageUrl() };
    if (cfg.task) it.taskId = cfg.task;
    for (var k in more) if (more[k] != null) it[k] = more[k];
    if (queue.push(it) > MAXQ) n.dropped += queue.splice(0, queue.length - MAXQ).length;
    if (queue.length >= BATCH) send(); else later(EVERY);
  }
  // An item completed later (mutations after a click, words once a page settled); released
  // early when the page leaves or the recorder pauses.
  function hold(ms, fn) { var h = { fn: fn }; h.t = setTimeout(guard(function () { release(h); }), ms); held.add(h); }
  function release(h) { if (held.delete(h)) { clearTimeout(h.t); h.fn(); } }
  // DOM mutations are counted only while a click waits for them, and only those that change
  // something: setting an attribute or a text to the value it had is no answer (rrweb drops
  // them too, so both recorders count the same; decision 210).
  function changed(l) {
    var k = 0;
    for (var i = 0; i < l.length; i++) {
      var r = l[i];
      if (r.type === 'childList' || (r.type === 'attributes' ? r.target.getAttribute(r.attributeName) : r.target.data) !== r.oldValue) k++;
    }
    return k;
  }
  function watch(d) {
    watching += d;
    if (watching > 0 && !mo && W.MutationObserver) {
      mo = new MutationObserver(function (l) { muts += changed(l); });
      mo.observe(D, { childList: true, subtree: true, attributes: true, characterData: true, attributeOldValue: true, characterDataOldValue: true });
    }
    if (mo) muts += changed(mo.takeRecords());
    if (watching <= 0 && mo) { mo.disconnect(); mo = null; }
  }
  function later(ms) { if (!timer && !inflight) timer = setTimeout(guard(function () { timer = 0; send(); }), ms); }
  // Items of add() not yet delivered.
  function extras() {
    var k = 0;
    for (var s in extra) k += extra[s].length + (xin[s] ? xin[s].length : 0);
    return k;
  }
  // flush() resolves when all is delivered, or after a failed attempt.
  function settle(failed) {
    if (failed || (!queue.length && !inflight && !extras()) || state === 'stopped') waiters.splice(0).forEach(function (w) { w(status()); });
  }
  function req(path, body, keepalive) {
    return fetch(cfg.endpoint + path, { method: body ? 'POST' : 'GET', keepalive: keepalive, credentials: 'omit',
      headers: body ? { 'Content-Type': 'application/json', Authorization: 'Token ' + cfg.token } : { Authorization: 'Token ' + cfg.token },
      body: body && JSON.stringify(body) });
  }
  function post(batch, keepalive) { return req('/api/data/events', { sessionId: cfg.session, batch: batch }, keepalive); }
  // (status, Retry-After, JSON body or null) of a request; 0 when it never arrived.
  function answer(p, fn) {
    p.then(function (r) {
      var ra = +r.headers.get('Retry-After') || 0;
      return r.json().then(function (j) { fn(r.status, ra, j); }, function () { fn(r.status, ra, null); });
    }, function () { fn(0, 0, null); });
  }
  function getBrief(g) {
    answer(req('/api/sessions/' + encodeURIComponent(cfg.session)), guard(function (code, ra, j) {
      if (g !== gen || state === 'stopped') return;
      if (code === 200 && j && j.data && j.data.streams) {
        brief = j.data;
        for (var s in extra) if (!brief.streams[s]) extra[s] = [];
        if (!brief.streams.events) queue = [];
        send();
      } else if (code === 401 || code === 403 || code === 404) halt(code);
      else { settle(true); setTimeout(guard(function () { getBrief(g); }), Math.max(2000, ra * 1000)); }
    }));
  }
  // add()'s streams: one request in flight per stream; network, 429 and 5xx retried.
  function sendExtra() {
    Object.keys(extra).forEach(function (s) {
      if (xin[s] || !extra[s].length) return;
      var b = xin[s] = extra[s].splice(0, s === 'screen' ? 200 : BATCH), body = { sessionId: cfg.session };
      body[s === 'screen' ? 'events' : 'batch'] = b;
      answer(req('/api/data/' + s, body), guard(function (code, ra, j) {
        if (xin[s] !== b) return;
        xin[s] = null; n.lastStatus = code;
        if (!code || code === 429 || code >= 500) {
          extra[s] = b.concat(extra[s]);
          timer = timer || setTimeout(guard(function () { timer = 0; send(); }), Math.max(1000, ra * 1000));
          return settle(true);
        }
        if (code < 300) n.sent += j && j.data && j.data.accepted != null ? j.data.accepted : b.length; else n.dropped += b.length;
        send();
      }));
    });
  }
  // Keepalive bodies are capped at 64 KiB in flight.
  function fits(items) {
    var b = items.slice(0, BATCH);
    while (b.length > 1 && JSON.stringify(b).length > KEEP) b = b.slice(0, b.length >> 1);
    return b;
  }
  function send(keepalive) {
    if (!cfg || !brief || state === 'stopped') return settle();
    sendExtra();
    if (inflight || !queue.length) return settle();
    clearTimeout(timer); timer = 0;
    var batch = keepalive ? fits(queue) : queue.slice(0, BATCH), g = gen;
    queue = queue.slice(batch.length);
    inflight = batch;
    var done = guard(function (code, retryAfter, json) {
      if (g !== gen) return;
      inflight = null; n.lastStatus = code;
      if (code >= 200 && code < 300) {
        backoff = 0;
        var d = json && json.data || {};
        n.sent += d.accepted || 0; n.duplicates += d.duplicates || 0; n.rejected += d.rejected || 0;
      } else if (!code || code === 429 || code >= 500) {
        // Same items, same clientIds: the server stores each once.
        queue = batch.concat(queue);
        backoff = Math.min(30000, backoff * 2 || 1000);
        settle(true);
        timer = setTimeout(guard(function () { timer = 0; send(); }), Math.max(backoff, retryAfter * 1000 || 0) + Math.random() * 250);
        return;
      } else {
        n.dropped += batch.length;
        if (code === 401 || code === 403 || code === 404 || (code === 422 && /active/i.test(json && json.error))) return halt(code);
      }
      if (queue.length) send(); else settle();
    });
    answer(post(batch, !!keepalive), done);
  }
  function halt(code) {
    state = 'stopped'; n.lastStatus = code; n.dropped += queue.length + extras(); queue = [];
    extra = { facial: [], voice: [], screen: [] }; xin = {};
    clearTimeout(timer); timer = 0; store(null); settle();
  }

  // --- sessionStorage: unsent items, task and pause survive a page load ---
  function store(v) {
    try {
      if (v) sessionStorage.setItem(KEY + cfg.session, JSON.stringify(v)); else sessionStorage.removeItem(KEY + cfg.session);
    } catch (e) { /* no storage */ }
  }
  function saved(session) {
    try { return JSON.parse(sessionStorage.getItem(KEY + session)) || {}; } catch (e) { return {}; }
  }
  function persist() {
    flushFields();
    store({ q: (inflight || []).concat(queue).slice(-5000), task: cfg.task, paused: state === 'paused' });
  }
  // Leaving: unsent items to sessionStorage (the next page resends them) and out with
  // keepalive. Back from the bfcache, the queue is still here: duplicates are harmless.
  function leave() {
    if (!cfg || state === 'stopped') return;
    leaving = true;
    persist();
    var b = brief ? fits((inflight || []).concat(queue)) : [];
    if (b.length) post(b, true).catch(function () {});
  }

  // --- capture -------------------------------------------------------------------------
  function lengthOf(el) {
    if (el.isContentEditable) return (el.textContent || '').length;
    if (/^(checkbox|radio|file|range|color)$/i.test(el.type) || el.localName === 'select') return null;
    return typeof el.value === 'string' ? el.value.length : null;
  }
  function field(el) {
    var f = fields.get(el);
    if (!f) fields.set(el, f = { last: lengthOf(el), dir: 0, pending: null, timer: 0 });
    return f;
  }
  function flushField(f) {
    typing.delete(f);
    clearTimeout(f.timer);
    var p = f.pending;
    if (p) { f.pending = null; push('input', p.sel, { inputLength: p.len, deletions: p.del }, p.at); }
  }
  function flushFields() { held.forEach(release); typing.forEach(flushField); }
  // Keystrokes one way < 1 s apart are one item carrying its deletions (keys or cuts). The
  // length is read after the page's own handlers (they may rewrite the value). Only typing
  // restarts the hover clock: the `change` fired by the mousedown that leaves a field does not.
  function onInput(e) {
    var el = e.target, now = Date.now(), del = e.inputType ? /^delete/.test(e.inputType) : null;
    if (!el || el.nodeType !== 1 || state !== 'recording') return;
    if (e.type === 'input') hoverAt = now;
    setTimeout(guard(function () { typed(e.type, el, now, del); }), 0);
  }
  function typed(type, el, now, del) {
    var len = lengthOf(el), f = field(el);
    if (state !== 'recording' || (type === 'change' && !f.pending && (len === f.last || len == null))) return;
    var dir = len == null || f.last == null ? 0 : Math.sign(len - f.last);
    if (del == null) del = dir < 0;
    if (f.pending && (!dir || !f.dir || dir === f.dir)) {
      f.pending.len = len; f.pending.at = now; f.dir = f.dir || dir;
    } else {
      flushField(f);
      f.pending = { sel: selectorOf(el), len: len, at: now, del: 0 }; f.dir = dir;
    }
    if (del && type === 'input') f.pending.del++;
    f.last = len;
    typing.add(f);
    clearTimeout(f.timer);
    f.timer = setTimeout(guard(function () { flushField(f); }), MERGE);
  }
  function onFocus(e) {
    var el = e.target, focus = e.type === 'focus';
    if (el === W || el === D) {
      if (winFocus !== focus) { winFocus = focus; push(e.type, 'window'); }
      return;
    }
    // Focus lost with the whole page (tab switch) and regained is not leaving the field.
    if (!focus && !D.hasFocus()) { away = el; return; }
    if (focus && el === away) { away = null; return; }
    away = null;
    if (el.nodeType !== 1) return;
    if (lengthOf(el) != null) { var f = field(el); if (!focus) flushField(f); else if (!f.pending) f.last = lengthOf(el); }
    push(e.type, selectorOf(el));
  }
  var ROLES = { a: 'link', button: 'button', select: 'combobox', textarea: 'textbox', summary: 'button' };
  function roleOf(el) {
    return clip(el.getAttribute('role') || (el.localName === 'input' ? el.type : ROLES[el.localName]), 64) || null;
  }
  // hoverMs: pointer rest on the control since it arrived or since the last action. The item
  // waits 1 s for the page's answer: DOM mutations in that second (analysis.md §1.2).
  function onClick(e) {
    var el = actionable(e.target);
    if (!el || state !== 'recording') return;
    var now = Date.now(), hover = el === hoverEl && e.detail > 0 ? now - hoverAt : null, a = el.closest('a[href]');
    var picked = String(W.getSelection ? getSelection() : '').length, m0 = muts, sel = selectorOf(el);
    var it = { url: pageUrl(), taskId: cfg.task, x: Math.round(e.clientX), y: Math.round(e.clientY), targetText: textOf(el) || null, hoverMs: hover, viewport: viewport(),
      role: roleOf(el), selectionLength: picked || null,
      opensNewContext: a && (a.hasAttribute('download') || /^(_blank|[^_])/.test(a.target) || e.ctrlKey || e.metaKey || e.shiftKey) || null };
    hoverAt = now;
    watch(1);
    hold(1000, function () {
      watch(0); it.mutations = W.MutationObserver ? muts - m0 : null; watch(-1);
      push('click', sel, it, now);
    });
  }
  function onOver(e) {
    var el = actionable(e.target);
    if (el !== hoverEl) { hoverEl = el; hoverAt = Date.now(); }
  }
  // One item per 250 ms plus the last. Inner scrollers only when the document can't scroll
  // (two interleaved positions would look like thrashing).
  function onScroll(e) {
    var t = e.target, root = D.scrollingElement || D.documentElement, sel = '';
    if (t !== D && t !== W && t !== root && t !== D.body) {
      if (root.scrollHeight > root.clientHeight + 1 || !t || t.nodeType !== 1) return;
      sel = selectorOf(t);
    }
    var rec = function () { scrollAt = Date.now(); push('scroll', sel, { scrollY: Math.round(sel ? t.scrollTop : scrollY), viewport: viewport() }); };
    clearTimeout(trail);
    hoverAt = Date.now();
    if (hoverAt - scrollAt >= SCROLL) rec(); else trail = setTimeout(guard(rec), SCROLL);
  }
  function navigated(arrival) {
    var u = pageUrl();
    if (state !== 'recording' || (u === lastUrl && !arrival)) return;
    lastUrl = u;
    // Words of visible text once the page settled (1 s), for the reader's pace.
    var it = { url: u, taskId: cfg.task, viewport: viewport() }, at = Date.now();
    hold(1000, function () {
      it.wordCount = D.body ? (D.body.innerText.match(/\S+/g) || []).length : null;
      push('navigation', 'window', it, at);
    });
  }
  function onError(e) {
    if (!(e instanceof ErrorEvent)) return; // resource load failure
    var where = e.filename ? ' (' + e.filename.replace(/[?#].*$/, '').split('/').pop() + ':' + e.lineno + ')' : '';
    push('error', 'window', { errorMessage: clip((e.message || 'Script error') + where, 500) });
  }
  function onRejection(e) {
    var r = e.reason;
    push('error', 'window', { errorMessage: clip('Unhandled rejection: ' + (r && r.message || r), 500) });
  }
  function wrap(name) {
    var orig = history[name];
    if (typeof orig === 'function') history[name] = function () {
      var out = orig.apply(this, arguments); // the page's own errors pass through
      guard(navigated)(false);
      return out;
    };
  }
  var listening = false;
  function listen() {
    if (listening) return;
    listening = true;
    on(D, 'click', onClick); on(D, 'mouseover', onOver); on(W, 'scroll', onScroll);
    on(D, 'input', onInput); on(D, 'change', onInput); on(W, 'focus', onFocus); on(W, 'blur', onFocus);
    on(W, 'popstate', function () { navigated(false); }); on(W, 'hashchange', function () { navigated(false); });
    on(W, 'error', onError); on(W, 'unhandledrejection', onRejection);
    on(W, 'pagehide', leave);
    on(W, 'pageshow', function (e) { leaving = false; if (e.persisted && cfg) { store(null); navigated(true); } });
    on(D, 'visibilitychange', function () { if (D.visibilityState === 'hidden' && cfg && !leaving) { flushFields(); send(true); } });
    wrap('pushState'); wrap('replaceState');
  }

  // --- public API ----------------------------------------------------------------------
  function status() {
    return { state: state, session: cfg && cfg.session, task: cfg && cfg.task, queued: queue.length + held.size + (inflight ? inflight.length : 0) + extras(),
      sent: n.sent, duplicates: n.duplicates, rejected: n.rejected, dropped: n.dropped, lastStatus: n.lastStatus,
      streams: brief && brief.streams };
  }
  // Facial, voice or screen (rrweb) items to deliver: false, and nothing kept, when the
  // briefing turns the stream off (items added before it arrives wait for its answer).
  function add(s, items) {
    if (!cfg || state !== 'recording' || !/^(facial|voice|screen)$/.test(s) || (brief && !brief.streams[s])) return false;
    extra[s] = extra[s].concat(items);
    later(EVERY);
    return true;
  }
  function start(o) {
    o = o || {};
    var session = String(o.session || o.sessionId || ''), token = String(o.token || '').toLowerCase();
    if (!/^sess_[\w-]{1,80}$/.test(session) || !/^[0-9a-f]{48}$/.test(token)) return false;
    var fresh = !cfg || cfg.session !== session || state === 'stopped';
    if (cfg && cfg.session !== session && state !== 'stopped') {
      // Another session: this one's unsent items wait in sessionStorage.
      persist(); queue = []; inflight = null; gen++; clearTimeout(timer); timer = 0;
      extra = { facial: [], voice: [], screen: [] }; xin = {};
    }
    var old = fresh ? saved(session) : {};
    var base = o.endpoint || (script && script.src ? new URL(script.src, location.href).origin : location.origin);
    cfg = { session: session, token: token, endpoint: String(base).replace(/\/+$/, ''),
      task: o.task || o.taskId || old.task || (fresh ? null : cfg.task) };
    if (fresh) {
      state = old.paused ? 'paused' : 'recording';
      brief = null;
      getBrief(gen);
      queue = (old.q || []).concat(queue); // the previous page's, same clientIds
      store(null);
      listen();
      navigated(true);
    }
    if (queue.length) later(0);
    return true;
  }
  function flush() {
    return new Promise(function (done) {
      if (!cfg) return done(status());
      flushFields();
      waiters.push(done);
      send();
    });
  }
  // One delivery attempt, then forget the session.
  function stop() {
    if (!cfg || state === 'stopped') return Promise.resolve(status());
    flushFields();
    state = 'stopping';
    return flush().then(function () { state = 'stopped'; store(null); return status(); });
  }
  try {
    Object.defineProperty(W, 'OpenScouter', { value: Object.freeze({
      version: '1',
      start: guard(start),
      pause: guard(function () { if (state === 'recording') { flushFields(); state = 'paused'; send(); } }),
      resume: guard(function () { if (state === 'paused') { state = 'recording'; navigated(false); } }),
      setTask: guard(function (id) { if (cfg) { flushFields(); cfg.task = id ? String(id).slice(0, 64) : null; } }),
      add: guard(add),
      briefing: guard(function () { return brief && JSON.parse(JSON.stringify(brief)); }),
      flush: guard(flush),
      stop: guard(stop),
      status: guard(status)
    }) });
  } catch (e) { return; }
  var ds = script && script.dataset;
  if (ds && ds.session) guard(start)({ session: ds.session, token: ds.token, task: ds.task, endpoint: ds.endpoint });
})();
