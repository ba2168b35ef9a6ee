#!/usr/bin/env python3
"""A loopback SMTP server that stands in for the recipients' mailboxes.

Every message Postfix relays to it is written to OUTDIR/NNNNNN.eml, and one JSON line per
message (file, envelope sender, recipients) is appended to OUTDIR/index.jsonl.
Usage: mailsink.py PORT OUTDIR   (runs until killed)
"""
import asyncio
import json
import os
import sys


class Session:
    def __init__(self, outdir, counter):
        self.outdir, self.counter = outdir, counter
        self.reset()

    def reset(self):
        self.mail_from, self.rcpts = None, []


async def handle(reader, writer, outdir, counter):
    s = Session(outdir, counter)

    async def say(line):
        writer.write((line + "\r\n").encode())
        await writer.drain()

    await say("220 sink.test ESMTP")
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.decode("latin-1").rstrip("\r\n")
        up = cmd.upper()
        if up.startswith("EHLO"):
            await say("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 209715200")
        elif up.startswith("HELO"):
            await say("250 sink.test")
        elif up.startswith("MAIL FROM:"):
            s.reset()
            s.mail_from = cmd[10:].split()[0].strip("<>") if cmd[10:].strip() else ""
            await say("250 ok")
        elif up.startswith("RCPT TO:"):
            s.rcpts.append(cmd[8:].split()[0].strip("<>"))
            await say("250 ok")
        elif up == "DATA":
            await say("354 go ahead")
            chunks = []
            while True:
                l = await reader.readline()
                if not l or l in (b".\r\n", b".\n"):
                    break
                if l.startswith(b".."):
                    l = l[1:]
                chunks.append(l)
            counter[0] += 1
            name = "%06d.eml" % counter[0]
            with open(os.path.join(outdir, name), "wb") as f:
                f.write(b"".join(chunks))
            with open(os.path.join(outdir, "index.jsonl"), "a") as f:
                f.write(json.dumps({"file": name, "from": s.mail_from, "rcpts": s.rcpts}) + "\n")
            s.reset()
            await say("250 ok queued as sink-%d" % counter[0])
        elif up == "RSET":
            s.reset()
            await say("250 ok")
        elif up == "QUIT":
            await say("221 bye")
            break
        else:
            await say("250 ok")
    writer.close()


async def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    counter = [len([n for n in os.listdir(outdir) if n.endswith(".eml")])]
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, outdir, counter), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
