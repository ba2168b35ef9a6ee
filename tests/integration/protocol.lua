-- Milter protocol test for policy-milter (run by protocol.sh through miltertest).
-- Covers connect/envfrom/rcpt/header/eoh/body/eom (the steps without a reply included), forged header removal, incoming
-- mail passing untouched, abort mid-message, many messages on one connection and several
-- connections interleaved. Prints "DISCARDS n" for the wrapper, which checks the store.
-- Wrapped in pcall: miltertest exits 1 silently on a Lua error otherwise.
local sock = os.getenv("PM_SOCKET")
local sample = os.getenv("PM_SAMPLE")  -- a corpus .eml

local function check(cond, what)
  if not cond then error(what, 2) end
end
local function ok(r, what)
  check(r == nil, what .. ": " .. tostring(r))
end

local function read_message(path)
  local f = assert(io.open(path, "rb"))
  local raw = f:read("a")
  f:close()
  raw = raw:gsub("\r\n", "\n")
  local head, body = raw:match("^(.-)\n\n(.*)$")
  local headers = {}
  for line in (head .. "\n"):gmatch("(.-)\n") do
    if line:match("^[ \t]") and #headers > 0 then
      headers[#headers][2] = headers[#headers][2] .. "\n" .. line
    else
      local n, v = line:match("^([^:]+):[ \t]*(.*)$")
      if n then headers[#headers + 1] = {n, v} end
    end
  end
  return headers, body:gsub("\n", "\r\n")
end

local function open(ip, auth)
  -- A cold start compiles the rules (10 s on a loaded 2-core machine): wait up to a minute.
  local c = mt.connect(sock, 240, 0.25)
  check(c ~= nil, "cannot connect to " .. sock)
  ok(mt.conninfo(c, "client.stannes.example", ip), "conninfo")
  check(mt.getreply(c) == SMFIR_CONTINUE, "connect")
  -- The filter negotiates HELO away (SMFIP_NOHELO): miltertest refuses to send it then.
  local sent, why = pcall(mt.helo, c, "client.stannes.example")
  check(not sent and tostring(why):match("NOHELO"), "HELO was not negotiated away")
  return c
end

-- One message; returns the eom reply.
local function send(c, from, rcpts, headers, body, auth)
  if auth then
    ok(mt.macro(c, SMFIC_MAIL, "i", "TESTQID", "{auth_authen}", auth), "macro")
  else
    ok(mt.macro(c, SMFIC_MAIL, "i", "TESTQID"), "macro")
  end
  ok(mt.mailfrom(c, from), "mailfrom")
  check(mt.getreply(c) == SMFIR_CONTINUE, "mailfrom reply")
  for _, r in ipairs(rcpts) do
    ok(mt.rcptto(c, r), "rcptto")
    check(mt.getreply(c) == SMFIR_CONTINUE, "rcpt reply")
  end
  for _, h in ipairs(headers) do
    ok(mt.header(c, h[1], h[2]), "header")
    local r = mt.getreply(c)
    if r == SMFIR_ACCEPT then return r end  -- incoming mail: accepted early
    check(r == SMFIR_CONTINUE, "header reply")
  end
  ok(mt.eoh(c), "eoh")
  local r = mt.getreply(c)
  if r == SMFIR_ACCEPT then return r end
  check(r == SMFIR_CONTINUE, "eoh reply")
  -- Several body chunks, as an MTA sends a large message.
  local pos = 1
  while pos <= #body do
    ok(mt.bodystring(c, body:sub(pos, pos + 4999)), "body")
    check(mt.getreply(c) == SMFIR_CONTINUE, "body reply")
    pos = pos + 5000
  end
  ok(mt.eom(c), "eom")
  return mt.getreply(c)
end

local discards = 0
local function test()
  local clean = {{"From", "Ada Teacher <ada@stannes.example>"}, {"To", "ben@stannes.example"},
                 {"Subject", "Rota for next week"}, {"Message-ID", "<rota-1@stannes.example>"}}
  local clean_body = "Hi Ben,\r\nthe rota is on the shared drive.\r\nAda\r\n"

  -- 1. a clean internal message: accepted with X-Policy-Verdict
  local c = open("127.0.0.1")
  local r = send(c, "<ada@stannes.example>", {"<ben@stannes.example>"}, clean, clean_body)
  check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "clean message not accepted: " .. tostring(r))
  check(mt.eom_check(c, MT_HDRADD, "X-Policy-Verdict"), "no X-Policy-Verdict added")
  check(not mt.eom_check(c, MT_HDRADD, "X-Policy-Categories"), "categories on a clean message")
  mt.echo("ok clean message accepted and tagged: " .. tostring(mt.getheader(c, "X-Policy-Verdict", 0)))

  -- 2. forged X-Policy-* headers are deleted
  local forged = {table.unpack(clean)}
  forged[#forged + 1] = {"X-Policy-Verdict", "accept"}
  forged[#forged + 1] = {"X-Policy-Categories", "none"}
  r = send(c, "<ada@stannes.example>", {"<ben@stannes.example>"}, forged, clean_body)
  check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "forged message not accepted")
  check(mt.eom_check(c, MT_HDRDELETE, "X-Policy-Verdict"), "forged X-Policy-Verdict kept")
  check(mt.eom_check(c, MT_HDRDELETE, "X-Policy-Categories"), "forged X-Policy-Categories kept")
  mt.echo("ok forged headers deleted")

  -- 3. abort mid-message, then a full message on the same connection
  ok(mt.mailfrom(c, "<ada@stannes.example>"), "mailfrom")
  check(mt.getreply(c) == SMFIR_CONTINUE, "mailfrom reply")
  ok(mt.rcptto(c, "<ben@stannes.example>"), "rcpt")
  check(mt.getreply(c) == SMFIR_CONTINUE, "rcpt reply")
  ok(mt.header(c, "Subject", "half a message"), "header")
  check(mt.getreply(c) == SMFIR_CONTINUE, "header reply")
  ok(mt.abort(c), "abort")
  r = send(c, "<ada@stannes.example>", {"<ben@stannes.example>"}, clean, clean_body)
  check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "message after abort not accepted")
  mt.echo("ok abort mid-message, next message fine")

  -- 4. many messages on one connection
  for i = 1, 50 do
    r = send(c, "<ada@stannes.example>", {"<ben@stannes.example>", "<cara@stannes.example>"}, clean, clean_body)
    check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "message " .. i .. " on one connection")
  end
  mt.echo("ok 50 messages on one connection")

  -- 5. incoming mail (outside client, not authenticated) passes untouched
  local inc = open("203.0.113.7")
  r = send(inc, "<ada@stannes.example>", {"<ben@stannes.example>"}, clean, clean_body)
  check(r == SMFIR_ACCEPT, "incoming mail not accepted untouched")
  mt.echo("ok incoming mail passes untouched")
  -- ... but authenticated from outside it is outgoing
  r = send(inc, "<ada@stannes.example>", {"<ben@stannes.example>"}, clean, clean_body, "ada")
  check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "authenticated message")
  check(mt.eom_check(inc, MT_HDRADD, "X-Policy-Verdict"), "authenticated mail not filtered")
  mt.echo("ok SASL-authenticated mail is filtered")
  mt.disconnect(inc)

  -- 6. several connections interleaved (libmilter serves each on its own thread)
  local conns = {}
  for i = 1, 8 do conns[i] = open("127.0.0.1") end
  for round = 1, 5 do
    for i = 1, 8 do
      r = send(conns[i], "<ada@stannes.example>", {"<ben@stannes.example>"}, clean, clean_body)
      check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "interleaved connection " .. i)
    end
  end
  for i = 1, 8 do mt.disconnect(conns[i]) end
  mt.echo("ok 8 interleaved connections x 5 messages")

  -- 7. a corpus message: discarded (stored) or accepted with a verdict header
  if sample then
    local h, b = read_message(sample)
    local from = "<ada@stannes.example>"
    r = send(c, from, {"<parent.one@gmail.com>", "<ben@stannes.example>"}, h, b)
    if r == SMFIR_DISCARD then
      discards = discards + 1
      mt.echo("ok sample quarantined (discard)")
    else
      check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "sample: reply " .. tostring(r))
      check(mt.eom_check(c, MT_HDRADD, "X-Policy-Verdict"), "sample delivered without verdict")
      mt.echo("ok sample delivered: " .. tostring(mt.getheader(c, "X-Policy-Verdict", 0)))
    end
  end
  mt.disconnect(c)
end

local good, err = pcall(test)
print("DISCARDS " .. discards)
if not good then
  print("FAIL: " .. tostring(err))
  os.exit(1)
end
print("PASS")
