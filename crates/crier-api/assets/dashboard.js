// Crier dashboard: progressive enhancement only; every page works without it.
'use strict';

// Compose: the viewer's time zone turns the local schedule into UTC for the server.
function wireSchedule() {
  const local = document.getElementById('scheduled_local');
  const utc = document.getElementById('scheduled_at');
  const hint = document.getElementById('tz-hint');
  if (!local || !utc) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (hint) hint.textContent = 'Times are in your time zone (' + zone + ').';
  const sync = () => { utc.value = local.value ? new Date(local.value).toISOString() : ''; };
  local.addEventListener('input', sync);
  local.form.addEventListener('submit', sync);
  sync();
}

// Compose: live counters per chosen channel, checked by the server's own validation.
function wireCounters() {
  const form = document.getElementById('compose');
  if (!form) return;
  const text = document.getElementById('text');
  let timer = null;
  const count = (value, unit) => {
    if (unit === 'utf16') return value.length;
    if (unit === 'bytes') return new TextEncoder().encode(value).length;
    if (unit === 'graphemes' && typeof Intl.Segmenter === 'function') {
      return [...new Intl.Segmenter().segment(value)].length;
    }
    return [...value].length;
  };
  const check = async () => {
    const chosen = [...form.querySelectorAll('input[name=channel]:checked')].map((box) => box.value);
    form.querySelectorAll('output.counter').forEach((out) => { out.textContent = ''; out.classList.remove('over'); });
    if (chosen.length === 0) return;
    const targets = chosen.map((id) => {
      const override = form.querySelector('textarea[data-override="' + id + '"]');
      return { channel_id: id, text: override && override.value ? override.value : null };
    });
    const response = await fetch('/posts/check', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': form.dataset.csrf },
      body: JSON.stringify({ text: text.value, targets }),
    });
    if (!response.ok) return;
    for (const result of await response.json()) {
      const out = document.getElementById('count-' + result.channel_id);
      if (!out) continue;
      const target = targets.find((t) => t.channel_id === result.channel_id);
      const value = target && target.text ? target.text : text.value;
      const used = result.max && result.counted_in !== 'weighted' ? count(value, result.counted_in) + ' / ' + result.max : '';
      out.textContent = result.problems.length ? (used ? used + ' — ' : '') + result.problems.join('; ') : (used || 'fits');
      out.classList.toggle('over', result.problems.length > 0);
    }
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(check, 250); };
  form.addEventListener('input', soon);
  form.addEventListener('change', soon);
  check();
}

// A post still on its way: reload its page every 2 s until every target has settled.
function wireRefresh() {
  const list = document.querySelector('[data-refresh]');
  if (!list) return;
  const settled = ['published', 'failed', 'cancelled', 'unknown', 'partially_published'];
  if (!settled.includes(list.dataset.refresh)) setTimeout(() => window.location.reload(), 2000);
}

document.addEventListener('DOMContentLoaded', () => { wireSchedule(); wireCounters(); wireRefresh(); });
