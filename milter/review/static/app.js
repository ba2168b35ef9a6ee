// The review page. Message content only ever reaches the document as text (textContent,
// text nodes): a message's own HTML or script can never run here, and the server's
// Content-Security-Policy forbids inline script besides.
'use strict';

const state = { csrf: null, login: null, role: null, schools: [], sort: { key: 'received', dir: -1 }, list: [] };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    opt.headers['Content-Type'] = 'application/json';
    if (state.csrf) opt.headers['X-CSRF-Token'] = state.csrf;
    opt.body = JSON.stringify(body || {});
  }
  const res = await fetch(path, opt);
  let data = {};
  try { data = await res.json(); } catch (e) { /* empty answer */ }
  if (res.status === 401 && !path.endsWith('/login')) { state.csrf = null; location.hash = '#/login'; }
  return { ok: res.ok, status: res.status, data };
}

function age(seconds) {
  if (seconds < 3600) return Math.max(1, Math.round(seconds / 60)) + ' min';
  if (seconds < 86400) return Math.round(seconds / 3600) + ' h';
  return Math.round(seconds / 86400) + ' days';
}
function when(unix) { return new Date(unix * 1000).toLocaleString(); }
// null/false children (optional parts) are skipped: replaceChildren would print "null".
function show(...nodes) { document.getElementById('app').replaceChildren(...nodes.filter(n => n !== null && n !== undefined && n !== false)); }
function status(kind, text) { return el('div', { class: 'status ' + kind, role: 'status', text }); }

