/* OpenScouter replay page: loads the session's rrweb recording and drives rrweb's Replayer
 * (sandboxed iframe, no script runs in it) from native, keyboard-operable controls. */
(function () {
  'use strict';
  var box = document.getElementById('replay');
  if (!box || !window.rrwebReplay) return;
  var play = document.getElementById('replay-play'), seek = document.getElementById('replay-seek');
  var time = document.getElementById('replay-time'), speed = document.getElementById('replay-speed');
  var status = document.getElementById('replay-status');
  var total = 0, playing = false, replayer = null, ticker = 0;
  function fmt(ms) { ms = Math.max(0, ms | 0); var s = Math.floor(ms / 1000); return Math.floor(s / 60) + ':' + ('0' + (s % 60)).slice(-2); }
  function show(ms) {
    seek.value = String(ms);
    seek.setAttribute('aria-valuetext', fmt(ms));
    time.textContent = fmt(ms) + ' / ' + fmt(total);
  }
  function tick() { if (replayer) show(Math.min(total, replayer.getCurrentTime())); }
  function setPlaying(on, at) {
    playing = on;
    play.textContent = on ? 'Pause' : 'Play';
    if (on) { replayer.play(at); ticker = setInterval(tick, 250); } else { replayer.pause(at); clearInterval(ticker); tick(); }
  }
  function goTo(ms) { ms = Math.max(0, Math.min(total, ms)); if (playing) replayer.play(ms); else replayer.pause(ms); show(ms); }
  fetch(box.getAttribute('data-src'), { credentials: 'same-origin' }).then(function (r) {
    if (!r.ok) throw new Error('HTTP ' + r.status);
    return r.json();
  }).then(function (events) {
    if (events.length < 2) throw new Error('too few events');
    replayer = new rrwebReplay.Replayer(events, { root: box, mouseTail: false, triggerFocus: false });
    if (replayer.iframe) replayer.iframe.setAttribute('title', 'Replayed page (no script runs)');
    total = replayer.getMetaData().totalTime;
    seek.max = String(total);
    replayer.on('finish', function () { setPlaying(false, total); });
    replayer.pause(0);
    play.disabled = false; seek.disabled = false;
    show(0);
    status.textContent = events.length + ' events loaded. Use Play, the position slider or a marker below.';
  }).catch(function (e) {
    status.textContent = 'The recording could not be loaded (' + e.message + ').';
  });
  play.addEventListener('click', function () { if (replayer) setPlaying(!playing, replayer.getCurrentTime()); });
  seek.addEventListener('input', function () { if (replayer) goTo(+seek.value); });
  speed.addEventListener('change', function () { if (replayer) replayer.setConfig({ speed: +speed.value }); });
  [].forEach.call(document.querySelectorAll('button.marker'), function (b) {
    b.addEventListener('click', function () {
      if (!replayer) return;
      goTo(+b.getAttribute('data-at'));
      status.textContent = 'Moved to ' + fmt(+b.getAttribute('data-at')) + '.';
      seek.focus();
    });
  });
})();
