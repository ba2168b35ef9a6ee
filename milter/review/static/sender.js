// The sender's page for one held message (issue 13). The signed token comes from the
// link's #fragment and goes to the API in a header only. Message content is put into the
// document as text, never as HTML.
"use strict";
(function () {
  const token = decodeURIComponent(location.hash.replace(/^#/, ""));
  const app = document.getElementById("app");

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function when(t) { return new Date(t * 1000).toLocaleString(); }

  async function call(method, path, body) {
    const opts = { method, headers: { "X-Sender-Token": token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    const j = await r.json().catch(() => ({ error: "unexpected answer" }));
    if (!r.ok) throw new Error(j.error || ("error " + r.status));
    return j;
  }

  const states = {
    held: "waiting for review",
    released: "released and delivered",
    refused: "not sent (refused)",
    withdrawn: "withdrawn by you",
    deleted: "removed from the quarantine",
  };

  function show(m, note) {
    app.replaceChildren();
    if (note) app.append(el("p", note, "notice"));
    app.append(el("h1", "Your message of " + when(m.received)));
    const dl = el("dl");
    const row = (k, v) => { dl.append(el("dt", k), el("dd", v)); };
    row("Reference", m.id);
    row("State", states[m.state] || m.state);
    if (m.subject) row("Subject", m.subject);
    row("Recipients", m.recipients.map((r) => r.address + " (" + (states[r.state] || r.state) + ")").join(", "));
    app.append(dl);
    if (m.clauses.length) {
      app.append(el("p", "It appears to go against the policy:"));
      const ul = el("ul");
      for (const c of m.clauses) ul.append(el("li", "\u201c" + c + "\u201d"));
      app.append(ul);
    }
    if (m.reasons.length) {
      app.append(el("h2", "Your reasons for the reviewer"));
      const ul = el("ul");
      for (const r of m.reasons) ul.append(el("li", when(r.at) + ": " + r.reason));
      app.append(ul);
    }
    if (m.state !== "held") return;
    app.append(el("p", "The decision is " + m.reviewer_title + "'s. You may add a reason for them, or withdraw the message (it is then deleted and never sent)."));
    const form = el("form");
    const ta = el("textarea");
    ta.name = "reason";
    ta.maxLength = 1000;
    ta.rows = 4;
    ta.placeholder = "e.g. a lawful referral the local authority asked for";
    const add = el("button", "Add this reason");
    add.type = "submit";
    form.append(ta, add);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { show(await call("POST", "/api/sender/reason", { reason: ta.value }), "Your reason was added."); }
      catch (e) { show(m, e.message); }
    });
    const wd = el("button", "Withdraw the message");
    wd.type = "button";
    wd.addEventListener("click", async () => {
      if (!confirm("Withdraw it? It will be deleted and not sent.")) return;
      try { show(await call("POST", "/api/sender/withdraw", {}), "Your message was withdrawn."); }
      catch (e) { show(m, e.message); }
    });
    if (m.can_act) app.append(form);
    app.append(wd);
  }

  call("GET", "/api/sender").then((m) => show(m), (e) => {
    app.replaceChildren(el("p", e.message, "notice"));
  });
})();
