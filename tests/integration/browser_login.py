#!/usr/bin/env python3
"""Signs in to the web view as a person would, in headless Chromium.

Usage: browser_login.py CHROMIUM URL TOKEN PROFILE_DIR

Starts Chromium with --remote-debugging-pipe (the DevTools protocol as
NUL-separated JSON on file descriptors 3 and 4: no port, no extra
package), opens URL, types a wrong token and expects "refused", then
types TOKEN, submits, and waits (real time, at most 20 s) for the cluster
networks table.  Prints one line per step ("refused ok", "rows N",
"stored ok") and exits 1 at the first that fails."""
import json
import os
import subprocess
import sys
import time

chromium, url, token, profile = sys.argv[1:5]
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()


def child_fds():
    # Runs in the child before the fds not in pass_fds are closed.
    os.dup2(to_chrome_r, 3)
    os.dup2(from_chrome_w, 4)


proc = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
     "--disable-background-networking", "--disable-component-update", "--disable-sync",
     "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"],
    preexec_fn=child_fds, pass_fds=(3, 4, to_chrome_r, from_chrome_w),
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r)
os.close(from_chrome_w)
out = os.fdopen(to_chrome_w, "wb")
inp = os.fdopen(from_chrome_r, "rb")
buffer = b""
next_id = 0


def call(method, params=None, session=None):
    global buffer, next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    out.write(json.dumps(msg).encode() + b"\0")
    out.flush()
    while True:
        while b"\0" not in buffer:
            chunk = inp.read1(65536)
            if not chunk:
                raise SystemExit("chromium closed the pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                raise SystemExit("%s: %s" % (method, reply["error"]))
            return reply["result"]


def evaluate(session, expression):
    r = call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    return r["result"].get("value")


def wait_for(session, expression, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        value = evaluate(session, expression)
        if value:
            return value
        time.sleep(0.2)
    return None


def sign_in(session, value):
    evaluate(session, "document.getElementById('token').value = %s;"
             "document.getElementById('login-form').requestSubmit(); true" % json.dumps(value))


try:
    target = call("Target.createTarget", {"url": url})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    if not wait_for(session, "!document.getElementById('login').hidden"):
        raise SystemExit("the page did not ask for a token")
    sign_in(session, "x" * 32)
    if not wait_for(session, "document.getElementById('login-error').textContent.includes('refused')"):
        raise SystemExit("a wrong token was not refused")
    print("refused ok")
    sign_in(session, token)
    n = wait_for(session, "document.querySelectorAll('#networks tr.row').length")
    if not n:
        raise SystemExit("no cluster network row after signing in")
    print("rows %d" % n)
    if evaluate(session, "sessionStorage.getItem('lmnet-token')") != token:
        raise SystemExit("the token is not in sessionStorage")
    if evaluate(session, "document.cookie") != "":
        raise SystemExit("a cookie was set")
    print("stored ok")
    evaluate(session, "document.getElementById('logout').click(); true")
    if not wait_for(session, "!document.getElementById('login').hidden && "
                             "sessionStorage.getItem('lmnet-token') === null"):
        raise SystemExit("forgetting the token did not sign out")
    print("forgot ok")
finally:
    try:
        call("Browser.close")
    except SystemExit:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
