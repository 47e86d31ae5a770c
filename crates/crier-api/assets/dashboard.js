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

// The calendar (and any page that shows local times) learns the viewer's time zone from this
// cookie; when it was missing or stale, the calendar is shown again in the right zone.
function wireZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  const encoded = encodeURIComponent(zone);
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  const current = document.cookie.split('; ').find((c) => c.startsWith('crier_tz='));
  if (current !== 'crier_tz=' + encoded) {
    document.cookie = 'crier_tz=' + encoded + '; Path=/; Max-Age=31536000; SameSite=Lax' + secure;
  }
  const shown = document.getElementById('calendar-zone');
  // Once per tab: a zone the server does not know stays UTC rather than reloading forever.
  if (shown && shown.dataset.zone !== zone && document.cookie.includes('crier_tz=' + encoded) &&
      sessionStorage.getItem('crier_tz_reloaded') !== zone) {
    sessionStorage.setItem('crier_tz_reloaded', zone);
    window.location.reload();
  }
}

// Compose: attach files. Each is sent as a resumable upload in parts, with its progress shown;
// the server inspects the bytes and answers what the file is (or why it cannot be used).
function wireMedia() {
  const box = document.getElementById('media');
  if (!box) return;
  const list = document.getElementById('attached');
  const file = document.getElementById('media-file');
  const alt = document.getElementById('media-alt');
  const button = document.getElementById('media-attach');
  const progress = document.getElementById('media-progress');
  const status = document.getElementById('media-status');
  const csrf = box.dataset.csrf;
  const PART = 2 * 1024 * 1024;
  document.getElementById('attach').hidden = false;
  const changed = () => document.dispatchEvent(new Event('crier:media'));
  const explain = (status, body) => {
    try {
      const problem = JSON.parse(body);
      if (problem.errors && problem.errors.length) return problem.errors.map((e) => e.detail).join('; ');
      return problem.detail || problem.title || 'the upload failed';
    } catch (_) {
      return status === 0 ? 'the connection failed' : 'the upload failed (' + status + '); reload the page and try again';
    }
  };
  const send = (method, url, headers, body, onProgress) => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader('x-csrf-token', csrf);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText });
    xhr.onerror = () => resolve({ status: 0, body: '' });
    xhr.send(body);
  });
  const attach = async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) { status.textContent = 'Choose a file first.'; file.focus(); return; }
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = 'Uploading ' + chosen.name + '…';
    const begun = await send('POST', '/media/uploads', { 'content-type': 'application/json' }, JSON.stringify({
      size: chosen.size, file_name: chosen.name, content_type: chosen.type || null, alt_text: alt.value || null,
    }));
    let media = null;
    if (begun.status === 201) {
      media = JSON.parse(begun.body);
      let offset = 0;
      while (media.status === 'uploading') {
        const part = chosen.slice(offset, offset + PART);
        const sent = await send('PATCH', '/media/' + encodeURIComponent(media.id) + '/content',
          { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) }, part,
          (loaded) => { progress.value = Math.floor((100 * (offset + loaded)) / chosen.size); });
        if (sent.status !== 200) { status.textContent = 'Not attached: ' + explain(sent.status, sent.body); media = null; break; }
        media = JSON.parse(sent.body);
        offset = media.upload ? media.upload.received : chosen.size;
      }
    } else {
      status.textContent = 'Not attached: ' + explain(begun.status, begun.body);
    }
    button.disabled = false;
    progress.hidden = true;
    if (!media) return;
    const item = document.createElement('li');
    const input = document.createElement('input');
    input.type = 'hidden'; input.name = 'media'; input.value = media.id;
    item.append(input);
    if (media.kind === 'image') {
      const thumb = document.createElement('img');
      thumb.src = URL.createObjectURL(chosen); thumb.alt = ''; thumb.className = 'thumb';
      item.append(thumb);
    }
    item.append(document.createTextNode(chosen.name + ' (' + (media.kind || 'file') + ') '));
    const remove = document.createElement('button');
    remove.type = 'button'; remove.className = 'secondary'; remove.dataset.detach = ''; remove.textContent = 'Remove';
    remove.setAttribute('aria-label', 'Remove ' + chosen.name);
    item.append(remove);
    list.append(item);
    status.textContent = chosen.name + ' is attached.';
    file.value = ''; alt.value = '';
    changed();
  };
  button.addEventListener('click', attach);
  list.addEventListener('click', (event) => {
    const remove = event.target.closest('[data-detach]');
    if (!remove) return;
    remove.closest('li').remove();
    status.textContent = 'Removed.';
    changed();
  });
}

