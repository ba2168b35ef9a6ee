// The review page in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): sign in, see the held message with its findings highlighted, release
// it, see it arrive in the test mailbox, see the audit entry; a message whose HTML carries
// a script and whose subject carries markup shows as text; the sender's page from the
// link in their notice takes a reason the reviewer then sees. Screenshots go to ARTIFACTS.
// Environment: REVIEW_URL LOGIN PASSWORD MAILBOX ARTIFACTS PROFILE
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k) => { const v = process.env[k]; if (!v) throw new Error('missing ' + k); return v; };
const URL = env('REVIEW_URL'), MAILBOX = env('MAILBOX'), ARTIFACTS = env('ARTIFACTS');
const HELD_SUBJECT = 'Trip forms for Year 4';
const MARKUP_SUBJECT = '<img src=x onerror="window.__xss=1"><b>Bold</b> pupil list';

function check(cond, what) { if (!cond) throw new Error('FAILED: ' + what); console.log('ok - ' + what); }

// WCAG 2.2 AA with axe-core (package-lock.json). Evaluated through the DevTools protocol,
// so the page's CSP (no inline script) stays as it is.
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
async function accessible(page, what) {
  await page.evaluate(AXE);
  const v = await page.evaluate(() => axe.run(document, { runOnly: { type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }).then(r => r.violations.map(x =>
    x.id + ' (' + x.impact + '): ' + x.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))));
  check(v.length === 0, what + ' meets WCAG 2.2 AA (axe-core)' + (v.length ? ': ' + v.join(' | ') : ''));
}
// At a phone's width: nothing wider than the screen, and still accessible.
async function phone(page, what) {
  await page.setViewportSize({ width: 375, height: 740 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 376, what + ' fits a 375 px phone screen (' + wide + ' px)');
  await accessible(page, what + ' on a phone');
  await page.setViewportSize({ width: 1200, height: 900 });
}

async function waitFor(fn, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('FAILED: timed out waiting for ' + what);
    await new Promise(r => setTimeout(r, 250));
  }
}