// ---- sign-in --------------------------------------------------------------------------
function viewLogin(message) {
  const err = el('div');
  const totpBox = el('div', { hidden: true },
    el('label', { for: 'totp', text: 'Code from your authenticator app' }),
    el('input', { id: 'totp', name: 'totp', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code' }));
  const form = el('form', { class: 'login card', id: 'login-form' },
    el('h1', { text: 'Sign in to review held mail' }),
    message ? status('info', message) : null,
    el('label', { for: 'login', text: 'Login' }),
    el('input', { id: 'login', name: 'login', type: 'text', autocomplete: 'username', required: true }),
    el('label', { for: 'password', text: 'Password' }),
    el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    totpBox, err,
    el('div', { class: 'actions' }, el('button', { class: 'primary', type: 'submit', id: 'signin', text: 'Sign in' })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('POST', '/api/login', {
      login: form.login.value, password: form.password.value, totp: form.totp.value });
    if (r.ok) {
      Object.assign(state, { csrf: r.data.csrf, login: r.data.login, role: r.data.role,
      schools: r.data.schools || [] });
      location.hash = '#/';
      route();
      return;
    }
    if (r.data.totp_required) totpBox.hidden = false;
    err.replaceChildren(status('err', r.data.error || 'Sign-in failed'));
  });
  document.getElementById('nav').hidden = true;
  show(form);
  form.login.focus();
}

// ---- held list ------------------------------------------------------------------------
const CATEGORIES = ['confidential', 'personal-link', 'social-contact', 'disrepute', 'abusive', 'unscannable'];

async function viewList() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const st = params.get('status') || 'held', cat = params.get('category') || '', sender = params.get('sender') || '';
  const q = new URLSearchParams({ status: st });
  if (cat) q.set('category', cat);
  if (sender) q.set('sender', sender);
  const r = await api('GET', '/api/messages?' + q);
  if (!r.ok) return show(status('err', r.data.error || 'Could not load the list'));
  state.list = r.data;

  const statusSel = el('select', { id: 'f-status' }, ['held', 'released', 'refused', 'all'].map(
    s => el('option', { value: s, selected: s === st, text: s })));
  const catSel = el('select', { id: 'f-category' }, el('option', { value: '', text: 'any category' }),
    CATEGORIES.map(c => el('option', { value: c, selected: c === cat, text: c })));
  const senderIn = el('input', { id: 'f-sender', type: 'text', value: sender, placeholder: 'part of an address' });
  const apply = () => {
    const p = new URLSearchParams({ status: statusSel.value });
    if (catSel.value) p.set('category', catSel.value);
    if (senderIn.value) p.set('sender', senderIn.value);
    location.hash = '#/?' + p;
  };
  statusSel.addEventListener('change', apply);
  catSel.addEventListener('change', apply);
  senderIn.addEventListener('change', apply);

  const tbody = el('tbody');
  const sortBtn = (key, label) => el('button', { class: 'sort', type: 'button', text: label, onclick: () => {
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
    fill();
  } });
  const fill = () => {
    const { key, dir } = state.sort;
    const rows = [...state.list].sort((a, b) => {
      const x = key === 'categories' ? a.categories.join() : a[key], y = key === 'categories' ? b.categories.join() : b[key];
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    tbody.replaceChildren(...rows.map(m => {
      const tr = el('tr', { class: 'row', 'data-id': m.id, tabindex: 0 },
        // Several schools in view (a trust role, or a reviewer of more than one): name each
        // message's school.
        el('td', {}, m.sender, state.schools.length > 1
          ? [' ', el('span', { class: 'badge', text: schoolName(m.school) })] : null),
        el('td', {}, m.recipients_detail.map(rc => el('div', {},
          rc.address, ' ', el('span', { class: 'badge cls-' + rc.class, title: rc.why, text: rc.label })))),
        el('td', { class: 'subject' }, m.subject || '(no subject)'),
        el('td', {}, m.categories.map(c => el('span', { class: 'badge cat', text: c }))),
        el('td', { title: when(m.received) }, age(m.age_seconds)),
        el('td', {}, m.state));
      const open = () => { location.hash = '#/m/' + m.id; };
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
      return tr;
    }));
  };
  fill();
  show(el('h1', { text: st === 'held' ? 'Held messages waiting for a decision' : 'Messages: ' + st }),
    el('div', { class: 'filters' },
      el('div', {}, el('label', { for: 'f-status', text: 'Status' }), statusSel),
      el('div', {}, el('label', { for: 'f-category', text: 'Category' }), catSel),
      el('div', {}, el('label', { for: 'f-sender', text: 'Sender' }), senderIn)),
    state.list.length === 0 ? status('info', 'Nothing here.') : null,
    el('table', { id: 'held' },
      el('thead', {}, el('tr', {},
        el('th', {}, sortBtn('sender', 'Sender')), el('th', {}, 'Recipients'),
        el('th', {}, sortBtn('subject', 'Subject')), el('th', {}, sortBtn('categories', 'Categories')),
        el('th', {}, sortBtn('received', 'Age')), el('th', {}, 'State'))),
      tbody));
}

// ---- one message ----------------------------------------------------------------------
// Text with findings highlighted in place: offsets come from the stored verdict (UTF-16
// indices, converted by the server) - no searching here.
function highlighted(text, findings) {
  const cuts = new Set([0, text.length]);
  for (const f of findings) { cuts.add(Math.min(f.start, text.length)); cuts.add(Math.min(f.end, text.length)); }
  const points = [...cuts].sort((a, b) => a - b);
  const out = el('div', { class: 'text' });
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i], b = points[i + 1];
    const piece = text.slice(a, b);
    const over = findings.filter(f => f.start <= a && f.end >= b && f.end > f.start);
    if (over.length === 0) { out.append(document.createTextNode(piece)); continue; }
    const m = el('mark', { class: 'finding cat-' + over[0].category, 'data-rule': over.map(f => f.rule).join(' '),
      title: over.map(f => f.category + ': ' + f.clause).join('\n') }, piece);
    out.append(m);
    const ending = over.filter(f => f.end === b);
    if (ending.length) out.append(el('sup', { class: 'flabel', text: [...new Set(ending.map(f => f.n))].join(',') }));
  }
  return out;
}

async function viewMessage(id) {
  const r = await api('GET', '/api/messages/' + encodeURIComponent(id));
  if (!r.ok) return show(status('err', r.data.error || 'Could not load the message'));
  const m = r.data;
  // Findings grouped by rule: one policy clause, many pieces of evidence; a highlight's
  // number is its rule's place in the list.
  const byRule = [];
  for (const f of m.findings_detail) {
    let g = byRule.find(x => x.rule === f.rule);
    if (!g) { g = { rule: f.rule, category: f.category, clause: f.clause, origins: [], count: 0 }; byRule.push(g); }
    f.n = byRule.indexOf(g) + 1;
    g.count++;
    if (!g.origins.includes(f.origin)) g.origins.push(f.origin);
  }
  const result = el('div', { id: 'result' });

  const rcptRows = m.recipients_detail.map(rc => el('tr', {},
    el('td', {}, rc.held && m.can_decide ? el('input', { type: 'checkbox', class: 'pick', value: rc.address, checked: true,
      'aria-label': 'release to ' + rc.address }) : null),
    el('td', {}, rc.address),
    el('td', {}, el('span', { class: 'badge cls-' + rc.class, text: rc.label })),
    el('td', { class: 'why' }, rc.why),
    el('td', {}, rc.released ? 'released' : rc.held ? 'held' : 'delivered')));

  const legend = el('ol', { class: 'findings', id: 'findings' }, byRule.map(f => el('li', {},
    el('span', { class: 'badge cat', text: f.category }), ' ', el('code', { text: f.rule }),
    f.count > 1 ? ' - ' + f.count + ' findings' : '', ' in ',
    el('span', { class: 'muted', text: f.origins.join(', ') }), el('br'),
    el('span', { class: 'clause', text: '"' + f.clause + '"' }),
    m.can_decide ? el('span', {}, ' ', el('button', { type: 'button', class: 'nav', text: 'Not a violation',
      onclick: async () => {
        const r2 = await api('POST', `/api/messages/${m.id}/not-a-violation`, { rule: f.rule, note: note.value });
        result.replaceChildren(status(r2.ok ? 'ok' : 'err', r2.ok
          ? 'Recorded for the IT admin: rule ' + f.rule + ' (with a short redacted context).'
          : (r2.data.error || 'Failed')));
      } })) : null)));

  const segs = m.segments.map((s, i) => {
    const fs = m.findings_detail.filter(f => f.segment === i);
    return el('div', { class: 'segment', 'data-origin': s.origin },
      el('div', { class: 'origin', text: s.origin + (fs.length ? ' - ' + fs.length + ' finding(s)' : '') }),
      highlighted(s.text, fs));
  });

  const atts = m.attachments.length ? el('ul', {}, m.attachments.map(a => el('li', {},
    el('strong', { text: a.name || a.origin }), ' ', el('span', { class: 'muted', text: a.type + ', ' + a.size + ' bytes' }),
    a.findings ? el('span', {}, ' - ', a.findings + ' finding(s) in ', a.where.join(', ')) : ' - no findings'))) :
    el('p', { class: 'muted', text: 'No attachments.' });

  const note = el('textarea', { id: 'note', placeholder: 'A note for the sender (optional; sent with the decision)' });
  const picked = () => [...document.querySelectorAll('input.pick:checked')].map(x => x.value);
  // "ticked only" with nothing ticked would mean nobody: the button is off until one is.
  const syncSome = () => { const b = document.getElementById('release-some'); if (b) b.disabled = picked().length === 0; };
  const decide = async (what, body, done) => {
    for (const b of document.querySelectorAll('.actions button')) b.disabled = true;
    result.replaceChildren(status('info', 'Working...'));
    const r2 = await api('POST', `/api/messages/${m.id}/${what}`, body);
    if (r2.ok) { result.replaceChildren(status('ok', done(r2.data))); setTimeout(() => viewMessage(id), 1500); }
    else { result.replaceChildren(status('err', r2.data.error || 'Failed')); for (const b of document.querySelectorAll('.actions button')) b.disabled = false; syncSome(); }
  };
  const actions = m.can_decide ? el('div', { class: 'card' },
    el('h2', { text: 'Decision' }),
    el('label', { for: 'note', text: 'Note' }), note,
    el('div', { class: 'actions' },
      el('button', { class: 'primary', type: 'button', id: 'release-all', text: 'Release to all held recipients',
        onclick: () => decide('release', { note: note.value }, d => 'Released to ' + d.released_to.join(', ') + '.') }),
      el('button', { type: 'button', id: 'release-some', text: 'Release to the ticked recipients only',
        onclick: () => decide('release', { note: note.value, recipients: picked() },
          d => 'Released to ' + d.released_to.join(', ') + (d.fully_released ? '.' : '; the others stay held.')) }),
      el('button', { class: 'danger', type: 'button', id: 'refuse', text: 'Refuse (delete and tell the sender)',
        onclick: () => decide('refuse', { note: note.value }, () => 'Refused: the message is deleted and the sender has been told.') })),
    result) : el('div', { class: 'card' }, status('info', 'This message is ' + m.state + (m.status_by ? ' (by ' + m.status_by + ')' : '') + '.'), result);

  show(
    el('p', {}, el('a', { href: '#/', text: '< back to the list' })),
    el('h1', { id: 'subject' }, m.subject || '(no subject)'),
    el('div', { class: 'card' },
      el('div', {}, el('strong', { text: 'From ' }), m.sender),
      el('div', { class: 'muted' }, 'Held since ', when(m.received), ' - ', m.state,
        m.route ? ' - routed: ' + m.route : ''),
      el('div', {}, m.categories.map(c => el('span', { class: 'badge cat', text: c }))),
      m.notes.length ? el('div', { class: 'muted', text: 'Notes: ' + m.notes.join(', ') }) : null),
    // What the sender added through the link in their notice (issue 13); the decision stays here.
    (m.sender_reasons || []).length ? el('div', { class: 'card', id: 'sender-reasons' },
      el('strong', { text: 'The sender says' }),
      el('ul', {}, m.sender_reasons.map(r => el('li', {}, when(r.at), ': ', r.reason)))) : null,
    actions,
    el('h2', { text: 'Who it was going to, and why that matters' }),
    el('table', { id: 'recipients' }, el('tbody', {}, rcptRows)),
    el('h2', { text: 'Why it was held (' + m.findings_detail.length + ' finding(s) of ' + byRule.length + ' rule(s))' }),
    el('div', { class: 'card' }, legend),
    el('h2', { text: 'Attachments' }), el('div', { class: 'card' }, atts),
    el('h2', { text: 'The message as the filter read it' }),
    el('div', { class: 'card', id: 'message-text' }, segs));
  for (const box of document.querySelectorAll('input.pick')) box.addEventListener('change', syncSome);
  syncSome();
}

// ---- audit log and dismissals ---------------------------------------------------------
// Paged (newest first, 100 a page) and filtered by message and by action; the server
// returns only entries of messages this account may review.
async function viewAudit() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const msg = params.get('message') || '', action = params.get('action') || '', before = params.get('before') || '';
  const q = new URLSearchParams({ limit: params.get('limit') || '100' });
  if (msg) q.set('message', msg);
  if (action) q.set('action', action);
  if (before) q.set('before', before);
  const r = await api('GET', '/api/audit?' + q);
  if (!r.ok) return show(status('err', r.data.error || 'Could not load the audit log'));
  const msgIn = el('input', { id: 'a-message', type: 'text', value: msg, placeholder: 'message id' });
  const actSel = el('select', { id: 'a-action' }, el('option', { value: '', text: 'any action' }),
    ['quarantined', 'viewed', 'release-attempt', 'released', 'released-partial', 'release-failed', 'refused', 'deleted',
      'not-a-violation', 'signed-in', 'sign-in-failed', 'signed-out', 'claim-expired'].map(
      a => el('option', { value: a, selected: a === action, text: a })));
  const go = (extra) => {
    const p = new URLSearchParams();
    if (msgIn.value) p.set('message', msgIn.value.trim());
    if (actSel.value) p.set('action', actSel.value);
    if (params.get('limit')) p.set('limit', params.get('limit'));
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    location.hash = '#/audit?' + p;
  };
  msgIn.addEventListener('change', () => go());
  actSel.addEventListener('change', () => go());
  const entries = r.data.entries;
  show(el('h1', { text: 'Audit log' }),
    el('p', { class: 'muted', text: 'Every view and decision, newest first. Entries cannot be changed or deleted.' }),
    el('div', { class: 'filters' },
      el('div', {}, el('label', { for: 'a-message', text: 'Message' }), msgIn),
      el('div', {}, el('label', { for: 'a-action', text: 'Action' }), actSel)),
    entries.length === 0 ? status('info', 'No entries.') : null,
    el('table', { id: 'audit' }, el('thead', {}, el('tr', {}, ['When', 'Who', 'What', 'Message', 'Note'].map(h => el('th', { text: h })))),
      el('tbody', {}, entries.map(e => el('tr', {},
        el('td', { text: when(e.at) }), el('td', { text: e.actor }), el('td', { text: e.action }),
        el('td', {}, e.message_id ? el('a', { href: '#/m/' + e.message_id, text: e.message_id }) : ''),
        el('td', { text: e.note }))))),
    el('div', { class: 'actions' },
      before ? el('button', { type: 'button', id: 'audit-newest', text: 'Newest', onclick: () => go() }) : null,
      r.data.next ? el('button', { type: 'button', id: 'audit-older', text: 'Older entries',
        onclick: () => go({ before: String(r.data.next) }) }) : null));
}

async function viewDismissals() {
  const r = await api('GET', '/api/dismissals');
  if (!r.ok) return show(status('err', r.data.error || 'Not available'));
  show(el('h1', { text: '"Not a violation" records' }),
    el('p', { class: 'muted', text: 'For the IT admin: consider a sender, recipient or rule exception in the configuration.' }),
    el('table', { id: 'dismissals' }, el('thead', {}, el('tr', {}, ['When', 'Who', 'Rule', 'Context (redacted)', 'Note'].map(h => el('th', { text: h })))),
      el('tbody', {}, r.data.map(d => el('tr', {},
        el('td', { text: when(d.at) }), el('td', { text: d.actor }), el('td', {}, el('code', { text: d.rule })),
        el('td', { text: d.context }), el('td', { text: d.note }))))));
}

// Monitor mode (issue 13): what the filter would have held or tagged. Read-only: the mail
// was delivered and no copy is kept, only the verdict and its evidence, until they expire.
async function viewMonitor() {
  const r = await api('GET', '/api/monitor');
  if (!r.ok) return show(status('err', r.data.error || 'Not available'));
  show(el('h1', { text: 'Monitor mode: what would have been held' }),
    el('p', { class: 'muted', text: 'These messages were delivered unchanged. Nothing can be released or refused here; the evidence is deleted after the retention period.' }),
    r.data.length === 0 ? el('p', { text: 'Nothing so far.' }) :
    el('table', { id: 'monitor' }, el('thead', {}, el('tr', {}, ['When', 'From', 'To', 'Categories', 'Would have been', 'Evidence'].map(h => el('th', { text: h })))),
      el('tbody', {}, r.data.map(m => el('tr', { class: 'monitor-row' },
        el('td', { text: when(m.at) }), el('td', { text: m.sender }),
        el('td', {}, ...m.recipients.map(x => el('div', { text: x.address + ' (' + x.label + ')' }))),
        el('td', { text: m.categories.join(', ') }), el('td', { class: 'monitor-state', text: m.state }),
        el('td', {}, ...m.findings.map(f => el('div', {}, el('code', { text: f.rule }), ' ', el('mark', { text: f.evidence })))))))));
}

// A school's name from its id ("" is mail stored before [[schools]]: the first school's).
function schoolName(id) {
  const s = state.schools.find(x => x.id === id) || (id === '' ? state.schools[0] : null);
  return s ? s.name : id;
}

// ---- router ---------------------------------------------------------------------------
async function route() {
  const h = location.hash || '#/';
  if (h.startsWith('#/login')) return viewLogin();
  if (!state.csrf) {
    const r = await api('GET', '/api/session');
    if (!r.ok) return viewLogin();
    Object.assign(state, { csrf: r.data.csrf, login: r.data.login, role: r.data.role,
      schools: r.data.schools || [] });
  }
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = 'Signed in as ' + state.login + ' (' + state.role + ')';
  document.getElementById('nav-dismissals').hidden = state.role !== 'admin' && state.role !== 'it-admin';
  if (h.startsWith('#/m/')) return viewMessage(decodeURIComponent(h.slice(4)));
  if (h.startsWith('#/audit')) return viewAudit();
  if (h.startsWith('#/dismissals')) return viewDismissals();
  if (h.startsWith('#/monitor')) return viewMonitor();
  return viewList();
}

document.getElementById('signout').addEventListener('click', async () => {
  await api('POST', '/api/logout');
  state.csrf = null;
  location.hash = '#/login';
});
window.addEventListener('hashchange', route);
route();