// Compose: a preview of what each chosen channel receives (its own text, or the common one).
function wirePreview() {
  const form = document.getElementById('compose');
  const section = document.getElementById('preview');
  if (!form || !section) return;
  const cards = document.getElementById('preview-cards');
  const text = document.getElementById('text');
  const render = () => {
    const chosen = [...form.querySelectorAll('input[name=channel]:checked')];
    section.hidden = chosen.length === 0;
    cards.replaceChildren();
    const files = [...document.querySelectorAll('#attached li')];
    for (const box of chosen) {
      const override = form.querySelector('textarea[data-override="' + box.value + '"]');
      const card = document.createElement('article');
      card.className = 'preview-card';
      const title = document.createElement('h3');
      const label = form.querySelector('label[for="' + box.id + '"]');
      title.textContent = label ? label.textContent.trim() : box.value;
      const body = document.createElement('p');
      body.className = 'posttext';
      body.textContent = override && override.value ? override.value : text.value;
      card.append(title, body);
      for (const thumb of document.querySelectorAll('#attached img')) card.append(thumb.cloneNode());
      if (files.length) {
        const note = document.createElement('p');
        note.className = 'hint';
        note.textContent = files.length === 1 ? '1 file attached' : files.length + ' files attached';
        card.append(note);
      }
      cards.append(card);
    }
  };
  form.addEventListener('input', render);
  form.addEventListener('change', render);
  document.addEventListener('crier:media', render);
  render();
}

// A post still on its way: reload its page every 2 s until every target has settled.
function wireRefresh() {
  const list = document.querySelector('[data-refresh]');
  if (!list) return;
  const settled = ['published', 'failed', 'cancelled', 'unknown', 'partially_published'];
  if (!settled.includes(list.dataset.refresh)) setTimeout(() => window.location.reload(), 2000);
}

// Passkeys (WebAuthn): the server's options carry binary fields as base64url; the browser's
// API wants ArrayBuffers, and its answer goes back as base64url again.
function fromB64u(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
}

function toB64u(buffer) {
  let raw = '';
  new Uint8Array(buffer).forEach((b) => { raw += String.fromCharCode(b); });
  return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function credentialJson(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toB64u(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64u(r.attestationObject);
    if (typeof r.getTransports === 'function') response.transports = r.getTransports();
  } else {
    response.authenticatorData = toB64u(r.authenticatorData);
    response.signature = toB64u(r.signature);
    response.userHandle = r.userHandle ? toB64u(r.userHandle) : null;
  }
  return {
    id: credential.id,
    rawId: toB64u(credential.rawId),
    type: credential.type,
    response,
    extensions: credential.getClientExtensionResults(),
  };
}

// One ceremony: start (options), the browser's dialog, finish; then the page the server names.
async function passkeyCeremony(element, status, startBody, finishBody) {
  const post = async (url, body) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': element.dataset.csrf },
      body: JSON.stringify(body),
    });
    let answer = {};
    try { answer = await response.json(); } catch (_) { answer = {}; }
    if (!response.ok) throw new Error(answer.error || 'Something went wrong. Reload the page and try again.');
    return answer;
  };
  status.textContent = '';
  try {
    const options = await post(element.dataset.start, startBody);
    const publicKey = options.publicKey;
    publicKey.challenge = fromB64u(publicKey.challenge);
    let credential;
    if (publicKey.user) {
      publicKey.user.id = fromB64u(publicKey.user.id);
      (publicKey.excludeCredentials || []).forEach((c) => { c.id = fromB64u(c.id); });
      credential = await navigator.credentials.create({ publicKey });
    } else {
      (publicKey.allowCredentials || []).forEach((c) => { c.id = fromB64u(c.id); });
      credential = await navigator.credentials.get({ publicKey });
    }
    const done = await post(element.dataset.finish, Object.assign({ credential: credentialJson(credential) }, finishBody));
    window.location.assign(done.location || '/');
  } catch (err) {
    status.textContent = err && err.name === 'NotAllowedError'
      ? 'The passkey dialog was closed or timed out.'
      : (err && err.message) || 'The passkey did not work.';
  }
}

function wirePasskeys() {
  if (!window.PublicKeyCredential) return;
  const register = document.getElementById('passkey-register');
  if (register) {
    register.addEventListener('submit', (event) => {
      event.preventDefault();
      const password = document.getElementById('passkey-password');
      passkeyCeremony(register, document.getElementById('passkey-register-status'),
        { password: password ? password.value : '' },
        { name: document.getElementById('passkey-name').value });
    });
  }
  ['passkey-sign-in', 'passkey-second-factor'].forEach((id) => {
    const button = document.getElementById(id);
    if (button) button.addEventListener('click', () => passkeyCeremony(button, document.getElementById(id + '-status'), {}, {}));
  });
}


document.addEventListener('DOMContentLoaded', () => { wireZone(); wireSchedule(); wireMedia(); wireCounters(); wirePreview(); wireRefresh(); wirePasskeys(); });