(async () => {
  const context = await chromium.launchPersistentContext(env('PROFILE'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  const dialogs = [];
  const cspErrors = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('dialog', d => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('console', m => { if (/Content Security Policy/.test(m.text())) cspErrors.push(m.text()); });
    page.on('pageerror', e => console.log('page error: ' + e.message));

    // 1. sign in
    await page.goto(URL);
    await page.waitForSelector('#login-form');
    check(!(await page.isVisible('#signout')), '"Sign out" is not shown on the sign-in page');
    await accessible(page, 'the sign-in page');
    await phone(page, 'the sign-in page');
    await page.fill('#login', env('LOGIN'));
    await page.fill('#password', 'wrong password here');
    await page.click('#signin');
    await page.waitForSelector('.status.err');
    check(await page.isVisible('#login-form'), 'a wrong password is refused');
    await page.fill('#password', env('PASSWORD'));
    await page.click('#signin');
    await page.waitForSelector('table#held tbody tr');
    const cookies = await context.cookies();
    const c = cookies.find(x => x.name === 'pm_review');
    check(c && c.httpOnly && c.sameSite === 'Strict', 'session cookie is HttpOnly and SameSite=Strict');

    // 2. the held list: both messages, the markup subject as text
    const rows = await page.$$eval('table#held tbody tr', trs => trs.map(tr => ({
      id: tr.dataset.id, subject: tr.querySelector('td.subject').textContent, text: tr.textContent })));
    check(rows.length >= 2, 'the held list shows the held messages (' + rows.length + ')');
    const held = rows.find(r => r.subject === HELD_SUBJECT);
    const markup = rows.find(r => r.subject === MARKUP_SUBJECT);
    check(held, 'the held message is listed');
    check(markup, 'a subject with markup is listed as text');
    check(/personal webmail/.test(held.text) && /probable typo/.test(held.text), 'recipients show their class');
    check(await page.$$eval('table#held img, table#held b', e => e.length) === 0, 'no element was made from the subject');
    await accessible(page, 'the held list');
    await phone(page, 'the held list');

    // 3. one message: findings highlighted in place, labelled with the clause
    await page.click(`tr[data-id="${held.id}"]`);
    await page.waitForSelector('mark.finding');
    const marks = await page.$$eval('mark.finding', ms => ms.map(m => ({ text: m.textContent, title: m.title, rule: m.dataset.rule })));
    check(marks.length >= 1, 'findings are highlighted (' + marks.length + ' marks)');
    check(marks.some(m => m.text.replace(/\s/g, '') === '9434765919'), 'the NHS number is highlighted where it stands');
    check(marks.every(m => m.title.length > 0), 'every highlight carries its policy clause');
    check(await page.$$eval('sup.flabel', s => s.length) >= 1, 'highlights are numbered against the findings list');
    const legend = await page.textContent('#findings');
    check(/confidential/.test(legend) && /"[^"]+"/.test(legend), 'the findings list names the category and quotes the clause');
    const rcpts = await page.textContent('#recipients');
    check(/personal Gmail/.test(rcpts), 'recipient reason: personal Gmail');
    check(/looks like a typo of stannes\.example/.test(rcpts), 'recipient reason: typo of stannes.example');
    await accessible(page, 'a held message');
    await phone(page, 'a held message');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'review-message.png'), fullPage: true });
    console.log('ok - screenshot ' + path.join(ARTIFACTS, 'review-message.png'));

    // 4a. partial release with every box unticked: "ticked only" is off (it would mean
    // nobody), and the server answers 400 to an empty list rather than releasing to all
    for (const box of await page.$$('input.pick')) await box.uncheck();
    check(await page.isDisabled('#release-some'), '"ticked only" is disabled when nothing is ticked');
    const empty = await page.evaluate(async (id) => {
      const s = await (await fetch('/api/session')).json();
      const r = await fetch(`/api/messages/${id}/release`, { method: 'POST', headers: {
        'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: JSON.stringify({ recipients: [] }) });
      return r.status;
    }, held.id);
    check(empty === 400, 'an empty recipients list is a 400 (' + empty + ')');
    await page.check('input.pick >> nth=0');
    check(!(await page.isDisabled('#release-some')), '"ticked only" is enabled again once one box is ticked');

    // 4. release, and the message arrives in the test mailbox through Postfix
    await page.fill('#note', 'Checked with the family: fine to send.');
    await page.click('#release-all');
    await page.waitForSelector('.status.ok');
    check(/Released to/.test(await page.textContent('#result')), 'the page confirms the release');
    const arrived = await waitFor(() => {
      for (const f of fs.existsSync(MAILBOX) ? fs.readdirSync(MAILBOX) : []) {
        if (!f.endsWith('.eml')) continue;
        const t = fs.readFileSync(path.join(MAILBOX, f), 'latin1');
        if (t.includes('X-Policy-Released-By: ') && t.includes(held.id)) return path.join(MAILBOX, f);
      }
      return null;
    }, 'the released message in the mailbox');
    console.log('ok - released message arrived: ' + arrived);
    fs.writeFileSync(path.join(ARTIFACTS, 'released-id.txt'), held.id + '\n' + arrived + '\n');

    // 5. the audit log shows who released it
    await page.goto(URL + '#/audit');
    await page.waitForSelector('table#audit tbody tr');
    const audit = await page.$$eval('table#audit tbody tr', trs => trs.map(tr => [...tr.cells].map(td => td.textContent)));
    check(audit.some(r => r[2] === 'released' && r[1] === process.env.LOGIN && r[3] === held.id && /Checked with the family/.test(r[4])),
      'the audit log records the release with who and why');
    check(audit.some(r => r[2] === 'viewed' && r[3] === held.id), 'the audit log records the view');
    // paging (2 a page here) and the filter by action
    await page.goto(URL + '#/audit?limit=2');
    await page.waitForSelector('#audit-older');
    const page1 = await page.$$eval('table#audit tbody tr', trs => trs.map(tr => tr.textContent));
    await page.click('#audit-older');
    await page.waitForSelector('#audit-newest');
    const page2 = await page.$$eval('table#audit tbody tr', trs => trs.map(tr => tr.textContent));
    check(page1.length === 2 && page2.length >= 1 && !page2.some(r => page1.includes(r)), 'the audit log pages back without overlap');
    await page.selectOption('#a-action', 'released');
    await page.waitForFunction(() => location.hash.includes('action=released'));
    // The filtered page replaces the table: wait for it rather than read the old one.
    const filtered = await page.waitForFunction(() => {
      const sel = document.getElementById('a-action');
      const rows = [...document.querySelectorAll('table#audit tbody tr')];
      return sel && sel.value === 'released' && rows.length > 0 && !document.getElementById('audit-newest') &&
        rows.every(tr => tr.cells[2].textContent === 'released');
    }, null, { timeout: 10000 }).then(() => true, () => false);
    check(filtered, 'the audit log filters by action');
    check(!(await page.textContent('main')).includes('null'), 'no stray "null" on the audit page');
    await accessible(page, 'the audit log');
    await phone(page, 'the audit log');

    // 6. markup and script in a message stay text
    await page.goto(URL + '#/m/' + markup.id);
    await page.waitForSelector('#message-text .segment');
    check(await page.textContent('#subject') === MARKUP_SUBJECT, 'the subject with markup shows as text');
    const body = await page.textContent('#message-text');
    check(body.includes('Pupil list for the club'), 'the HTML body shows as decoded text');
    check(await page.$$eval('main img, main b, main script, main p[onclick]', e => e.length) === 0,
      'no element of the message made it into the page');
    check(await page.evaluate(() => window.__xss === undefined), 'no script of the message ran');
    check(dialogs.length === 0, 'no alert() fired');
    await page.screenshot({ path: path.join(ARTIFACTS, 'review-markup.png'), fullPage: true });

    // 6b. the sender's link (issue 13): from the sender's notice in the mailbox, no account
    const senderUrl = await waitFor(() => {
      for (const f of fs.existsSync(MAILBOX) ? fs.readdirSync(MAILBOX) : []) {
        if (!f.endsWith('.eml')) continue;
        const t = fs.readFileSync(path.join(MAILBOX, f), 'utf8');
        const m = t.match(/(http:\/\/\S+\/sender#(\S+))/);
        if (m && m[2].startsWith(markup.id + '.')) return m[1];
      }
      return null;
    }, "the sender's notice with its link");
    const sender = await context.newPage();
    await sender.goto(senderUrl);
    await sender.waitForSelector('main dl');
    const shown = await sender.textContent('main');
    check(shown.includes(markup.id) && shown.includes('waiting for review'), "the sender's page shows the held message's state");
    check(!shown.includes('null') && !shown.includes('undefined'), 'no stray "null" on the sender\'s page');
    await accessible(sender, "the sender's page");
    await phone(sender, "the sender's page");
    await sender.fill('main textarea', 'A lawful referral: the club asked for the list.');
    await sender.click('main form button[type=submit]');
    await sender.waitForSelector('main p.notice');
    check((await sender.textContent('main')).includes('A lawful referral: the club asked for the list.'),
      "the sender's reason is listed on their page");
    await sender.goto('about:blank');  // a new document: only the #fragment changes
    await sender.goto(senderUrl.replace(/.$/, c => (c === 'a' ? 'b' : 'a')));
    await sender.waitForSelector('main p.notice');
    check((await sender.textContent('main')).includes('not valid'), 'a tampered link is refused');
    await sender.close();
    await page.goto(URL + '#/');  // away and back: the detail page is read again
    await page.waitForSelector('table#held tbody tr');
    await page.goto(URL + '#/m/' + markup.id);
    await page.waitForSelector('#sender-reasons');
    check((await page.textContent('#sender-reasons')).includes('A lawful referral'), 'the reviewer sees the sender\'s reason');

    // 7. the list after the decision
    await page.goto(URL + '#/');
    await page.waitForSelector('table#held tbody tr');
    check(!(await page.textContent('main')).includes('null'), 'no stray "null" above the held list');
    const after = await page.$$eval('table#held tbody tr', trs => trs.map(tr => tr.dataset.id));
    check(!after.includes(held.id), 'the released message left the held list');
    await page.screenshot({ path: path.join(ARTIFACTS, 'review-list.png'), fullPage: true });
    if (cspErrors.length) console.log('note: CSP reports: ' + cspErrors.join(' | '));
    console.log('browser: PASS');
  } finally {
    await context.close();
  }
})().catch(e => { console.error(e.message || e); process.exit(1); });
