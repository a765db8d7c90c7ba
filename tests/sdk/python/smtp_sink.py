"""An SMTP server for the alert email tests: `smtp_sink.py PORT DIR`.

Accepts every message on 127.0.0.1:PORT and writes it to DIR as one JSON file (envelope
sender and recipients, the headers the tests read, the decoded text and HTML bodies, and
the raw message). A file appears whole or not at all. Exits when its standard input
closes, which happens when the test that started it ends, however it ends.
"""

import email
import email.policy
import json
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)

        def body(kind):
            part = message.get_body(preferencelist=(kind,))
            return part.get_content() if part is not None else None

        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {k.lower(): str(v) for k, v in message.items()},
            "text": body("plain"),
            "html": body("html"),
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        name = "%04d.json" % self.count
        tmp = os.path.join(self.out, "." + name)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, name))
        return "250 Message accepted"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
