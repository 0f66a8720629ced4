#!/usr/bin/env python3
"""Issue 11 measurements against a running ascolto: N parallel sign-ins, or N parallel downloads."""
import hashlib, re, sys, threading, urllib.request, urllib.parse, http.cookiejar

base = sys.argv[2]

def client():
    jar = http.cookiejar.CookieJar()
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k): return None
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())

def sign_in(email, password):
    c = client()
    page = c.open(base + "/accedi").read().decode()
    token = re.search(r'name="_csrf" value="([0-9a-f]+)"', page).group(1)
    data = urllib.parse.urlencode({"_csrf": token, "email": email, "password": password}).encode()
    req = urllib.request.Request(base + "/accedi", data=data, headers={"Origin": base})
    try:
        r = c.open(req); return c, r.status
    except urllib.error.HTTPError as e:
        return c, e.code

def parallel(n, f):
    out = [None] * n
    barrier = threading.Barrier(n)
    def run(i):
        barrier.wait(); out[i] = f(i)
    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    [t.start() for t in ts]; [t.join() for t in ts]
    return out

if sys.argv[1] == "signin":
    n = int(sys.argv[3])
    statuses = parallel(n, lambda i: sign_in(f"nessuno{i}@hospital.test", "sbagliata")[1])
    print({s: statuses.count(s) for s in set(statuses)})
elif sys.argv[1] == "account":
    n = int(sys.argv[3])
    statuses = parallel(n, lambda i: sign_in("operator@hospital.test", f"sbagliata{i}")[1])
    print({s: statuses.count(s) for s in set(statuses)})
elif sys.argv[1] == "download":
    n, expected = int(sys.argv[3]), sys.argv[4]
    c, status = sign_in("operator@hospital.test", "una-password-lunga")
    assert status == 303, status
    number = sys.argv[5]
    page = c.open(f"{base}/reclami/{number}").read().decode()
    link = re.search(r'href="(/reclami/[^"]+/allegati/\d+)"', page).group(1)
    def get(i):
        body = c.open(base + link).read()
        return len(body), hashlib.sha256(body).hexdigest()
    got = parallel(n, get)
    print([(l, h == expected) for l, h in got])
