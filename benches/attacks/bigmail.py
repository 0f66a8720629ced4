#!/usr/bin/env python3
# Writes a complaint with a 50 MiB attachment (random bytes) to argv[1]; prints its SHA-256.
import base64, hashlib, os, sys
payload = os.urandom(50 * 1024 * 1024)
b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
head = (b"From: Mario Rossi <mario@example.test>\r\nTo: urp@hospital.test\r\nSubject: Cartella\r\n"
        b"Message-ID: <grande@example.test>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nIn allegato.\r\n"
        b"--b\r\nContent-Type: application/octet-stream; name=\"c.bin\"\r\nContent-Disposition: attachment; filename=\"c.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n")
open(sys.argv[1], "wb").write(head + b64 + b"--b--\r\n")
print(hashlib.sha256(payload).hexdigest())
